/**
 * SDP offer reading and answer writing (RFC 3264) on top of sdp-transform, which does the
 * grammar; this module only extracts what a gateway needs and refuses what it cannot use.
 */
import sdpTransform from 'sdp-transform';

export interface OfferedCodec {
  payloadType: number;
  name: string;
  clockRate: number;
  channels: number;
  fmtp?: string;
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface AudioOffer {
  address: string;
  port: number;
  codecs: OfferedCodec[];
  ptime?: number;
  direction: Direction;
  sessionVersion: number;
  /** a=rtcp-mux: RTCP may share the RTP port (RFC 5761). */
  rtcpMux: boolean;
  /** RTP/SAVP: the stream is SRTP, keyed by `crypto` (RFC 4568). */
  secure: boolean;
  /** The stream's a=crypto lines, in the offer's order. */
  crypto: Array<{ id: number; suite: string; config: string; sessionConfig?: string }>;
}

export class SdpError extends Error {}

const STATIC_PAYLOADS: Record<number, [string, number]> = {
  0: ['PCMU', 8000],
  8: ['PCMA', 8000],
  9: ['G722', 8000],
  13: ['CN', 8000],
  18: ['G729', 8000],
  3: ['GSM', 8000],
  4: ['G723', 8000],
};

const MAX_SDP_BYTES = 16_384;

/** Reads the first usable audio stream of an SDP offer; throws SdpError with a reason. */
export function parseAudioOffer(text: string): AudioOffer {
  if (!text.trim()) throw new SdpError('no SDP offer');
  if (text.length > MAX_SDP_BYTES) throw new SdpError('SDP too large');
  let session: sdpTransform.SessionDescription;
  try {
    session = sdpTransform.parse(text);
  } catch {
    throw new SdpError('SDP does not parse');
  }
  const audio = (session.media ?? []).find((m) => m.type === 'audio' && m.port !== 0);
  if (!audio) throw new SdpError('no active audio stream in SDP');
  if (!/^RTP\/S?AVP$/i.test(audio.protocol))
    throw new SdpError(`unsupported media protocol ${audio.protocol}`);
  const address = audio.connection?.ip ?? session.connection?.ip;
  if (!address) throw new SdpError('SDP has no connection address');
  if (!Number.isInteger(audio.port) || audio.port < 1 || audio.port > 65535) {
    throw new SdpError('SDP media port out of range');
  }
  const payloads = String(audio.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const codecs: OfferedCodec[] = [];
  for (const pt of payloads) {
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue;
    const rtp = audio.rtp.find((r) => r.payload === pt);
    const fallback = STATIC_PAYLOADS[pt];
    if (!rtp && !fallback) continue;
    const fmtp = audio.fmtp.find((f) => f.payload === pt)?.config;
    codecs.push({
      payloadType: pt,
      name: (rtp?.codec ?? fallback[0]).toUpperCase(),
      clockRate: rtp?.rate ?? fallback[1],
      channels: Number(rtp?.encoding ?? 1) || 1,
      fmtp,
    });
  }
  const direction = (audio.direction ?? session.direction ?? 'sendrecv') as Direction;
  return {
    address,
    port: audio.port,
    codecs,
    ptime: audio.ptime,
    direction,
    sessionVersion: Number(session.origin?.sessionVersion ?? 0),
    rtcpMux: audio.rtcpMux !== undefined,
    secure: /^RTP\/SAVP$/i.test(audio.protocol),
    crypto: audio.crypto ?? [],
  };
}

export interface AnswerSpec {
  address: string;
  port: number;
  sessionId: number;
  /** o= version: must grow with each new description in a dialog (RFC 3264 §8). */
  sessionVersion?: number;
  codecs: OfferedCodec[];
  ptime: number;
  direction: Direction;
  rtcpMux?: boolean;
  /** SRTP: RTP/SAVP with these a=crypto attribute values (`1 AES_CM_128_HMAC_SHA1_80 inline:…`). */
  crypto?: string[];
}

const ANSWER_DIRECTION: Record<Direction, Direction> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

/** The direction an answer must carry for an offer's direction (RFC 3264 §6.1). */
export function answerDirection(offered: Direction): Direction {
  return ANSWER_DIRECTION[offered];
}

export function buildAnswer(spec: AnswerSpec): string {
  const ip4 = !spec.address.includes(':');
  const family = ip4 ? 'IP4' : 'IP6';
  const lines = [
    'v=0',
    `o=telgate ${spec.sessionId} ${spec.sessionVersion ?? spec.sessionId} IN ${family} ${spec.address}`,
    's=telgate',
    `c=IN ${family} ${spec.address}`,
    't=0 0',
    `m=audio ${spec.port} ${spec.crypto?.length ? 'RTP/SAVP' : 'RTP/AVP'} ${spec.codecs.map((c) => c.payloadType).join(' ')}`,
  ];
  for (const c of spec.codecs) {
    lines.push(
      `a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels > 1 ? '/' + c.channels : ''}`,
    );
    if (c.fmtp) lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`);
  }
  lines.push(`a=ptime:${spec.ptime}`, `a=${spec.direction}`);
  if (spec.rtcpMux) lines.push('a=rtcp-mux');
  for (const crypto of spec.crypto ?? []) lines.push(`a=crypto:${crypto}`);
  return lines.join('\r\n') + '\r\n';
}
