/**
 * Opus: libopus through @discordjs/opus (built from source at install). One encoder and one
 * decoder per call, mono, at the link's rate, so no resampling is needed on either side; the
 * RTP clock stays 48 kHz (960 ticks per 20 ms) as RFC 7587 requires.
 *
 * Encoding: the binding's encoders are for general audio, which codes speech as CELT frames,
 * and those carry no in-band FEC (only SILK and hybrid frames do). The VoIP application would
 * send FEC, at two to three times the encoder's CPU (measured: 190–290 µs a frame at
 * complexity 5 against 75–95), so telgate sends none; `useinbandfec=1` in its fmtp says what
 * its decoder takes (RFC 7587 §6.1), and peers' FEC is used.
 *
 * Loss: the decoder is libopus's own, called directly (opus-decoder.ts), since the binding's
 * decode takes a whole packet only. A lost packet whose successor is already here is rebuilt
 * from that successor's FEC copy (recover); otherwise libopus conceals it.
 */
import opus from '@discordjs/opus';
import type { OpusEncoder as OpusCodecState } from '@discordjs/opus';
import type { Codec, CodecDescription } from './codec.js';
import { OpusDecoder } from './opus-decoder.js';

/** libopus CTL (opus_defines.h). */
const OPUS_SET_COMPLEXITY = 4010;

/** Encoder complexity 0–10: 5 holds the CPU budget per frame (bench/README.md says what it costs). */
export const OPUS_COMPLEXITY = 5;
export const OPUS_BITRATE = 32_000;

// A CommonJS addon: its exports come through the default import under Node's ESM loader.
const { OpusEncoder } = opus as unknown as { OpusEncoder: typeof OpusCodecState };

type Base = CodecDescription & { frameSamples: number; rtpSamplesPerFrame: number };

export function opusCodec(base: Base): Codec {
  const encoder = new OpusEncoder(base.audioRate, 1);
  encoder.applyEncoderCTL(OPUS_SET_COMPLEXITY, OPUS_COMPLEXITY);
  encoder.setBitrate(OPUS_BITRATE);
  const decoder = new OpusDecoder(base.audioRate);
  return {
    ...base,
    maxPayloadBytes: 1275, // the largest Opus frame
    decode: (payload, pcm) => decoder.decode(payload, pcm),
    conceal: (pcm) => decoder.conceal(pcm),
    recover: (next, pcm) => decoder.recover(next, pcm),
    encode(pcm, out) {
      const packet = encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      return packet.copy(out);
    },
    close() {
      decoder.close();
    },
  };
}

/** The fmtp telgate answers and offers with for Opus (RFC 7587 §6.1). */
export function opusFmtp(linkRate: number): string {
  return `maxplaybackrate=${linkRate};sprop-maxcapturerate=${linkRate};stereo=0;sprop-stereo=0;useinbandfec=1`;
}
