/**
 * Codec choice for an offer: the first offered codec the gateway supports, in the endpoint's
 * preference order, plus telephone-event when offered. No common codec is a typed failure that
 * the call layer turns into 488 with a Warning naming both sides.
 */
import type { AudioOffer, OfferedCodec } from './sdp.js';

export type SipCodecName = 'PCMU' | 'PCMA';

export const SUPPORTED_CODECS: readonly SipCodecName[] = ['PCMU', 'PCMA'];

export interface Negotiated {
  codec: OfferedCodec & { name: SipCodecName };
  telephoneEvent?: OfferedCodec;
  ptime: number;
}

export type NegotiationResult =
  { ok: true; value: Negotiated } | { ok: false; offered: string[]; supported: string[] };

export function negotiate(
  offer: AudioOffer,
  allowed: readonly SipCodecName[] = SUPPORTED_CODECS,
): NegotiationResult {
  const usable = allowed.filter((c) => SUPPORTED_CODECS.includes(c));
  for (const name of usable) {
    const codec = offer.codecs.find(
      (c) => c.name === name && c.clockRate === 8000 && c.channels === 1,
    );
    if (codec) {
      const telephoneEvent = offer.codecs.find(
        (c) => c.name === 'TELEPHONE-EVENT' && c.clockRate === 8000,
      );
      // The shared media clock sends 20 ms frames; ptime is a receiver preference (RFC 3264 §5.1).
      const ptime = 20;
      return {
        ok: true,
        value: {
          codec: { ...codec, name },
          telephoneEvent: telephoneEvent
            ? { ...telephoneEvent, name: 'telephone-event' }
            : undefined,
          ptime,
        },
      };
    }
  }
  return {
    ok: false,
    offered: offer.codecs.map((c) => `${c.name}/${c.clockRate}`),
    supported: usable.map((c) => `${c}/8000`),
  };
}
