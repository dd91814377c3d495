/**
 * The media clock: every call's outgoing audio ticks on it, each call at its own phase.
 *
 * Time is counted in whole milliseconds since the clock started (performance.now(): monotonic,
 * so timer lateness never accumulates into drift, and a plain number: it is read per packet).
 * Each subscriber has its own due millisecond and ticks every period from there; a tick may ask
 * for its next one later (a talkspurt aligned to the agent's audio), or sooner when it sent
 * nothing. New subscribers take the least busy millisecond of the period, so 300 calls cost ~15
 * sends per millisecond rather than 300 sends in one burst every 20 ms: a packet arriving
 * meanwhile waits for a few sends at most, and every call's packets leave at an even pace.
 * Subscribers sit in a ring of per-millisecond buckets; the timer is armed for the next
 * non-empty one.
 *
 * A late wake-up runs the ticks that became due meanwhile, each subscriber's in order, up to
 * MAX_CATCH_UP_MS behind; beyond that the schedule jumps ahead (audio then waits rather than
 * leaving in a long burst). The clock holds a timer only while it has subscribers.
 *
 * Load: every wake-up's lateness (how long after its due millisecond the timer ran) is kept for
 * the current second; each second `onLoad` gets the count, the median and the maximum (the
 * overload guard's beat). Near saturation the ticks bunch up into fewer, later wake-ups: the
 * maximum and the count show it, the median hardly. Stopping (no subscribers) reports an empty
 * second.
 */

/** How late the clock's wake-ups ran over one second. */
export interface ClockLoad {
  /** Wake-ups in the second (0: the clock stopped). */
  wakeUps: number;
  medianLateMs: number;
  maxLateMs: number;
}

export interface Tickable {
  /**
   * One tick, due at `atMs` on the clock (elapsedMs()); returns the milliseconds until the next
   * one, or nothing for one period. A tick that sent nothing may ask for its next one sooner.
   */
  onTick(atMs: number): number | void;
}

/** Ticks further behind than this are skipped, not caught up. */
const MAX_CATCH_UP_MS = 100;
/** Buckets in the ring: more than the furthest a tick may be scheduled ahead. */
const RING = 128;
/** The furthest ahead a tick may ask for its next one. */
const MAX_DELAY_MS = RING - 1;
/** The window of the load figures. */
const LOAD_WINDOW_MS = 1000;
/** Wake-ups kept per window: one per millisecond at most, as ticks fall on whole ones. */
const MAX_WAKE_UPS = LOAD_WINDOW_MS + 24;

/** A subscriber's place in the schedule: a node of its due millisecond's bucket. */
interface Entry {
  readonly subscriber: Tickable;
  /** Its due millisecond; -1 while its tick runs. */
  at: number;
  /** Cleared by remove(): the node is dropped when its bucket runs. */
  live: boolean;
  next: Entry | null;
}

/**
 * A millisecond's subscribers, in the order they were put there. Plain linked nodes rather than
 * a Set: a Set that fills and empties every period rehashes each time, on the hot path.
 */
interface Bucket {
  head: Entry | null;
  tail: Entry | null;
  /** Live entries. */
  size: number;
}

export class MediaClock {
  private readonly entries = new Map<Tickable, Entry>();
  private readonly buckets: Bucket[] = Array.from({ length: RING }, () => ({
    head: null,
    tail: null,
    size: 0,
  }));
  private timer: NodeJS.Timeout | undefined;
  private armedFor = -1;
  /**
   * The global `performance`, kept: V8 looks a global up on every read in a worker thread
   * (perf), a field it reads inline.
   */
  private readonly performance = performance;
  private readonly origin = this.performance.now();
  /** The last millisecond whose bucket has run. */
  private processed = 0;
  private readonly lateness = new Float64Array(MAX_WAKE_UPS);
  private wakeUps = 0;
  private windowStart = 0;
  /** Told each second how late the wake-ups ran. */
  onLoad: ((load: ClockLoad) => void) | undefined;

  constructor(readonly periodMs = 20) {}

  /** Starts ticking `subscriber` within the next period, at the least busy millisecond. */
  add(subscriber: Tickable): void {
    if (this.entries.has(subscriber)) return;
    if (this.entries.size === 0) this.start();
    const now = Math.max(this.processed, this.nowMs());
    let best = now + 1;
    for (let at = now + 1; at <= now + this.periodMs; at++) {
      if (this.buckets[at % RING].size < this.buckets[best % RING].size) best = at;
    }
    const entry: Entry = { subscriber, at: best, live: true, next: null };
    this.entries.set(subscriber, entry);
    this.put(entry, best);
    this.arm();
  }

