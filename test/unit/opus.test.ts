/** Opus through libopus: a tone survives the round trip, and a lost frame is concealed. */
import { describe, expect, it } from 'vitest';
import { createCodec, describeCodec } from '../../src/codecs/codec.js';
import { dominantFrequency } from '../helpers/audio.js';

const RATE = 24000;
const FRAME = RATE / 50;

function toneFrame(index: number, frequency = 600): Int16Array {
  return Int16Array.from({ length: FRAME }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * frequency * (index * FRAME + i)) / RATE)),
  );
}

const rms = (pcm: Int16Array) => Math.sqrt(pcm.reduce((sum, v) => sum + v * v, 0) / pcm.length);

function opus() {
  return createCodec(describeCodec('opus', 48000, 2, RATE)!);
}

describe('Opus', () => {
  it('keeps a tone at the link rate, one 20 ms frame per packet', () => {
    const codec = opus();
    const packet = Buffer.alloc(codec.maxPayloadBytes);
    const pcm = new Int16Array(FRAME * 6);
    let last = new Int16Array(0);
    for (let f = 0; f < 20; f++) {
      const size = codec.encode(toneFrame(f), packet);
      expect(codec.decode(packet.subarray(0, size), pcm)).toBe(FRAME);
      last = pcm.slice(0, FRAME);
    }
    expect(Math.abs(dominantFrequency(last, RATE) - 600)).toBeLessThanOrEqual(10);
  });

  it('conceals a lost frame with the codec’s PLC: 20 ms that continue the tone', () => {
    const codec = opus();
    const packet = Buffer.alloc(codec.maxPayloadBytes);
    const pcm = new Int16Array(FRAME * 6);
    let heard = 0;
    for (let f = 0; f < 20; f++) {
      codec.decode(packet.subarray(0, codec.encode(toneFrame(f), packet)), pcm);
      heard = rms(pcm.subarray(0, FRAME));
    }
    const concealed = new Int16Array(FRAME * 6);
    expect(codec.conceal!(concealed)).toBe(FRAME);
    const frame = concealed.subarray(0, FRAME);
    expect(rms(frame)).toBeGreaterThan(heard / 4);
    expect(Math.abs(dominantFrequency(frame, RATE) - 600)).toBeLessThanOrEqual(20);
    // Decoding goes on normally after the gap.
    const size = codec.encode(toneFrame(21), packet);
    expect(codec.decode(packet.subarray(0, size), pcm)).toBe(FRAME);
  });

  it('conceals nothing before the first packet and survives a corrupt one', () => {
    const codec = opus();
    const pcm = new Int16Array(FRAME * 6);
    expect(codec.conceal!(pcm)).toBe(0);
    expect(codec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), pcm)).toBe(0);
  });
});
