/**
 * Overload protection. When the process cannot keep up with its calls, every call's audio
 * degrades together and each new call makes it worse; a gateway should rather refuse the new
 * ones. The signal is the event loop's utilization (the share of time it was busy, not waiting
 * for I/O or timers): measured under load it rises with the calls, ~0.6 at 100, and past ~0.9
 * the media clock's wake-ups start to run frames late (the ticks bunch up rather than each
 * running late, so the clock's median lateness barely moves; its maximum does). Two seconds in
 * a row at or above `maxUtilization` start the overload; a second under it by 0.1 (or the clock
 * idle) ends it. While it lasts new INVITEs get 503 with Retry-After, and OPTIONS too, so a
 * dispatcher in front sends calls to another instance. It is judged once a second, on the media
 * clock's load report, so only while calls run.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ClockLoad } from '../media/media-clock.js';

/** Busy seconds in a row before new calls are refused: one stall is not an overload. */
const BUSY_SECONDS = 2;
/** How far below the limit the loop must fall for calls to be taken again. */
const HYSTERESIS = 0.1;
/** What a refused caller (or its proxy) is asked to wait before trying this instance again. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 5;

/** The last second: the clock's lateness and the event loop's utilization (0–1). */
export interface LoadSecond extends ClockLoad {
  utilization: number;
}

/** The event loop's utilization since the previous call. */
export function utilizationMeter(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const since = performance.eventLoopUtilization(now, last);
    last = now;
    return since.utilization;
  };
}

/** One call worker's last second (worker-protocol.ts's WorkerLoad, as far as this needs). */
export interface WorkerSecond extends ClockLoad {
  utilization: number;
}

export class OverloadGuard {
  private busySeconds = 0;
  private active = false;
  private last: LoadSecond = { wakeUps: 0, medianLateMs: 0, maxLateMs: 0, utilization: 0 };

  /**
   * `maxUtilization()` is read each second (a reload may change it; 0 turns the guard off);
   * `onChange` hears when the overload starts and ends.
   */
  constructor(
    private readonly maxUtilization: () => number,
    private readonly onChange: (overloaded: boolean, load: LoadSecond) => void,
    private readonly utilization: () => number = utilizationMeter(),
  ) {}

  get overloaded(): boolean {
    return this.active;
  }

  /** The last second's figures, for the refusal's Reason, logs and stats. */
  get load(): LoadSecond {
    return this.last;
  }

  /**
   * The media clock's report of the last second (an idle clock reports no wake-ups); with call
   * workers, `busiestWorker` is the highest utilization among them, and counts as this thread's.
   */
  onLoad(clock: ClockLoad, busiestWorker = 0): void {
    const load = { ...clock, utilization: Math.max(this.utilization(), busiestWorker) };
    this.last = load;
    const limit = this.maxUtilization();
    const running = limit > 0 && load.wakeUps > 0;
    this.busySeconds = running && load.utilization >= limit ? this.busySeconds + 1 : 0;
    if (!this.active && this.busySeconds >= BUSY_SECONDS) {
      this.active = true;
      this.onChange(true, load);
    } else if (this.active && (!running || load.utilization < limit - HYSTERESIS)) {
      this.active = false;
      this.onChange(false, load);
    }
  }

  /** With call workers, once a second: their clocks and loops together, the worst counting. */
  onWorkerLoads(loads: WorkerSecond[]): void {
    const clock: ClockLoad = { wakeUps: 0, medianLateMs: 0, maxLateMs: 0 };
    let busiest = 0;
    for (const load of loads) {
      clock.wakeUps += load.wakeUps;
      clock.medianLateMs = Math.max(clock.medianLateMs, load.medianLateMs);
      clock.maxLateMs = Math.max(clock.maxLateMs, load.maxLateMs);
      busiest = Math.max(busiest, load.utilization);
    }
    this.onLoad(clock, busiest);
  }
}
