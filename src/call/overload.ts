/**
 * Overload protection. When the process cannot keep up with its calls, every call's audio
 * degrades together and each new call makes it worse; a gateway should rather refuse the new
 * ones. The signal is the media clock's lateness: below saturation its wake-ups run a
 * millisecond or so late, at saturation whole frames late and growing. Two seconds in a row
 * with a median of at least `lateMs` start the overload; a second under half of it (or the clock
 * idle) ends it. While it lasts new INVITEs get 503 with Retry-After, and OPTIONS too, so a
 * dispatcher in front sends calls to another instance.
 */
import type { ClockLoad } from '../media/media-clock.js';

/** Late seconds in a row before new calls are refused: one stall is not an overload. */
const LATE_SECONDS = 2;
/** What a refused caller (or its proxy) is asked to wait before trying this instance again. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 5;

export class OverloadGuard {
  private lateSeconds = 0;
  private active = false;
  private last: ClockLoad = { wakeUps: 0, medianLateMs: 0, maxLateMs: 0 };

  /**
   * `lateMs()` is read each second (a reload may change it; 0 turns the guard off);
   * `onChange` hears when the overload starts and ends.
   */
  constructor(
    private readonly lateMs: () => number,
    private readonly onChange: (overloaded: boolean, load: ClockLoad) => void,
  ) {}

  get overloaded(): boolean {
    return this.active;
  }

  /** The last second's figures, for the refusal's Reason and stats. */
  get load(): ClockLoad {
    return this.last;
  }

  onLoad(load: ClockLoad): void {
    this.last = load;
    const threshold = this.lateMs();
    const late = threshold > 0 && load.wakeUps > 0 && load.medianLateMs >= threshold;
    this.lateSeconds = late ? this.lateSeconds + 1 : 0;
    if (!this.active && this.lateSeconds >= LATE_SECONDS) {
      this.active = true;
      this.onChange(true, load);
    } else if (
      this.active &&
      (threshold <= 0 || load.wakeUps === 0 || load.medianLateMs < threshold / 2)
    ) {
      this.active = false;
      this.onChange(false, load);
    }
  }
}
