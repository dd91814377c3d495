/** G.722 encode → decode keeps tones across the 50–7000 Hz band, with the SNR G.722 gives. */
import { describe, expect, it } from 'vitest';
import { G722Decoder, G722Encoder } from '../../src/codecs/g722.js';
import { dominantFrequency } from '../helpers/audio.js';

/** One second of a tone through a fresh encoder/decoder pair in 20 ms frames. */
function roundTrip(frequency: number): { input: Int16Array; output: Int16Array } {
  const encoder = new G722Encoder();
  const decoder = new G722Decoder();
  const input = new Int16Array(16000);
  for (let i = 0; i < input.length; i++) {
    input[i] = Math.round(10000 * Math.sin((2 * Math.PI * frequency * i) / 16000));
  }
  const output = new Int16Array(input.length);
  const bytes = new Uint8Array(160);
  for (let at = 0; at < input.length; at += 320) {
    expect(encoder.encode(input.subarray(at, at + 320), bytes)).toBe(160);
    expect(decoder.decode(bytes, output.subarray(at, at + 320))).toBe(320);
  }
  return { input, output };
}

/** SNR after the codec's fixed delay (22 samples of QMF at 16 kHz). */
function snr(input: Int16Array, output: Int16Array, delay = 22): number {
  let signal = 0;
  let noise = 0;
  for (let i = 4000; i < input.length - delay; i++) {
    signal += input[i] ** 2;
    noise += (output[i + delay] - input[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

describe('G.722', () => {
  it.each([
    [300, 50],
    [1000, 40],
    [7000, 18],
  ])('a %i Hz tone comes back at its frequency, SNR above %i dB', (frequency, minimum) => {
    const { input, output } = roundTrip(frequency);
    expect(snr(input, output)).toBeGreaterThan(minimum);
    const frame = output.subarray(8000, 8320);
    expect(Math.abs(dominantFrequency(frame, 16000) - frequency)).toBeLessThanOrEqual(10);
  });

  it('keeps 5 kHz and 6 kHz, which narrowband codecs cannot carry', () => {
    for (const f of [5000, 6000]) {
      const frame = roundTrip(f).output.subarray(8000, 8320);
      expect(Math.abs(dominantFrequency(frame, 16000) - f)).toBeLessThanOrEqual(10);
    }
  });
});
