/**
 * The in-memory store: the default when no Redis URL is configured. Caps count this process's
 * calls, the registry is this process's calls, and events go to `onEvent` only (they are also
 * in the call's log lines).
 */
import { LocalCaps } from './caps-local.js';
import type { CallEvent } from './call-events.js';
import type { Admission, Binding, CapRequest, LiveCallRecord, StateStore } from './store.js';

export class MemoryStore implements StateStore {
  readonly kind = 'memory';
  readonly health = 'up';
  onEvent?: (event: CallEvent) => void;
  private readonly caps = new LocalCaps();
  private readonly calls = new Map<string, LiveCallRecord>();
  private readonly registrations = new Map<string, Map<string, Binding>>();

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

  putBinding(aor: string, binding: Binding): Promise<void> {
    let of = this.registrations.get(aor);
    if (!of) this.registrations.set(aor, (of = new Map()));
    of.set(binding.contact, binding);
    return Promise.resolve();
  }

  removeBinding(aor: string, contact: string): Promise<void> {
    const of = this.registrations.get(aor);
    of?.delete(contact);
    if (of?.size === 0) this.registrations.delete(aor);
    return Promise.resolve();
  }

  bindings(aor: string, now = Date.now()): Promise<Binding[]> {
    const of = this.registrations.get(aor);
    if (!of) return Promise.resolve([]);
    for (const [contact, binding] of of) if (binding.expiresAt <= now) of.delete(contact);
    if (of.size === 0) this.registrations.delete(aor);
    return Promise.resolve([...of.values()]);
  }

  emit(event: CallEvent): void {
    this.onEvent?.(event);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
