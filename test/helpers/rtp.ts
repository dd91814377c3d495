/** Decodes captured G.711 RTP back to audio frames, for checks by frequency and timing. */
import { g711Decode } from '../../src/codecs/g711.js';
import { newRtpHeader, readRtpHeader } from '../../src/media/rtp-packet.js';
import type { Datagram } from './capture.js';

export interface DecodedFrame {
  time: number;
  payloadType: number;
  pcm: Int16Array;
}

/** µ-law or A-law RTP sent to `port`, one decoded frame per packet, in arrival order. */
export function decodeRtpFrames(datagrams: Datagram[], port: number): DecodedFrame[] {
  const header = newRtpHeader();
  const frames: DecodedFrame[] = [];
  for (const d of datagrams) {
    if (d.dstPort !== port || !readRtpHeader(d.payload, header)) continue;
    const payload = d.payload.subarray(
      header.payloadOffset,
      header.payloadOffset + header.payloadLength,
    );
    const pcm = new Int16Array(payload.length);
    g711Decode(header.payloadType === 8 ? 'alaw' : 'ulaw', payload, pcm);
    frames.push({ time: d.time, payloadType: header.payloadType, pcm });
  }
  return frames;
}

/** Just the audio of decodeRtpFrames. */
export function decodeRtpTo(datagrams: Datagram[], port: number): Int16Array[] {
  return decodeRtpFrames(datagrams, port).map((f) => f.pcm);
}
