/**
 * Opus as a peer that sends in-band FEC codes it (a WebRTC client, a softphone): the VoIP
 * application, FEC on, 10 % loss expected. telgate's own encoder sends no FEC.
 */
import opus from '@discordjs/opus';
import type { OpusEncoder as Encoder } from '@discordjs/opus';
import { voicedSpeech } from './audio.js';

const { OpusEncoder } = opus as unknown as { OpusEncoder: typeof Encoder };

/** `frames` 20 ms Opus packets of voiced speech at `rate`, each with FEC for the one before. */
export function peerOpusPackets(rate: number, frames: number): Buffer[] {
  const encoder = new OpusEncoder(rate, 1);
  encoder.applyEncoderCTL(4000, 2048); // OPUS_SET_APPLICATION: VOIP, before the first frame
  encoder.applyEncoderCTL(4012, 1); // OPUS_SET_INBAND_FEC
  encoder.applyEncoderCTL(4014, 10); // OPUS_SET_PACKET_LOSS_PERC
  encoder.setBitrate(32_000);
  return voicedSpeech(rate, frames).map((pcm) =>
    encoder.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)),
  );
}
