/**
 * The TelPhi link protocol (docs/link-protocol.md is the spec): REST shapes for TelAPI and the
 * JSON control messages on /ws/session. Binary frames carry audio in the session's link format.
 */

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
    }
  | { type: 'session.end'; reason: string; sipStatus?: number };

/** agent → telgate */
export type AgentMessage = { type: 'hangup'; reason?: string };

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
  if (msg.type === 'hangup') {
    return {
      type: 'hangup',
      reason: typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : undefined,
    };
  }
  return undefined;
}