  remove(subscriber: Tickable): void {
    const entry = this.entries.get(subscriber);
    if (!entry) return;
    entry.live = false;
    if (entry.at >= 0) this.buckets[entry.at % RING].size--;
    this.entries.delete(subscriber);
    if (this.entries.size === 0) this.stop();
  }

  get size(): number {
    return this.entries.size;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Milliseconds since the clock started, fractional. */
  elapsedMs(): number {
    return this.performance.now() - this.origin;
  }

  private nowMs(): number {
    return Math.floor(this.elapsedMs());
  }

  private put(entry: Entry, at: number): void {
    entry.at = at;
    entry.next = null;
    const bucket = this.buckets[at % RING];
    if (bucket.tail) bucket.tail.next = entry;
    else bucket.head = entry;
    bucket.tail = entry;
    bucket.size++;
  }

  /** From idle: the schedule resumes at the present (the time origin itself never moves). */
  private start(): void {
    this.processed = Math.max(this.processed, this.nowMs());
    this.wakeUps = 0;
    this.windowStart = this.elapsedMs();
  }

  private stop(): void {
    // Removed entries wait in their buckets until these run: dropped now, with what they hold.
    this.emptyBuckets();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = -1;
    this.onLoad?.({ wakeUps: 0, medianLateMs: 0, maxLateMs: 0 });
  }

  /** Keeps one wake-up's lateness; at the end of the second, reports the window. */
  private noteLateness(lateMs: number, nowMs: number): void {
    if (this.wakeUps < MAX_WAKE_UPS) this.lateness[this.wakeUps++] = lateMs;
    if (nowMs - this.windowStart < LOAD_WINDOW_MS) return;
    const window = this.lateness.subarray(0, this.wakeUps).sort();
    const load = {
      wakeUps: window.length,
      medianLateMs: window[window.length >> 1] ?? 0,
      maxLateMs: window[window.length - 1] ?? 0,
    };
    this.wakeUps = 0;
    this.windowStart = nowMs;
    this.onLoad?.(load);
  }

  /** Arms the timer for the next non-empty bucket, unless it already is for that one. */
  private arm(): void {
    let next = -1;
    for (let at = this.processed + 1; at <= this.processed + RING; at++) {
      if (this.buckets[at % RING].size) {
        next = at;
        break;
      }
    }
    if (next < 0 || next === this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(this.onTimer, Math.max(0, next - this.elapsedMs()));
  }

  private readonly onTimer = () => this.fire();

  private fire(): void {
    const elapsed = this.elapsedMs();
    this.noteLateness(Math.max(0, elapsed - this.armedFor), elapsed);
    this.armedFor = -1;
    this.timer = undefined;
    const now = Math.floor(elapsed);
    if (now - this.processed > MAX_CATCH_UP_MS) this.skipTo(now - MAX_CATCH_UP_MS);
    while (this.processed < now) {
      const at = ++this.processed;
      const bucket = this.buckets[at % RING];
      // The bucket is taken whole: a tick's next bucket is never this one (delays are below
      // RING), and an entry removed meanwhile is skipped as its turn comes.
      let entry = bucket.head;
      bucket.head = bucket.tail = null;
      while (entry) {
        const following = entry.next;
        if (entry.live) {
          bucket.size--;
          entry.at = -1; // off the schedule while it ticks
          const asked = entry.subscriber.onTick(at);
          if (entry.live) {
            const delay = Math.min(MAX_DELAY_MS, Math.max(1, Math.ceil(asked ?? this.periodMs)));
            this.put(entry, at + delay);
          }
        }
        entry = following;
      }
    }
    if (this.entries.size) this.arm();
  }

  /** After a long stall: every subscriber's next tick moves, a whole number of periods on. */
  private skipTo(at: number): void {
    this.emptyBuckets();
    for (const entry of this.entries.values()) {
      const due = entry.at;
      this.put(
        entry,
        due > at ? due : due + Math.ceil((at + 1 - due) / this.periodMs) * this.periodMs,
      );
    }
    this.processed = at;
  }

  private emptyBuckets(): void {
    for (const bucket of this.buckets) {
      bucket.head = bucket.tail = null;
      bucket.size = 0;
    }
  }
}
