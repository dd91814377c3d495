/**
 * The in-memory store: the default when no Redis URL is configured. Caps count this process's
 * calls, the registry is this process's calls, and events go to `onEvent` only (they are also
 * in the call's log lines).
 */
import { LocalCaps } from './caps-local.js';
import type { CallEvent } from './call-events.js';
import type { Admission, CapRequest, LiveCallRecord, StateStore } from './store.js';

export class MemoryStore implements StateStore {
  readonly kind = 'memory';
  readonly health = 'up';
  onEvent?: (event: CallEvent) => void;
  private readonly caps = new LocalCaps();
  private readonly calls = new Map<string, LiveCallRecord>();

  acquire(_holder: string, caps: CapRequest[]): Promise<Admission> {
    const taken = this.caps.tryTake(caps);
    return Promise.resolve(
      taken.ok ? { ok: true, slot: { release: taken.release } } : { ok: false, full: taken.key },
    );
  }

  putCall(record: LiveCallRecord): void {
    this.calls.set(record.callId, record);
  }

  removeCall(callId: string): void {
    this.calls.delete(callId);
  }

  listCalls(): Promise<LiveCallRecord[]> {
    return Promise.resolve([...this.calls.values()]);
  }

  emit(event: CallEvent): void {
    this.onEvent?.(event);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
