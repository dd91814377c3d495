/**
 * Link dialects: the same link core (one socket per call, audio both ways, control messages)
 * spoken the way an agent expects. A dialect only translates: telgate's messages and audio to
 * the wire, the wire to agent messages and audio. TelPhi's own dialect is the full protocol
 * (docs/link-protocol.md); the others carry what their protocol has and drop the rest.
 */
import type { AgentMessage, AudioFormat, GatewayMessage, LinkFormat } from '../protocol.js';

export type DialectName = 'telphi' | 'asterisk' | 'twilio';

/** What came in on the socket. */
export type Inbound = { audio: Buffer } | { message: AgentMessage } | undefined;

export interface Dialect {
  readonly name: DialectName;
  /** Audio as written to the socket. */
  encodeAudio(frame: Buffer): string | Buffer;
  /** A message as written to the socket, or nothing when the dialect has no such message. */
  encodeMessage(message: GatewayMessage): Array<string | Buffer>;
  decode(data: Buffer, isBinary: boolean): Inbound;
  /**
   * A close by the agent that means "hang up" in dialects without a hangup message (a normal
   * close ends the stream there); undefined when a close is a lost link.
   */
  closeMeansHangup(code: number): boolean;
}

export interface DialectInfo {
  /** Present when the dialect fixes the link format (Twilio: µ-law 8 kHz). */
  readonly fixedFormat?: LinkFormat;
  /** Whether the socket can be resumed after a drop (TelPhi sessions only). */
  readonly resumable: boolean;
  /** Whether TelAPI provisions the session, or telgate connects to a configured URL. */
  readonly provisioned: boolean;
}

export type { AudioFormat };
