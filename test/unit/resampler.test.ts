/**
 * Resampler quality for every pair of 8/16/24/48 kHz, measured: tones keep their frequency and
 * level across the passband, energy beyond the stopband edge is rejected by ≥ 72 dB (aliases
 * when going down, images when going up), and 20 ms frames join without a click.
 */
import { describe, expect, it } from 'vitest';
import { Resampler, type SampleRate } from '../../src/codecs/resampler.js';
import { dominantFrequency } from '../helpers/audio.js';

const RATES: SampleRate[] = [8000, 16000, 24000, 48000];
const PAIRS = RATES.flatMap((a) => RATES.filter((b) => b !== a).map((b) => [a, b] as const));
const AMPLITUDE = 16000;

/** `seconds` of a sine at `rate`, cut into 20 ms frames, through a fresh resampler. */
function run(from: SampleRate, to: SampleRate, frequency: number, seconds = 0.6): Float64Array {
  const r = new Resampler(from, to);
  const frame = from / 50;
  const out: number[] = [];
  let n = 0;
  for (let f = 0; f < seconds * 50; f++) {
    const input = new Int16Array(frame);
    for (let i = 0; i < frame; i++, n++) {
      input[i] = Math.round(AMPLITUDE * Math.sin((2 * Math.PI * frequency * n) / from));
    }
    out.push(...r.process(input));
  }
  return Float64Array.from(out.slice(Math.round(to * 0.1))); // past the filter's delay
}

/** Amplitude of `frequency` in `x`, through a Blackman-Harris window (side lobes < −92 dB). */
function amplitudeAt(x: Float64Array, frequency: number, rate: number): number {
  const n = x.length;
  let re = 0;
  let im = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / (n - 1);
    const w =
      0.35875 - 0.48829 * Math.cos(a) + 0.14128 * Math.cos(2 * a) - 0.01168 * Math.cos(3 * a);
    const phase = (2 * Math.PI * frequency * i) / rate;
    re += x[i] * w * Math.cos(phase);
    im += x[i] * w * Math.sin(phase);
    sum += w;
  }
  return (2 * Math.hypot(re, im)) / sum;
}

const db = (ratio: number) => 20 * Math.log10(ratio);

describe.each(PAIRS)('resampling %i → %i Hz', (from, to) => {
  const low = Math.min(from, to);

  it('keeps a tone’s frequency and level across the passband (ripple < 0.1 dB)', () => {
    for (const share of [0.05, 0.2, 0.35, 0.45]) {
      const f = Math.round(share * low);
      const out = run(from, to, f);
      expect(Math.abs(db(amplitudeAt(out, f, to) / AMPLITUDE))).toBeLessThan(0.1);
    }
    const tone = Math.round(0.3 * low);
    expect(
      Math.abs(dominantFrequency(run(from, to, tone).subarray(0, to / 50), to) - tone),
    ).toBeLessThanOrEqual(10);
  });

  it('rejects what lies beyond the stopband by at least 72 dB', () => {
    if (from > to) {
      // Going down: tones above 0.55·f_low must not alias into the output.
      for (const share of [0.56, 0.7, 0.9]) {
        const f = Math.round((share * from) / 2);
        if (f < 0.55 * low) continue;
        const out = run(from, to, f);
        let energy = 0;
        for (const v of out) energy += v * v;
        const rms = Math.sqrt(energy / out.length);
        expect(db(rms / (AMPLITUDE / Math.SQRT2))).toBeLessThan(-72);
      }
    } else {
      // Going up: a passband tone's images (from − f, from + f …) must be gone.
      const f = Math.round(0.3 * low);
      const out = run(from, to, f);
      for (let image = from - f; image < to / 2; image += from) {
        expect(db(amplitudeAt(out, image, to) / AMPLITUDE)).toBeLessThan(-72);
        if (image + 2 * f < to / 2) {
          expect(db(amplitudeAt(out, image + 2 * f, to) / AMPLITUDE)).toBeLessThan(-72);
        }
      }
    }
  });

  it('joins 20 ms frames without a discontinuity', () => {
    const out = run(from, to, 440, 0.4);
    const frame = to / 50;
    let inside = 0;
    let edges = 0;
    for (let i = 1; i < out.length; i++) {
      const step = Math.abs(out[i] - out[i - 1]);
      if (i % frame === 0) edges = Math.max(edges, step);
      else inside = Math.max(inside, step);
    }
    expect(edges).toBeLessThanOrEqual(inside * 1.01 + 2);
  });
});

describe('resampler framing', () => {
  /** A deterministic noisy signal, so every tap matters. */
  function signal(length: number): Int16Array {
    let seed = 12345;
    return Int16Array.from({ length }, () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed % 40000) - 20000;
    });
  }

  it.each(PAIRS)('%i → %i Hz gives the same samples for any cut of the input', (from, to) => {
    const input = signal(from / 5); // 200 ms
    const whole = new Resampler(from, to);
    const expected = [
      ...whole.process(input.subarray(0, 2000 > input.length ? input.length : 2000)),
    ];
    expected.push(...whole.process(input.subarray(Math.min(2000, input.length))));
    const pieces = new Resampler(from, to);
    const got: number[] = [];
    // Odd sizes, sizes short of a decimator's group, and one longer than a kernel chunk.
    const cuts = [1, 7, 37, 101, 2, 1203, 3];
    for (let at = 0, c = 0; at < input.length; c++) {
      const size = cuts[c % cuts.length];
      got.push(...pieces.process(input.subarray(at, at + size)));
      at += size;
    }
    // A decimator may still hold up to down − 1 samples back; everything it gave must match.
    expect(got.length).toBeGreaterThanOrEqual(expected.length - Math.ceil(from / to));
    expect(got).toEqual(expected.slice(0, got.length));
  });

  it('the generated WebAssembly module matches its source (npm run wasm)', async () => {
    const { generatedModules } = await import('../../scripts/build-wasm.js');
    const { readFileSync } = await import('node:fs');
    for (const [path, text] of await generatedModules()) {
      expect(readFileSync(path, 'utf8'), `${path} is stale: run npm run wasm`).toBe(text);
    }
  });
});
