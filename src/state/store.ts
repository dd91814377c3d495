/**
 * The state store: what telgate shares with the other instances of its cluster. Concurrency
 * caps as leased slots, the registry of live calls, and call events. The in-memory store keeps
 * it all in this process (one instance, no Redis); the Redis store shares it (docs/operations.md).
 */
import type { SipTransport } from '../sip/message.js';
import type { CallEvent } from './call-events.js';

export interface CapRequest {
  /** `base:+15550100`, `trunk:carrier-a`, `endpoint:echo`, `provider:openai-realtime`. */
  key: string;
  limit: number;
}

/** One slot under each cap of an admission, held until released (or its lease runs out). */
export interface Slot {
  /** Idempotent. */
  release(): void;
}

export type Admission =
  | { ok: true; slot: Slot }
  /** A cap is full: its key. */
  | { ok: false; full: string }
  /** The shared state cannot be reached and the outage policy refuses calls. */
  | { ok: false; unavailable: string };

/** A live call as the registry shows it (`voiceai:calls:<callId>` in Redis). */
export interface LiveCallRecord {
  callId: string;
  instance: string;
  endpointId: string;
  caller: string;
  dialed: string;
  sessionId?: string;
  traceId: string;
  state: 'setting-up' | 'answered' | 'transferring' | 'bridged';
  startedAt: number;
  answeredAt?: number;
}

/** A device's registration (RFC 3261 §10) of one contact, as the registrar keeps it. */
export interface Binding {
  /** The Contact URI the device registered. */
  contact: string;
  /** ms since the epoch. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Where its REGISTER came from: requests to the device go there (NAT), over that transport. */
  source: { transport: SipTransport; address: string; port: number };
  /** The instance that holds its connection (TCP, TLS). */
  instance: string;
  /**
   * An RFC 5626 outbound registration's flow: the device's `+sip.instance` and `reg-id`. A new
   * REGISTER of the same flow replaces the binding, and it goes when its connection closes.
   */
  flow?: { instance: string; regId: string };
}

export type StoreHealth = 'up' | 'degraded' | 'refusing';

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** 'up'; 'degraded' while Redis is away under `onOutage: local`; 'refusing' under `refuse`. */
  readonly health: StoreHealth;
  /** Takes one slot under every cap, or none, atomically across the cluster. */
  acquire(holder: string, caps: CapRequest[]): Promise<Admission>;
  /** Adds or updates a live call; it lives as long as this instance renews it. */
  putCall(record: LiveCallRecord): void;
  removeCall(callId: string): void;
  /** The live calls of the whole cluster. */
  listCalls(): Promise<LiveCallRecord[]>;
  /** Adds or refreshes a binding of `aor` (a device's username), cluster-wide. */
  putBinding(aor: string, binding: Binding): Promise<void>;
  removeBinding(aor: string, contact: string): Promise<void>;
  /** The unexpired bindings of `aor`. */
  bindings(aor: string): Promise<Binding[]>;
  /** Appends a call event (best effort: an outage never holds a call up). */
  emit(event: CallEvent): void;
  /** Told about every event as it is emitted here, for metrics and tests. */
  onEvent?: (event: CallEvent) => void;
  /** Told when `health` changes (Redis lost or back). */
  onHealth?: (health: StoreHealth) => void;
  close(): Promise<void>;
}
