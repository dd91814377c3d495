/**
 * The SIP audio codecs telgate carries, as one interface: each turns an RTP payload into 16-bit
 * PCM at its audio rate and back. Adding a codec means adding a factory here and its name to
 * SIP_CODECS; negotiation and the call only see this interface.
 */
import { g711Decode, g711Encode } from './g711.js';
import { G722Decoder, G722Encoder } from './g722.js';
import { l16Decode, l16Encode } from './l16.js';
import { opusCodec } from './opus.js';

export type SipCodecName = 'PCMU' | 'PCMA' | 'G722' | 'L16' | 'opus';

export const SIP_CODECS: readonly SipCodecName[] = ['PCMU', 'PCMA', 'G722', 'L16', 'opus'];

/** How a codec appears in SDP and on the RTP clock. */
export interface CodecDescription {
  name: SipCodecName;
  /** RTP clock rate as written in rtpmap. */
  clockRate: number;
  /** Sample rate of the PCM the codec carries. */
  audioRate: number;
  /** The static payload type, when RFC 3551 assigns one. */
  staticPayloadType?: number;
}

export interface Codec extends CodecDescription {
  /** RTP timestamp increment per 20 ms frame. */
  readonly rtpSamplesPerFrame: number;
  /** PCM samples per 20 ms frame at audioRate. */
  readonly frameSamples: number;
  readonly maxPayloadBytes: number;
  /** Decodes a payload into `pcm`; returns the number of samples written. */
  decode(payload: Buffer, pcm: Int16Array): number;
  /** Encodes one frame into `out`; returns the payload length. */
  encode(pcm: Int16Array, out: Buffer): number;
  /**
   * The codec's own concealment of one lost frame (packet loss concealment), where it has one;
   * returns the samples written. Codecs without it leave concealment to the jitter buffer.
   */
  conceal?(pcm: Int16Array): number;
  /**
   * A lost frame rebuilt from the forward error correction of `next`, the packet after it
   * (Opus in-band FEC), where the codec has it; concealed as conceal() would be when `next`
   * carries none. Returns the samples written; `next` is still to be decoded after.
   */
  recover?(next: Buffer, pcm: Int16Array): number;
  /** Frees what the codec holds outside the JavaScript heap (a native decoder). */
  close?(): void;
}

/** A codec that an offer's rtpmap line describes, or undefined if telgate does not carry it. */
export function describeCodec(
  name: string,
  clockRate: number,
  channels: number,
  linkRate = 8000,
): CodecDescription | undefined {
  if (name.toUpperCase() === 'OPUS') {
    // RFC 7587 §7: always "opus/48000/2" in rtpmap, whatever is actually sent. Opus codes at
    // any of 8/16/24/48 kHz itself, so it runs at the link's rate and needs no resampling.
    return clockRate === 48000 ? { name: 'opus', clockRate, audioRate: linkRate } : undefined;
  }
  if (channels !== 1) return undefined;
  switch (name.toUpperCase()) {
    case 'PCMU':
      return clockRate === 8000
        ? { name: 'PCMU', clockRate, audioRate: 8000, staticPayloadType: 0 }
        : undefined;
    case 'PCMA':
      return clockRate === 8000
        ? { name: 'PCMA', clockRate, audioRate: 8000, staticPayloadType: 8 }
        : undefined;
    case 'G722':
      // RFC 3551 §4.5.2: the RTP clock says 8000 although G.722 samples at 16 kHz.
      return clockRate === 8000
        ? { name: 'G722', clockRate, audioRate: 16000, staticPayloadType: 9 }
        : undefined;
    case 'L16':
      return [8000, 16000, 24000, 48000].includes(clockRate)
        ? { name: 'L16', clockRate, audioRate: clockRate }
        : undefined;
    default:
      return undefined;
  }
}

export function createCodec(description: CodecDescription): Codec {
  const frameSamples = description.audioRate / 50;
  const base = {
    ...description,
    frameSamples,
    rtpSamplesPerFrame: description.clockRate / 50,
  };
  switch (description.name) {
    case 'PCMU':
    case 'PCMA': {
      const law = description.name === 'PCMU' ? 'ulaw' : 'alaw';
      return {
        ...base,
        maxPayloadBytes: frameSamples,
        decode: (payload, pcm) => g711Decode(law, payload, pcm),
        encode: (pcm, out) => g711Encode(law, pcm, out),
      };
    }
    case 'G722': {
      const encoder = new G722Encoder();
      const decoder = new G722Decoder();
      return {
        ...base,
        maxPayloadBytes: frameSamples / 2,
        decode: (payload, pcm) => decoder.decode(payload, pcm),
        encode: (pcm, out) => encoder.encode(pcm, out),
        close: () => {
          encoder.close();
          decoder.close();
        },
      };
    }
    case 'opus':
      return opusCodec(base);
    case 'L16':
      return {
        ...base,
        maxPayloadBytes: frameSamples * 2,
        decode: (payload, pcm) => l16Decode(payload, pcm),
        encode: (pcm, out) => l16Encode(pcm, out),
      };
  }
}
