/**
 * The call's side of the offer/answer exchange (RFC 3264) over its whole life: the answer to the
 * INVITE's offer, an offer of its own when the INVITE had none (answer in the ACK), and every
 * re-INVITE or UPDATE after (hold, resume, codec change, new address). It only computes; the
 * call applies the result to its RTP session.
 */
import { negotiate, type Negotiated, type SipCodecName } from '../codecs/negotiate.js';
import { opusFmtp } from '../codecs/opus.js';
import {
  answerDirection,
  buildAnswer,
  parseAudioOffer,
  SdpError,
  type Direction,
  type OfferedCodec,
} from '../codecs/sdp.js';
import type { Rejection } from '../sip/engine.js';
import {
  chooseCrypto,
  cryptoAttribute,
  newSdesKey,
  readCrypto,
  type SdesKey,
} from '../media/sdes.js';
import type { SrtpSuite } from '../media/srtp-keys.js';

/** How a call's media is protected (the endpoint's `encryption` and `ciphers`). */
export interface MediaSecurity {
  /** `required`: SRTP only (RTP/SAVP, else 488); `optional`: SRTP when the far side offers it. */
  encryption: 'required' | 'optional';
  /** The SRTP suites allowed, in telgate's order of preference for its own offers. */
  suites: readonly SrtpSuite[];
  /** The signalling is TLS: SDES keys may travel in it (never in the clear). */
  keysAllowed: boolean;
}

/** SRTP for the stream: telgate's key (for what it sends) and the far side's. */
export interface SrtpPlan {
  local: SdesKey;
  remote: SdesKey;
}

/** What the media path must do after an exchange. */
export interface MediaPlan {
  negotiated: Negotiated;
  remoteAddress: string;
  remotePort: number;
  /** False on hold: the far side asked not to receive (sendonly, inactive, or c=0.0.0.0). */
  send: boolean;
  /** RTCP on the RTP port: offered and answered with a=rtcp-mux. */
  rtcpMux: boolean;
  /** SRTP keys, when the stream is SRTP. */
  srtp?: SrtpPlan;
}

export type OfferResult =
  { ok: true; sdp: string; plan: MediaPlan } | { ok: false; rejection: Rejection };

/** Payload types telgate puts in its own offers: static ones, and 96 for L16 (dynamic). */
const OFFER_TYPES: Record<SipCodecName, number> = { PCMU: 0, PCMA: 8, G722: 9, L16: 96, opus: 111 };
const TELEPHONE_EVENT_TYPE = 101;

export class SessionDescription {
  private readonly sessionId = Math.floor(Date.now() / 1000);
  private version = this.sessionId;
  private lastOffer: OfferedCodec[] = [];
  /** telgate's SRTP key per suite: kept over re-INVITEs, new only when the suite changes. */
  private readonly localKeys = new Map<SrtpSuite, SdesKey>();
  /** The keys of telgate's last SRTP offer (none for a plain one). */
  private offeredKeys: SdesKey[] = [];

  /** The local RTP port; 0 until one is leased (an answer made then only checks the offer). */
  port = 0;

  constructor(
    private readonly codecs: readonly SipCodecName[],
    private readonly address: string,
    /** The agent link's sample rate: what the agent hears decides the codec. */
    private readonly linkRate = 8000,
    /** The codec a µ-law or A-law link carries as is. */
    private readonly passThrough?: SipCodecName,
    /** Whether to answer CN (RFC 3389) when offered: media.comfortNoise. */
    private readonly comfortNoise = false,
    private readonly security: MediaSecurity = {
      encryption: 'optional',
      suites: [],
      keysAllowed: false,
    },
  ) {}

  /** Answers an offer (the INVITE's or a re-INVITE's), or says why it cannot be used. */
  answer(offerText: string): OfferResult {
    let offer;
    try {
      offer = parseAudioOffer(offerText);
    } catch (err) {
      if (!(err instanceof SdpError)) throw err;
      return {
        ok: false,
        rejection: { status: 488, headers: [['warning', `399 telgate "${err.message}"`]] },
      };
    }
    const secured = this.secureAnswer(offer.secure, offer.crypto);
    if ('refused' in secured) {
      const warning = `399 telgate "${secured.refused}"`;
      return { ok: false, rejection: { status: 488, headers: [['warning', warning]] } };
    }
    const choice = negotiate(offer, this.codecs, this.linkRate, this.passThrough);
    if (!choice.ok) {
      const warning = `305 telgate "Incompatible media format: offered ${choice.offered.join(' ') || 'nothing'}; supported ${choice.supported.join(' ')}"`;
      return { ok: false, rejection: { status: 488, headers: [['warning', warning]] } };
    }
    const offered = choice.value.codec;
    // Our own fmtp for Opus: what telgate receives and sends, not an echo of the offer's.
    const codec = offered.name === 'opus' ? { ...offered, fmtp: opusFmtp(this.linkRate) } : offered;
    const negotiated = this.comfortNoise
      ? choice.value
      : { ...choice.value, comfortNoise: undefined };
    const { telephoneEvent, comfortNoise } = negotiated;
    const sdp = this.describe(
      [
        codec,
        ...(telephoneEvent ? [{ ...telephoneEvent, fmtp: '0-15' }] : []),
        ...(comfortNoise ? [{ ...comfortNoise, fmtp: undefined }] : []),
      ],
      negotiated.ptime,
      answerDirection(offer.direction),
      offer.rtcpMux,
      secured.srtp && [cryptoAttribute({ ...secured.srtp.local, tag: secured.srtp.remote.tag })],
    );
    return {
      ok: true,
      sdp,
      plan: {
        negotiated,
        remoteAddress: offer.address,
        remotePort: offer.port,
        send: canSend(offer.direction, offer.address),
        rtcpMux: offer.rtcpMux,
        srtp: secured.srtp,
      },
    };
  }

