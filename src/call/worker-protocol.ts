/**
 * The messages between the main thread (SIP, routing, admission, state, ops) and a call worker
 * (the calls themselves: their control, caller legs, agent sides and media clock). Object ids
 * name the SIP objects that live on the main thread: `m…` ids are made there (incoming
 * INVITEs and REFERs, the dialogs of outgoing calls), `w…` ids in the worker (the dialog an
 * answer makes, outgoing calls).
 */
import type { DialectName } from '../link/dialects/dialect.js';
import type { CallQuality, LinkFormat, TransferMode } from '../link/protocol.js';
import type { ClockLoad } from '../media/media-clock.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
import type { SipPeer } from '../sip/message.js';
import type { DialogEndCause, OutgoingInviteRequest, Rejection } from '../sip/engine.js';
import type { CallOutcome } from './call.js';
import type { CallerIdentity } from './caller-identity.js';
import type { LiveCall } from './live-call.js';
import type { StreamCallFacts } from './stream-call.js';
import type { EgressRoute } from './transfer.js';
import type { TraceContext } from './trace-context.js';

/** Given to each worker at its start. */
export interface WorkerInit {
  index: number;
  config: TelgateConfig;
  env: Record<string, string | undefined>;
  /** The TelAPI key the main thread settled on (the environment's, or the local agent's). */
  apiKey: string;
  /** Where the embedded local agent listens, when enabled. */
  localAgentUrl: string | undefined;
  /** This worker's share of the media port range. */
  portMin: number;
  portMax: number;
  logLevel: string;
}

/** An admitted INVITE, handed to a worker to run as a call. */
export interface CallStart {
  inviteId: string;
  invite: {
    callId: string;
    requestUri: string;
    from: string;
    to: string;
    source: SipPeer;
    sdp: string;
  };
  endpoint: CallEndpointConfig;
  linkFormat: LinkFormat;
  trace: TraceContext;
  /** The egress route without its slot function (the worker asks the main thread for slots). */
  egress: Omit<EgressRoute, 'acquireSlot'> | undefined;
  dialect: { name: DialectName; url: string | undefined };
  calls: TelgateConfig['calls'];
  /** What telgate vouches for about the caller, and the number it dialed. */
  identity: CallerIdentity;
  dialed: string;
}

/** A call to place through an endpoint's egress trunk (PlacedSipCall), handed to a worker. */
export interface PlacedStart {
  callId: string;
  to: string;
  endpoint: CallEndpointConfig;
  /** The egress route without its slot function (the worker asks the main thread for slots). */
  egress: Omit<EgressRoute, 'acquireSlot'>;
  ringTimeoutMs: number;
  linkFormat: LinkFormat;
  trace: TraceContext;
  dialect: { name: DialectName; url: string | undefined };
  calls: TelgateConfig['calls'];
}

/**
 * A provider call whose stream has started, handed to a worker. The stream's socket stays on the
 * main thread with the provider's wire (its messages, signatures and REST client): the worker
 * gets the caller's audio decoded and sends the caller's audio back raw, the main thread
 * encoding it in the provider's message.
 */
export interface StreamStart {
  callId: string;
  facts: StreamCallFacts;
  linkFormat: LinkFormat;
  dialect: { name: DialectName; url: string | undefined };
  calls: TelgateConfig['calls'];
}

/** What a provider's stream says, relayed to the worker running its call. */
export type StreamIn =
  | { callId: string; kind: 'audio'; audio: Uint8Array }
  | { callId: string; kind: 'digit'; digit: string }
  | { callId: string; kind: 'mark'; name: string }
  | { callId: string; kind: 'end' };

/** What a worker's provider call says to its stream, relayed to the main thread. */
export type StreamOut =
  | { callId: string; kind: 'audio'; audio: Uint8Array }
  | { callId: string; kind: 'clear' }
  | { callId: string; kind: 'mark'; name: string };

export interface CallAnswered {
  callId: string;
  mediaPort: number | undefined;
  sessionId: string | undefined;
  audio: { codec: string; linkFormat: string } | undefined;
  answeredAt: number;
}

export interface CallTransferred {
  callId: string;
  target: string;
  mode: TransferMode;
  sipStatus?: number;
}

export interface CallClosed {
  callId: string;
  /** The worker's counts once the call let go of its port and clock. */
  counts: WorkerCounts;
  outcome: CallOutcome;
  quality: CallQuality;
  linkResumes: number;
  sessionId: string | undefined;
  answeredAt: number;
}

/** What the main thread hears of a worker's call answered. */
export function callAnswered(call: LiveCall & { answeredAt: number }): CallAnswered {
  const { callId, mediaPort, sessionId, audio, answeredAt } = call;
  return { callId, mediaPort, sessionId, audio, answeredAt };
}

/** What the main thread hears of a worker's call closed. */
export function callClosed(
  call: LiveCall & { answeredAt: number },
  outcome: CallOutcome,
  counts: WorkerCounts,
): CallClosed {
  const { callId, linkResumes, sessionId, answeredAt } = call;
  return { callId, counts, outcome, quality: call.quality(), linkResumes, sessionId, answeredAt };
}

export interface WorkerCounts {
  calls: number;
  clockSubscribers: number;
  ports: { available: number; size: number };
}

/** A worker's second: its clock's lateness, its event loop's utilization, its calls and ports. */
export interface WorkerLoad extends ClockLoad, WorkerCounts {
  utilization: number;
}

export interface DialogEnd {
  id: string;
  cause: DialogEndCause;
}

export interface SessionChangeArg {
  id: string;
  changeId: number;
  method: 'INVITE' | 'UPDATE';
  offer: string;
}

export interface IncomingReferArg {
  dialogId: string;
  referId: string;
  referTo: string;
  referredBy: string | undefined;
}

export interface PlaceCallArg {
  id: string;
  request: OutgoingInviteRequest;
}

export type OutgoingResultArg = { id: string; callId: string } & (
  | { ok: true; status: number; dialogId: string; sdp: string }
  | { ok: false; status: number; reason: string }
);

export interface RejectArg {
  id: string;
  rejection: Rejection;
}
