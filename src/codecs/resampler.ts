/**
 * Streaming band-limited resampler for every pair of 8, 16, 24 and 48 kHz: a polyphase FIR
 * whose prototype is a Kaiser-windowed sinc. Hand-written because the npm resamplers are either
 * native addons (libsamplerate/speex bindings, which need a toolchain and bring their own
 * framing) or linear/cubic interpolators that alias; this one keeps ≥ 70 dB out of band and is
 * exact for the rational ratios telephony uses.
 *
 * Design: passband 0 … 0.45·f_low, stopband from 0.55·f_low (f_low the lower of the two rates),
 * 80 dB Kaiser design. Aliases of the 0.5 … 0.55·f_low band fold to 0.45 … 0.5·f_low, outside
 * the passband. State (the last K−1 input samples and the output phase) is kept across calls, so
 * 20 ms frames join without a click.
 */

const RATES = [8000, 16000, 24000, 48000] as const;
export type SampleRate = (typeof RATES)[number];

const ATTENUATION_DB = 80;
const PASS_EDGE = 0.45;
const STOP_EDGE = 0.55;

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : a;
}

/** Modified Bessel function of the first kind, order 0 (series; converges fast for β ≤ 10). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/** Taps of the prototype low-pass at the upsampled rate, arranged phase by phase. */
function designPolyphase(up: number, down: number, inRate: number, outRate: number) {
  const upRate = inRate * up;
  const low = Math.min(inRate, outRate);
  const transition = ((STOP_EDGE - PASS_EDGE) * low) / upRate; // cycles per sample
  const cutoff = (0.5 * (PASS_EDGE + STOP_EDGE) * low) / upRate;
  const beta = 0.1102 * (ATTENUATION_DB - 8.7);
  // An odd length puts the centre on a tap, so a half-band design gets its exact zeros.
  const designLength = (Math.ceil((ATTENUATION_DB - 7.95) / (14.36 * transition)) + 1) | 1;
  const perPhase = Math.ceil(designLength / up);
  const length = perPhase * up; // padded with zero taps to whole phases
  const centre = (designLength - 1) / 2;
  const i0Beta = besselI0(beta);
  const taps = new Float64Array(length);
  for (let n = 0; n < designLength; n++) {
    const x = n - centre;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const r = (2 * n) / (designLength - 1) - 1;
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    taps[n] = sinc * window * up; // gain `up` makes up for the zeros stuffed between samples
  }
  // Phase-major, zero taps left out: a half-band design (2:1) has every other tap at zero, so
  // the phase holding the centre is nearly a pure delay. Phase p's taps are h[p + j·up].
  const peak = Math.max(...taps.map(Math.abs));
  const offsets: number[] = [];
  const coeffs: number[] = [];
  const starts = new Int32Array(up + 1);
  for (let p = 0; p < up; p++) {
    starts[p] = coeffs.length;
    for (let j = 0; j < perPhase; j++) {
      const h = taps[p + j * up];
      if (Math.abs(h) > peak * 1e-9) {
        offsets.push(j);
        coeffs.push(h);
      }
    }
  }
  starts[up] = coeffs.length;
  return {
    offsets: Int32Array.from(offsets),
    coeffs: Float64Array.from(coeffs),
    starts,
    perPhase,
  };
}

export class Resampler {
  private readonly up: number;
  private readonly down: number;
  private readonly offsets: Int32Array;
  private readonly coeffs: Float64Array;
  private readonly starts: Int32Array;
  private readonly perPhase: number;
  private buffer: Float64Array;
  /** Position of the next output sample, in upsampled samples from the current frame's start. */
  private position = 0;

  constructor(
    readonly inRate: SampleRate,
    readonly outRate: SampleRate,
  ) {
    if (!RATES.includes(inRate) || !RATES.includes(outRate)) {
      throw new Error(`unsupported resampling ${inRate} → ${outRate}`);
    }
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    const design = designPolyphase(this.up, this.down, inRate, outRate);
    this.offsets = design.offsets;
    this.coeffs = design.coeffs;
    this.starts = design.starts;
    this.perPhase = design.perPhase;
    this.buffer = new Float64Array(this.perPhase - 1 + 960);
  }

  /** Non-zero filter taps per output sample on average: its cost in multiply-adds. */
  get tapsPerOutput(): number {
    return this.coeffs.length / this.up;
  }

  /** Output samples for `inputLength` input samples in the steady state. */
  outputLength(inputLength: number): number {
    return Math.floor((inputLength * this.up) / this.down);
  }

  /** Resamples one frame; `output` must hold outputLength(input.length) samples. */
  process(input: Int16Array, output = new Int16Array(this.outputLength(input.length))): Int16Array {
    const history = this.perPhase - 1;
    if (this.buffer.length < history + input.length) {
      const grown = new Float64Array(history + input.length);
      grown.set(this.buffer.subarray(0, history));
      this.buffer = grown;
    }
    const buf = this.buffer;
    for (let i = 0; i < input.length; i++) buf[history + i] = input[i];
    const { up, down, offsets, coeffs, starts } = this;
    const end = input.length * up;
    let t = this.position;
    let k = 0;
    while (t < end && k < output.length) {
      const i = (t / up) | 0;
      const phase = t - i * up;
      const at = history + i;
      let acc = 0;
      for (let m = starts[phase], stop = starts[phase + 1]; m < stop; m++) {
        acc += coeffs[m] * buf[at - offsets[m]];
      }
      output[k++] = acc > 32767 ? 32767 : acc < -32768 ? -32768 : Math.round(acc);
      t += down;
    }
    this.position = t - end;
    buf.copyWithin(0, input.length, input.length + history);
    return k === output.length ? output : output.subarray(0, k);
  }
}
