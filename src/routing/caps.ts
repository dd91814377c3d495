/**
 * Concurrency caps (per base number, per trunk). Counted in this process for now; a shared
 * (Redis) implementation can replace InProcessCaps behind the CallCaps interface.
 */

export interface CapRequest {
  key: string;
  limit: number;
}

export interface CallCaps {
  /** Takes one slot under every cap, or none: returns the release, or the cap that was full. */
  acquire(requests: CapRequest[]): { ok: true; release: () => void } | { ok: false; key: string };
  count(key: string): number;
}

export class InProcessCaps implements CallCaps {
  private readonly counts = new Map<string, number>();

  acquire(requests: CapRequest[]): { ok: true; release: () => void } | { ok: false; key: string } {
    const full = requests.find((r) => (this.counts.get(r.key) ?? 0) >= r.limit);
    if (full) return { ok: false, key: full.key };
    for (const r of requests) this.counts.set(r.key, (this.counts.get(r.key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        for (const r of requests) {
          const left = (this.counts.get(r.key) ?? 1) - 1;
          if (left > 0) this.counts.set(r.key, left);
          else this.counts.delete(r.key);
        }
      },
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
