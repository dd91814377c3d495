/**
 * The SIP engine interface: everything src/call needs from a SIP stack, and nothing more.
 * The built-in RFC 3261 stack (engine-native.ts) implements it, and so does the drachtio-srf
 * engine (engine-drachtio.ts) for sites that run drachtio-server.
 */
import type { SipPeer, SipTransport } from './message.js';

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

/**
 * Why a dialog ended. 'engine-lost': the engine can no longer signal it (a drachtio-server that
 * restarted forgot it), so no BYE can be sent.
 */
export type DialogEndCause =
  'remote-bye' | 'local-bye' | 'no-ack' | 'engine-stopped' | 'engine-lost';

/** A re-INVITE or UPDATE from the far side (RFC 3261 §14, RFC 3311). */
export interface SessionChange {
  readonly method: 'INVITE' | 'UPDATE';
  /** The far side's SDP offer, or '' when it asks for an offer (a re-INVITE without SDP). */
  readonly offer: string;
  /**
   * For a re-INVITE: resolves with the ACK's body once the ACK arrives (the answer, when this
   * side made the offer), or with '' if no ACK came.
   */
  readonly ack: Promise<string>;
}

/** What the call layer returns for a session change: its SDP (answer or offer), or a refusal. */
export type SessionReply = { sdp: string } | Rejection;

/** A REFER from the far side (RFC 3515). */
export interface IncomingRefer {
  readonly referTo: string;
  readonly referredBy: string | undefined;
  /** Sends 202 Accepted and the first NOTIFY (100 Trying); returns the progress notifier. */
  accept(): ReferNotifier;
  reject(rejection: Rejection): void;
}

export interface ReferNotifier {
  /**
   * Sends a NOTIFY whose message/sipfrag body is this status line. A final status (≥ 200)
   * terminates the implicit subscription; later calls do nothing.
   */
  notify(status: number, reason?: string): Promise<void>;
}

/** The outcome of a REFER this side sent. */
export interface ReferOutcome {
  /** The REFER's own response: 202 when accepted, 408 when nothing answered. */
  status: number;
  /** The final status the far side reported in its NOTIFY sipfrag, if one came. */
  finalStatus?: number;
}

export interface ReferOptions {
  referredBy?: string;
  /** Each sipfrag status the far side reports (100, 180, 200 …). */
  onProgress?(status: number): void;
}

export interface SipDialog {
  readonly id: string;
  /** Resolves with the ACK's body when the ACK for the 2xx arrives (the answer to a late offer). */
  readonly confirmed: Promise<{ sdp: string }>;
  /** Ends the dialog from this side with BYE; resolves when the BYE transaction completes. */
  bye(reasonHeader?: string): Promise<void>;
  /** Called once when the dialog ends, for whatever cause. */
  onEnd(handler: (cause: DialogEndCause) => void): void;
  /** Handles re-INVITE and UPDATE; without a handler they are refused with 488. */
  onSessionChange(handler: (change: SessionChange) => Promise<SessionReply>): void;
  /** Handles REFER from the far side; without a handler it is refused with 603. */
  onRefer(handler: (refer: IncomingRefer) => void): void;
  /** A digit the far end sent as SIP INFO (application/dtmf-relay or application/dtmf). */
  onInfoDtmf(handler: (digit: string, durationMs: number) => void): void;
  /** Sends REFER; resolves when it is refused or the far side reports a final status. */
  refer(target: string, options?: ReferOptions): Promise<ReferOutcome>;
}

/** An INVITE this side sends (RFC 3261 §13.2). */
export interface OutgoingInviteRequest {
  /** The Call-ID, when the caller names the call before it leaves; else a new one. */
  callId?: string;
  /** The Request-URI, e.g. sip:+15550100999@trunk.example.com. */
  uri: string;
  /** The From URI; a tag is added. */
  from: string;
  fromDisplayName?: string;
  /** The To URI; defaults to the Request-URI. */
  to?: string;
  /** The SDP offer. */
  sdp: string;
  /** Where to send it when that is not the Request-URI's host (an outbound proxy or trunk). */
  nextHop?: string;
  transport?: SipTransport;
  headers?: Array<[string, string]>;
  /** For digest authentication on 401/407 (MD5 or SHA-256, qop=auth). */
  credentials?: { username: string; password: string };
}

export type OutgoingResult =
  | { ok: true; status: number; dialog: SipDialog; sdp: string }
  | { ok: false; status: number; reason: string };

export interface OutgoingCall {
  readonly callId: string;
  /** Each provisional response (180, 183 …) with its SDP, if any. */
  onProvisional(handler: (status: number, sdp: string) => void): void;
  /** Settles once: answered (with a dialog), refused, cancelled (487) or timed out (408). */
  readonly result: Promise<OutgoingResult>;
  /** Cancels the call if it is not answered yet (CANCEL is sent once a provisional arrived). */
  cancel(): void;
}

export interface EngineStats {
  transactions: number;
  dialogs: number;
}

/** A REGISTER (RFC 3261 §10) for the registrar to answer, once. */
export interface IncomingRegister {
  readonly callId: string;
  readonly requestUri: string;
  readonly to: string;
  readonly cseq: number;
  /** Where it came from: requests to the device go back there (and over its connection). */
  readonly source: SipPeer;
  header(name: string): string | undefined;
  /** Every value of a header, list headers (Contact) split on their commas. */
  headers(name: string): string[];
  respond(status: number, headers?: Array<[string, string]>): void;
  /** Answers nothing at all (a source being rate-limited). */
  ignore(): void;
}

export interface SipEngine {
  /** Which engine: telgate's own stack, or an application of drachtio-server. */
  readonly kind: 'native' | 'drachtio';
  onInvite(handler: (invite: IncomingInvite) => void): void;
  /** REGISTERs go to `handler`; without one they get 405. */
  onRegister(handler: (register: IncomingRegister) => void): void;
  /** A connection-oriented flow (TCP, TLS) closed: what was bound to it is unreachable. */
  onFlowClosed(handler: (peer: SipPeer) => void): void;
  /** Places a call (UAC): for transfers and outbound legs. */
  invite(request: OutgoingInviteRequest): OutgoingCall;
  start(): Promise<void>;
  /**
   * Whether the engine can take and place calls now: the native engine once started; the
   * drachtio engine while its admin connection to the daemon is up.
   */
  ready(): boolean;
  /** Ends every dialog with BYE, terminates transactions and closes transports. */
  stop(): Promise<void>;
  stats(): EngineStats;
  /** Resolves once no transaction or dialog is left. */
  whenIdle(): Promise<void>;
  /** Where the engine listens, for logs and the quick start. */
  readonly listenAddress: {
    host: string;
    /** The UDP and TCP port. */
    port: number;
    transports: Array<SipTransport>;
    /** The TLS port, when TLS listens. */
    tlsPort?: number;
    /** The SIP over WebSocket port, when it listens. */
    wsPort?: number;
  };
}
