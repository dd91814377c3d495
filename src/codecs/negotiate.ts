/**
 * Codec choice for an offer, driven by what the agent hears. Among the offered codecs that the
 * endpoint allows and telgate carries, the winner
 *   1. keeps the most audio bandwidth the agent can use: min(codec rate, link rate);
 *   2. then converts the least: no resampling when the codec rate equals the link rate, and no
 *      transcoding when the link carries the codec's own bytes (PCMU on a µ-law link);
 *   3. then comes first in the endpoint's list, then in the offer.
 * telephone-event and comfort noise (CN, RFC 3389) are added when offered at the codec's clock
 * rate. No common codec is a typed failure that the call layer turns into 488 with a Warning
 * naming both sides.
 */
import { describeCodec, SIP_CODECS, type CodecDescription, type SipCodecName } from './codec.js';
import type { AudioOffer, OfferedCodec } from './sdp.js';

export type { SipCodecName } from './codec.js';

export interface Negotiated {
  codec: OfferedCodec & { name: SipCodecName };
  description: CodecDescription;
  telephoneEvent?: OfferedCodec;
  comfortNoise?: OfferedCodec;
  ptime: number;
}

export type NegotiationResult =
  { ok: true; value: Negotiated } | { ok: false; offered: string[]; supported: string[] };

const L16_RATES = [8000, 16000, 24000, 48000];

export function negotiate(
  offer: AudioOffer,
  allowed: readonly SipCodecName[] = SIP_CODECS,
  linkRate = 8000,
  passThrough?: SipCodecName,
): NegotiationResult {
  type Candidate = { offered: OfferedCodec; description: CodecDescription; rank: number[] };
  const candidates: Candidate[] = [];
  offer.codecs.forEach((offered, position) => {
    const description = describeCodec(offered.name, offered.clockRate, offered.channels, linkRate);
    if (!description || !allowed.includes(description.name)) return;
    const heard = Math.min(description.audioRate, linkRate);
    const resamples = description.audioRate === linkRate ? 0 : 1;
    const transcodes = description.name === passThrough ? 0 : 1;
    const preference = allowed.indexOf(description.name);
    const rank = [-heard, resamples, transcodes, preference, position];
    candidates.push({ offered, description, rank });
  });
  candidates.sort((a, b) => compareRanks(a.rank, b.rank));
  const best = candidates[0];
  if (!best) {
    return {
      ok: false,
      offered: offer.codecs.map((c) => `${c.name}/${c.clockRate}`),
      supported: allowed.flatMap((name) =>
        name === 'L16'
          ? L16_RATES.map((r) => `L16/${r}`)
          : [`${name}/${name === 'opus' ? 48000 : 8000}`],
      ),
    };
  }
  const telephoneEvent = offer.codecs.find(
    (c) => c.name === 'TELEPHONE-EVENT' && c.clockRate === best.description.clockRate,
  );
  const comfortNoise = offer.codecs.find(
    (c) => c.name === 'CN' && c.clockRate === best.description.clockRate,
  );
  return {
    ok: true,
    value: {
      codec: { ...best.offered, name: best.description.name },
      description: best.description,
      telephoneEvent: telephoneEvent ? { ...telephoneEvent, name: 'telephone-event' } : undefined,
      comfortNoise,
      // The shared media clock sends 20 ms frames; ptime is a receiver preference (RFC 3264 §5.1).
      ptime: 20,
    },
  };
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}
