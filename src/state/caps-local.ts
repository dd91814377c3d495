/**
 * Concurrency caps counted in this process: the in-memory store's caps, and the Redis store's
 * mirror of its own slots (what it falls back to while Redis is away under `onOutage: local`).
 */
import type { CapRequest } from './store.js';

export class LocalCaps {
  private readonly counts = new Map<string, number>();

  /** Takes one slot under every cap, or none: the release, or the key of the cap that was full. */
  tryTake(requests: CapRequest[]): { ok: true; release: () => void } | { ok: false; key: string } {
    const full = requests.find((r) => (this.counts.get(r.key) ?? 0) >= r.limit);
    if (full) return { ok: false, key: full.key };
    return { ok: true, release: this.take(requests) };
  }

  /** Counts one slot under every cap whatever the limits (a slot Redis already granted). */
  take(requests: CapRequest[]): () => void {
    for (const r of requests) this.counts.set(r.key, (this.counts.get(r.key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const r of requests) {
        const left = (this.counts.get(r.key) ?? 1) - 1;
        if (left > 0) this.counts.set(r.key, left);
        else this.counts.delete(r.key);
      }
    };
  }
}
