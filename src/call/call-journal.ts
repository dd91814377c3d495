/**
 * The journal of one admitted call: its entry in the live call registry and its events
 * (started, answered, transferred, ended), kept in step from one place so that they cannot
 * disagree. The gateway counts the same moments in its metrics.
 */
import type { CallEvent } from '../state/call-events.js';
import type { LiveCallRecord, StateStore } from '../state/store.js';
import type { CallOutcome } from './call.js';
import type { LiveCall } from './live-call.js';
import type { TraceContext } from './trace-context.js';

export interface CallFacts {
  callId: string;
  endpointId: string;
  caller: string;
  dialed: string;
  source: string;
  trace: TraceContext;
  /** When the INVITE arrived (ms since the epoch). */
  invitedAt: number;
}

export class CallJournal {
  private readonly record: LiveCallRecord;

  constructor(
    private readonly facts: CallFacts,
    private readonly instance: string,
    private readonly store: StateStore,
  ) {
    this.record = {
      callId: facts.callId,
      instance,
      endpointId: facts.endpointId,
      caller: facts.caller,
      dialed: facts.dialed,
      traceId: facts.trace.traceId,
      state: 'setting-up',
      startedAt: facts.invitedAt,
    };
    store.putCall(this.record);
    this.emit({
      type: 'started',
      ...this.common(),
      caller: facts.caller,
      dialed: facts.dialed,
      source: facts.source,
    });
  }

  /** Records the answer; returns the set-up time (INVITE to 200 OK) in ms. */
  answered(call: Pick<LiveCall, 'sessionId' | 'audio'>): number {
    const now = Date.now();
    const setupMs = now - this.facts.invitedAt;
    Object.assign(this.record, { state: 'answered', answeredAt: now, sessionId: call.sessionId });
    this.store.putCall(this.record);
    const audio = call.audio;
    this.emit({
      type: 'answered',
      ...this.common(now),
      sessionId: call.sessionId ?? '',
      codec: audio?.codec ?? '',
      linkFormat: audio?.linkFormat ?? '',
      setupMs,
    });
    return setupMs;
  }

  transferred(target: string, mode: 'blind' | 'bridged' | 'warm', sipStatus?: number): void {
    this.record.state = mode === 'blind' ? 'transferring' : 'bridged';
    this.store.putCall(this.record);
    this.emit({ type: 'transferred', ...this.common(), target, mode, sipStatus });
  }

  ended(call: Pick<LiveCall, 'quality'> | undefined, outcome: CallOutcome): void {
    this.store.removeCall(this.facts.callId);
    const now = Date.now();
    const refused = 'refused' in outcome;
    const answeredAt = this.record.answeredAt;
    this.emit({
      type: 'ended',
      ...this.common(now),
      outcome: refused ? 'refused' : 'ended',
      cause: refused ? outcome.refused : outcome.ended,
      sipStatus: refused ? outcome.status : 200,
      reason: outcome.reason,
      durationMs: now - this.facts.invitedAt,
      talkMs: answeredAt ? now - answeredAt : 0,
      quality: answeredAt && call ? call.quality() : undefined,
    });
  }

  private common(at = Date.now()) {
    return {
      callId: this.facts.callId,
      instance: this.instance,
      traceId: this.facts.trace.traceId,
      spanId: this.facts.trace.spanId,
      at,
      endpointId: this.facts.endpointId,
    };
  }

  private emit(event: CallEvent): void {
    this.store.emit(event);
  }
}
