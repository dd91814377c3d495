/**
 * Opus through @discordjs/opus (libopus, built from source at install). One encoder and one
 * decoder per call, mono, at the link's rate, so no resampling is needed on either side; the
 * RTP clock stays 48 kHz (960 ticks per 20 ms) as RFC 7587 requires.
 *
 * Loss: libopus conceals a frame it is given no data for. The binding's decode takes a packet
 * only, but libopus treats a packet of just its TOC byte as lost and conceals the TOC's frame
 * duration, so concealment decodes the last TOC alone. Decoding the next packet's in-band FEC
 * needs opus_decode's decode_fec flag, which the binding does not expose: the encoder still
 * sends FEC (peers that can use it do), telgate conceals.
 */
import opus from '@discordjs/opus';
import type { OpusEncoder as OpusCodecState } from '@discordjs/opus';
import type { Codec, CodecDescription } from './codec.js';

/** libopus CTLs (opus_defines.h). */
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;

/** Encoder complexity 0–10: 5 holds the CPU budget per frame (bench/README.md says what it costs). */
export const OPUS_COMPLEXITY = 5;
export const OPUS_BITRATE = 32_000;

// A CommonJS addon: its exports come through the default import under Node's ESM loader.
const { OpusEncoder } = opus as unknown as { OpusEncoder: typeof OpusCodecState };

type Base = CodecDescription & { frameSamples: number; rtpSamplesPerFrame: number };

export function opusCodec(base: Base): Codec {
  const encoder = new OpusEncoder(base.audioRate, 1);
  encoder.applyEncoderCTL(OPUS_SET_COMPLEXITY, OPUS_COMPLEXITY);
  encoder.applyEncoderCTL(OPUS_SET_INBAND_FEC, 1);
  encoder.applyEncoderCTL(OPUS_SET_PACKET_LOSS_PERC, 5);
  encoder.setBitrate(OPUS_BITRATE);
  const decoder = new OpusEncoder(base.audioRate, 1);
  /** TOC byte of the last packet, with code 0 (one frame): its config sets the duration. */
  let lastToc: number | undefined;
  const toPcm = (decoded: Buffer, pcm: Int16Array): number => {
    const samples = Math.min(pcm.length, decoded.length >> 1);
    if (decoded.byteOffset % 2 === 0) {
      pcm.set(new Int16Array(decoded.buffer, decoded.byteOffset, samples));
    } else for (let i = 0; i < samples; i++) pcm[i] = decoded.readInt16LE(i * 2);
    return samples;
  };
  return {
    ...base,
    maxPayloadBytes: 1275, // the largest Opus frame
    decode(payload, pcm) {
      let decoded: Buffer;
      try {
        decoded = decoder.decode(payload);
      } catch {
        return 0; // a corrupt packet: play nothing rather than fail the call
      }
      if (payload.length > 1) lastToc = payload[0] & 0xfc;
      return toPcm(decoded, pcm);
    },
    conceal(pcm) {
      if (lastToc === undefined) return 0; // nothing heard yet: nothing to continue
      try {
        return toPcm(decoder.decode(Buffer.of(lastToc)), pcm);
      } catch {
        return 0;
      }
    },
    encode(pcm, out) {
      const packet = encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      return packet.copy(out);
    },
  };
}

/** The fmtp telgate answers and offers with for Opus (RFC 7587 §6.1). */
export function opusFmtp(linkRate: number): string {
  return `maxplaybackrate=${linkRate};sprop-maxcapturerate=${linkRate};stereo=0;sprop-stereo=0;useinbandfec=1`;
}
