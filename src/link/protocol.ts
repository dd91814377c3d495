/**
 * The TelPhi link protocol (docs/link-protocol.md is the spec): REST shapes for TelAPI and the
 * JSON control messages on /ws/session. Binary frames carry audio in the session's link format.
 */

import type { ClearReport } from '../media/playout-queue.js';

export type LinkFormat = 'slin' | 'slin16' | 'slin24' | 'slin48' | 'ulaw' | 'alaw';

export const LINK_FORMAT_RATE: Record<LinkFormat, number> = {
  slin: 8000,
  slin16: 16000,
  slin24: 24000,
  slin48: 48000,
  ulaw: 8000,
  alaw: 8000,
};

export interface CreateSessionRequest {
  endpointId: string;
  mode: 'voice_conversation';
  callId: string;
  from: string;
  to: string;
  /** W3C trace context of the call: its trace, and telgate's span as the session's parent. */
  traceId?: string;
  parentSpanId?: string;
  /** The flow the endpoint runs: its published version, or a draft (a test endpoint). */
  flow?: { id: string; version: number; draft: boolean };
}

export interface CreateSessionResponse {
  sessionId: string;
  wsToken: string;
  wsTokenExpiresIn: number;
  expiresIn: number;
}

export interface AudioFormat {
  format: LinkFormat;
  sampleRate: number;
  channels: 1;
  frameMs: number;
}

/** telgate → agent */
/** The caller's identity as telgate can vouch for it (docs/link-protocol.md §2). */
export interface CallerFacts {
  /** The identity telgate verified (an authenticated device, a trusted trunk's assertion). */
  asserted?: string;
  /** STIR/SHAKEN: the trunk's verification result (TN-Validation-Passed, -Failed, No-TN-Validation). */
  verstat?: string;
  /** The INVITE carried an RFC 8224 Identity header. */
  identityHeader: boolean;
  /** The caller asked for privacy (Privacy: id): do not read its number out. */
  privacy: boolean;
}

export type GatewayMessage =
  | {
      type: 'session.start';
      sessionId: string;
      callId: string;
      endpointId: string;
      from: string;
      to: string;
      audio: AudioFormat;
      /** The caller's SIP codec, e.g. `G722/8000`. */
      codec: string;
      /** The conversion between the two, e.g. `PCMU/8000 → slin16, resample 8000→16000`. */
      chain: string;
      /** What telgate knows of the caller's identity (SIP calls). */
      caller?: CallerFacts;
    }
  | { type: 'session.end'; reason: string; sipStatus?: number }
  /** A caller's RFC 4733 digit, when it ended. */
  | { type: 'dtmf'; digit: string; durationMs: number }
  /** The agent's mark: `played` once the audio before it went out, `cleared` if dropped. */
  | { type: 'mark'; name: string; status: 'played' | 'cleared' }
  | ({ type: 'playback.cleared' } & ClearReport)
  | { type: 'call.quality'; quality: CallQuality }
  /** How an agent's transfer is going (docs/link-protocol.md §3). */
  | {
      type: 'transfer.progress';
      target: string;
      mode: TransferMode;
      state: TransferState;
      sipStatus?: number;
      reason?: string;
    }
  /** After a reconnect: the audio held while the socket was down follows at once. */
  | { type: 'session.resumed'; sessionId: string; heldMs: number };

export interface CallQuality {
  /** What telgate received from the caller. */
  packetsReceived: number;
  packetsLost: number;
  lossPercent: number;
  jitterMs: number;
  late: number;
  concealedMs: number;
  /** Lost audio rebuilt from the next packet's forward error correction (Opus in-band FEC). */
  recoveredMs: number;
  jitterBufferMs: number;
  /** Caller frames not sent because the agent read too slowly (over 256 KiB unsent). */
  framesDroppedToAgent: number;
  /** From RTCP: the caller's view of what telgate sends, and the round trip. */
  remoteLossPercent?: number;
  remoteJitterMs?: number;
  rttMs?: number;
}

