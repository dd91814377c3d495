/**
 * Opus through libopus: a tone survives the round trip, and a lost frame is rebuilt from the
 * next packet's in-band FEC (a peer's) or concealed.
 */
import { describe, expect, it } from 'vitest';
import { createCodec, describeCodec, type Codec } from '../../src/codecs/codec.js';
import { MediaChain } from '../../src/call/media-chain.js';
import { dominantFrequency, snrDb, voicedSpeech } from '../helpers/audio.js';
import { peerOpusPackets } from '../helpers/opus-peer.js';

const RATE = 24000;
const FRAME = RATE / 50;

function toneFrame(index: number, frequency = 600): Int16Array {
  return Int16Array.from({ length: FRAME }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * frequency * (index * FRAME + i)) / RATE)),
  );
}

/** Decodes `packets`, each fifth one from the third lost and handled by `onLoss`. */
function decodeWithLoss(
  packets: Buffer[],
  onLoss?: (codec: Codec, next: Buffer, pcm: Int16Array) => number,
) {
  const codec = opus();
  const frames = packets.map((packet, n) => {
    const pcm = new Int16Array(FRAME * 6);
    const lost = onLoss && n % 5 === 2 && n + 1 < packets.length;
    expect(lost ? onLoss(codec, packets[n + 1], pcm) : codec.decode(packet, pcm)).toBe(FRAME);
    return pcm.slice(0, FRAME);
  });
  codec.close?.();
  return frames;
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

  it('conceals nothing before the first packet, and survives a corrupt or empty one', () => {
    const codec = opus();
    const pcm = new Int16Array(FRAME * 6);
    expect(codec.conceal!(pcm)).toBe(0);
    expect(codec.recover!(Buffer.from([0x48, 1, 2]), pcm)).toBe(0);
    expect(codec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), pcm)).toBe(0);
    // An empty payload is nothing, not 120 ms of concealment.
    const [packet] = peerOpusPackets(RATE, 1);
    expect(codec.decode(packet, pcm)).toBe(FRAME);
    expect(codec.decode(Buffer.alloc(0), pcm)).toBe(0);
    expect(codec.recover!(Buffer.alloc(0), pcm)).toBe(FRAME);
  });

  it('sends CELT frames: FEC-carrying SILK and hybrid ones would cost 2–3× the encoding', () => {
    const codec = opus();
    const packet = Buffer.alloc(codec.maxPayloadBytes);
    for (const pcm of voicedSpeech(RATE, 20)) {
      codec.encode(pcm, packet);
      expect(packet[0] >> 3).toBeGreaterThanOrEqual(16); // TOC configurations 16–31 (RFC 6716 §3.1)
    }
  });

  it('rebuilds a lost frame from the next packet’s FEC, closer to what was sent than PLC', () => {
    const packets = peerOpusPackets(RATE, 100);
    const clean = decodeWithLoss(packets);
    const recovered = decodeWithLoss(packets, (codec, next, pcm) => codec.recover!(next, pcm));
    const concealed = decodeWithLoss(packets, (codec, _next, pcm) => codec.conceal!(pcm));
    const lost = clean.flatMap((_, n) => (n % 5 === 2 && n + 1 < clean.length ? [n] : []));
    const mean = (frames: Int16Array[]) =>
      lost.reduce((sum, n) => sum + snrDb(frames[n], clean[n]), 0) / lost.length;
    expect(mean(recovered)).toBeGreaterThan(mean(concealed) + 5);
    expect(mean(recovered)).toBeGreaterThan(10);
  });

  it('frees its decoder on close, and decodes nothing after', () => {
    const [packet] = peerOpusPackets(RATE, 1);
    const codec = opus();
    const pcm = new Int16Array(FRAME * 6);
    expect(codec.decode(packet, pcm)).toBe(FRAME);
    codec.close!();
    codec.close!();
    expect(codec.decode(packet, pcm)).toBe(0);
  });

  it('in the call’s media chain: a lost packet whose successor is here is recovered, not concealed', () => {
    const packets = peerOpusPackets(RATE, 40);
    const media = new MediaChain({
      linkFormat: 'slin24',
      jitterMinMs: 40,
      jitterMaxMs: 200,
    });
    media.setCodec(describeCodec('opus', 48000, 2, RATE)!);
    const sent: Buffer[] = [];
    packets.forEach((packet, n) => {
      if (n % 10 === 5) return; // lost on the way
      const header = { ssrc: 9, sequence: n, timestamp: 960 * n, marker: n === 0 };
      media.pushCaller(header, packet, (frame) => void sent.push(frame), 20 * n);
    });
    expect(media.recoveredFrames).toBe(4);
    expect(media.concealedFrames).toBe(0);
    expect(sent.length).toBeGreaterThanOrEqual(36);
    expect(sent.every((frame) => frame.length === FRAME * 2)).toBe(true);
    media.close();
  });
});
