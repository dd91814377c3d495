/**
 * Resampler quality for every pair of 8/16/24/48 kHz, measured: tones keep their frequency and
 * level across the passband, energy beyond the stopband edge is rejected by ≥ 70 dB (aliases
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

  it('rejects what lies beyond the stopband by at least 70 dB', () => {
    if (from > to) {
      // Going down: tones above 0.55·f_low must not alias into the output.
      for (const share of [0.56, 0.7, 0.9]) {
        const f = Math.round((share * from) / 2);
        if (f < 0.55 * low) continue;
        const out = run(from, to, f);
        let energy = 0;
        for (const v of out) energy += v * v;
        const rms = Math.sqrt(energy / out.length);
        expect(db(rms / (AMPLITUDE / Math.SQRT2))).toBeLessThan(-70);
      }
    } else {
      // Going up: a passband tone's images (from − f, from + f …) must be gone.
      const f = Math.round(0.3 * low);
      const out = run(from, to, f);
      for (let image = from - f; image < to / 2; image += from) {
        expect(db(amplitudeAt(out, image, to) / AMPLITUDE)).toBeLessThan(-70);
        if (image + 2 * f < to / 2) {
          expect(db(amplitudeAt(out, image + 2 * f, to) / AMPLITUDE)).toBeLessThan(-70);
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
