/** G.722 encode → decode keeps tones across the 50–7000 Hz band, with the SNR G.722 gives. */
import { describe, expect, it } from 'vitest';
import { G722Decoder, G722Encoder, g722MemoryBytes } from '../../src/codecs/g722.js';
import { dominantFrequency } from '../helpers/audio.js';
import { ReferenceG722Decoder, ReferenceG722Encoder } from '../helpers/g722-reference.js';

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

/** A deterministic mix of tones, noise and clipping, so every quantizer level is reached. */
function hostile(samples: number, seed: number): Int16Array {
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const tone = 20000 * Math.sin(i / 3) + 9000 * Math.sin(i / 0.7);
    const v = tone * (i % 4000 < 2000 ? 1 : 0.01) + 12000 * random();
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

describe('G.722 in WebAssembly', () => {
  it('codes bit for bit as the TypeScript reference, frame after frame, any frame length', () => {
    const input = hostile(16000 * 3, 7);
    const encoder = new G722Encoder();
    const decoder = new G722Decoder();
    const refEncoder = new ReferenceG722Encoder();
    const refDecoder = new ReferenceG722Decoder();
    // 20 ms frames, then odd lengths, then one longer than the kernel's 60 ms piece.
    const lengths = [320, 320, 160, 2, 640, 1000, 2400, 320];
    let at = 0;
    for (let k = 0; at < input.length; k++) {
      const frame = input.subarray(at, Math.min(input.length, at + lengths[k % lengths.length]));
      at += frame.length;
      const codes = new Uint8Array(frame.length / 2);
      const refCodes = new Uint8Array(frame.length / 2);
      expect(encoder.encode(frame, codes)).toBe(refEncoder.encode(frame, refCodes));
      expect(Buffer.compare(codes, refCodes)).toBe(0);
      const pcm = new Int16Array(frame.length);
      const refPcm = new Int16Array(frame.length);
      expect(decoder.decode(codes, pcm)).toBe(refDecoder.decode(refCodes, refPcm));
      expect(Buffer.compare(Buffer.from(pcm.buffer), Buffer.from(refPcm.buffer))).toBe(0);
    }
    encoder.close();
    decoder.close();
  });

  it('keeps each coder its own state, many at once, and reuses the slots of closed ones', () => {
    const input = hostile(3200, 11);
    const coders = Array.from({ length: 300 }, () => new G722Encoder());
    const grown = g722MemoryBytes();
    expect(grown).toBeGreaterThan(65536); // 300 slots of 512 bytes need a second page
    const reference = new ReferenceG722Encoder();
    const expected = new Uint8Array(160);
    const got = new Uint8Array(160);
    for (let at = 0; at < input.length; at += 320) {
      reference.encode(input.subarray(at, at + 320), expected);
      // Interleaved: each coder's frames are coded between the others'.
      for (const coder of coders) {
        coder.encode(input.subarray(at, at + 320), got);
        expect(Buffer.compare(got, expected)).toBe(0);
      }
    }
    for (const coder of coders) coder.close();
    for (let i = 0; i < 300; i++) new G722Encoder().close();
    expect(g722MemoryBytes()).toBe(grown);
  });
});
