/**
 * One shared 20 ms clock for every call's outgoing audio. Each tick's deadline is computed
 * from the start time (hrtime), so timer lateness never accumulates into drift; a late wake-up
 * runs the ticks it missed (up to a bound) and then carries on from the schedule.
 * The clock only holds a timer while it has subscribers.
 */

export interface Tickable {
  onTick(): void;
}

const MAX_CATCH_UP_TICKS = 5;

export class MediaClock {
  private readonly subscribers = new Set<Tickable>();
  private timer: NodeJS.Timeout | undefined;
  private startNs = 0n;
  private ticks = 0;

  constructor(readonly periodMs = 20) {}

  add(subscriber: Tickable): void {
    this.subscribers.add(subscriber);
    if (!this.timer) this.start();
  }

  remove(subscriber: Tickable): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  get size(): number {
    return this.subscribers.size;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  private start(): void {
    this.startNs = process.hrtime.bigint();
    this.ticks = 0;
    this.schedule();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.startNs) / 1e6;
  }

  private schedule(): void {
    const wait = Math.max(0, (this.ticks + 1) * this.periodMs - this.elapsedMs());
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    const due = Math.floor(this.elapsedMs() / this.periodMs);
    if (due - this.ticks > MAX_CATCH_UP_TICKS) this.ticks = due - MAX_CATCH_UP_TICKS;
    while (this.ticks < due) {
      this.ticks++;
      for (const subscriber of this.subscribers) subscriber.onTick();
    }
    if (this.subscribers.size) this.schedule();
    else this.timer = undefined;
  }
}
