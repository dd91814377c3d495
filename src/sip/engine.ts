/**
 * The SIP engine interface: everything src/call needs from a SIP stack, and nothing more.
 * The built-in RFC 3261 stack (engine-native.ts) implements it; a drachtio-srf engine can
 * implement the same interface for sites that run drachtio-server.
 */
import type { SipPeer } from './message.js';

/** A read-only view of an incoming INVITE, for routing. */
export interface InviteView {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: string;
  readonly to: string;
  readonly source: SipPeer;
  /** The SDP offer, if the INVITE carried one (empty for a late-offer INVITE). */
  readonly sdp: string;
  header(name: string): string | undefined;
}

export interface Rejection {
  status: number;
  reason?: string;
  /** Extra headers such as Reason, Warning or Retry-After. */
  headers?: Array<[string, string]>;
}

/** An INVITE the call layer must ring, answer or reject, exactly once. */
export interface IncomingInvite extends InviteView {
  /** Sends 180 Ringing (or 183 with SDP for early media). */
  ringing(earlyMediaSdp?: string): void;
  /**
   * Sends 200 OK with the SDP answer; the dialog it returns is confirmed once the ACK arrives.
   * If no ACK comes within 64·T1 the engine sends BYE and the dialog ends with 'no-ack'.
   */
  answer(sdp: string): SipDialog;
  reject(rejection: Rejection): void;
  /** Called if the caller cancels before the INVITE was answered or rejected. */
  onCancel(handler: () => void): void;
}

export type DialogEndCause = 'remote-bye' | 'local-bye' | 'no-ack' | 'engine-stopped';

export interface SipDialog {
  readonly id: string;
  /** Resolves when the ACK for the 2xx arrives. */
  readonly confirmed: Promise<void>;
  /** Ends the dialog from this side with BYE; resolves when the BYE transaction completes. */
  bye(reasonHeader?: string): Promise<void>;
  /** Called once when the dialog ends, for whatever cause. */
  onEnd(handler: (cause: DialogEndCause) => void): void;
}

export interface EngineStats {
  transactions: number;
  dialogs: number;
}

export interface SipEngine {
  onInvite(handler: (invite: IncomingInvite) => void): void;
  start(): Promise<void>;
  /** Ends every dialog with BYE, terminates transactions and closes transports. */
  stop(): Promise<void>;
  stats(): EngineStats;
  /** Resolves once no transaction or dialog is left. */
  whenIdle(): Promise<void>;
  /** Where the engine listens, for logs and the quick start. */
  readonly listenAddress: { host: string; port: number };
}