/** agent → telgate */
export type AgentMessage =
  | { type: 'hangup'; reason?: string }
  | { type: 'mark'; name: string }
  | { type: 'clear' }
  | { type: 'dtmf.send'; digits: string; durationMs: number }
  | TransferRequest
  /** Warm transfer, while consulting: join the caller to the target, or go back to the caller. */
  | { type: 'transfer.complete' }
  | { type: 'transfer.cancel' };

export type TransferMode = 'blind' | 'bridged' | 'warm';

/** `answered` in a warm transfer means: the agent now consults the target alone. */
export type TransferState =
  'trying' | 'ringing' | 'answered' | 'completed' | 'cancelled' | 'failed';

export interface TransferRequest {
  type: 'transfer';
  /** E.164 (`+4930123456`) or a SIP URI. */
  target: string;
  mode: TransferMode;
  /** Extra headers for the target: `X-…` names or `User-to-User`. */
  headers: Array<[string, string]>;
  /** How long the target may ring (bridged), 1–120 s, default 30 s. */
  timeoutMs: number;
}

const TRANSFER_HEADER = /^(X-[A-Za-z0-9-]{1,64}|User-to-User)$/i;

/** Digits RFC 4733 carries as events 0–15. */
export const DTMF_DIGITS = '0123456789*#ABCD';

/** WebSocket close codes used on /ws/session. */
export const CLOSE_CODES = {
  normal: 1000,
  internalError: 1011,
  unauthorized: 4001,
  unknownSession: 4004,
  sessionExpired: 4008,
  protocolError: 4400,
} as const;

/** Parses an agent text frame; undefined for anything that is not a known message. */
export function parseAgentMessage(text: string): AgentMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const msg = value as Record<string, unknown>;
  switch (msg.type) {
    case 'hangup':
      return {
        type: 'hangup',
        reason: typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : undefined,
      };
    case 'mark':
      return typeof msg.name === 'string'
        ? { type: 'mark', name: msg.name.slice(0, 200) }
        : undefined;
    case 'clear':
      return { type: 'clear' };
    case 'dtmf.send': {
      if (typeof msg.digits !== 'string') return undefined;
      const digits = msg.digits.toUpperCase().slice(0, 64);
      if (![...digits].every((d) => DTMF_DIGITS.includes(d))) return undefined;
      const duration = typeof msg.durationMs === 'number' ? msg.durationMs : 100;
      return { type: 'dtmf.send', digits, durationMs: Math.min(2000, Math.max(40, duration)) };
    }
    case 'transfer':
      return parseTransfer(msg);
    case 'transfer.complete':
    case 'transfer.cancel':
      return { type: msg.type };
    default:
      return undefined;
  }
}

function parseTransfer(msg: Record<string, unknown>): TransferRequest | undefined {
  if (typeof msg.target !== 'string' || msg.target.length > 256) return undefined;
  const mode = msg.mode ?? 'bridged';
  if (mode !== 'blind' && mode !== 'bridged' && mode !== 'warm') return undefined;
  const headers: Array<[string, string]> = [];
  if (msg.headers !== undefined) {
    if (typeof msg.headers !== 'object' || msg.headers === null) return undefined;
    for (const [name, value] of Object.entries(msg.headers)) {
      // Only context headers, and nothing that could break the message apart.
      if (!TRANSFER_HEADER.test(name) || typeof value !== 'string') return undefined;
      if (/[\r\n]/.test(value) || value.length > 512) return undefined;
      headers.push([name, value]);
    }
  }
  const timeout = typeof msg.timeoutMs === 'number' ? msg.timeoutMs : 30_000;
  return {
    type: 'transfer',
    target: msg.target.trim(),
    mode,
    headers: headers.slice(0, 10),
    timeoutMs: Math.min(120_000, Math.max(1000, timeout)),
  };
}