  /**
   * The SRTP side of an answer: for an RTP/SAVP offer, the first offered key of an allowed
   * suite and telgate's own key of that suite; a plain offer to an endpoint that requires SRTP,
   * or any SRTP offer over signalling that is not TLS, is refused.
   */
  private secureAnswer(
    secure: boolean,
    crypto: Parameters<typeof chooseCrypto>[0],
  ): { srtp?: SrtpPlan } | { refused: string } {
    const security = this.security;
    if (!secure) {
      return security.encryption === 'required'
        ? { refused: 'this endpoint requires SRTP (RTP/SAVP with a=crypto)' }
        : {};
    }
    if (!security.keysAllowed) return { refused: 'SRTP keys are exchanged only over SIP over TLS' };
    const remote = chooseCrypto(crypto, security.suites);
    if (!remote) {
      return { refused: `no acceptable crypto suite; supported ${security.suites.join(' ')}` };
    }
    let local = this.localKeys.get(remote.suite);
    if (!local) this.localKeys.set(remote.suite, (local = newSdesKey(remote.suite, remote.tag)));
    return { srtp: { local, remote } };
  }

  /** An offer of every allowed codec, for an INVITE or re-INVITE that came without SDP. */
  offer(): string {
    // L16 is offered at the link's rate, so that choosing it needs no resampling.
    this.lastOffer = this.codecs.map((name) => ({
      payloadType: OFFER_TYPES[name],
      name,
      clockRate: name === 'L16' ? this.linkRate : name === 'opus' ? 48000 : 8000,
      channels: name === 'opus' ? 2 : 1,
      fmtp: name === 'opus' ? opusFmtp(this.linkRate) : undefined,
    }));
    this.lastOffer.push({
      payloadType: TELEPHONE_EVENT_TYPE,
      name: 'telephone-event',
      clockRate: 8000,
      channels: 1,
      fmtp: '0-15',
    });
    const security = this.security;
    const srtp = security.encryption === 'required' && security.keysAllowed;
    this.offeredKeys = srtp
      ? security.suites.map((suite, i) => {
          let key = this.localKeys.get(suite);
          if (!key) this.localKeys.set(suite, (key = newSdesKey(suite, i + 1)));
          return { ...key, tag: i + 1 };
        })
      : [];
    return this.describe(
      this.lastOffer,
      20,
      'sendrecv',
      true,
      this.offeredKeys.map(cryptoAttribute),
    );
  }

  /** Reads the answer to our offer (from the ACK); undefined when it is missing or unusable. */
  applyAnswer(answerText: string): MediaPlan | undefined {
    let answer;
    try {
      answer = parseAudioOffer(answerText);
    } catch {
      return undefined;
    }
    const offeredNames = this.lastOffer.map((c) => c.name.toUpperCase());
    const usable = {
      ...answer,
      codecs: answer.codecs.filter((c) => offeredNames.includes(c.name)),
    };
    const choice = negotiate(usable, this.codecs, this.linkRate, this.passThrough);
    if (!choice.ok) return undefined;
    let srtp: SrtpPlan | undefined;
    if (this.offeredKeys.length) {
      // An SRTP offer takes only an SRTP answer naming one of its keys' tags and suites.
      if (!answer.secure) return undefined;
      for (const line of answer.crypto) {
        const remote = readCrypto(line);
        const local = this.offeredKeys.find((k) => k.tag === remote?.tag);
        if (remote && local?.suite === remote.suite) srtp = { local, remote };
        if (srtp) break;
      }
      if (!srtp) return undefined;
    }
    return {
      negotiated: choice.value,
      remoteAddress: answer.address,
      remotePort: answer.port,
      send: canSend(answer.direction, answer.address),
      rtcpMux: answer.rtcpMux,
      srtp,
    };
  }

  private describe(
    codecs: OfferedCodec[],
    ptime: number,
    direction: Direction,
    rtcpMux = false,
    crypto?: string[],
  ): string {
    return buildAnswer({
      crypto,
      rtcpMux,
      address: this.address,
      port: this.port,
      sessionId: this.sessionId,
      sessionVersion: this.version++,
      codecs,
      ptime,
      direction,
    });
  }
}

/** Whether the far side wants our audio: not if it said sendonly/inactive or c=0.0.0.0 (RFC 2543). */
function canSend(direction: Direction, address: string): boolean {
  return (direction === 'sendrecv' || direction === 'recvonly') && address !== '0.0.0.0';
}
