/**
 * When each of the caller's packets is due to leave the jitter buffer: its target delay after
 * the time it would have arrived with the least delay the stream has shown lately.
 *
 * Each packet's offset (arrival − media time, media time counted from the stream's first RTP
 * timestamp) is noted; the reference is the lowest offset of the current and the previous 50
 * packets, so it follows a sender whose clock runs slow within two windows, and a fast one at
 * once. Releasing by due time means one late packet does not hold back the one before it (a
 * buffer that releases only when the next packet comes would).
 */

/** Media time after which the origin moves up to the present packet. */
const REBASE_AFTER_MS = 600_000;

export class ReleaseSchedule {
  private firstTimestamp: number | undefined;
  private offsetNow = Infinity;
  private offsetBefore = Infinity;
  private offsetCount = 0;
  /** The RTP timestamp of the next packet to release, once one has been. */
  next: number | undefined;

  constructor(private readonly clockRate: number) {}

  /** A packet arrived at `nowMs`; `restarted` when the buffer started the stream over. */
  noteArrival(timestamp: number, nowMs: number, restarted: boolean): void {
    if (restarted || this.firstTimestamp === undefined) {
      this.firstTimestamp = timestamp;
      this.offsetNow = this.offsetBefore = Infinity;
      this.next = undefined;
    }
    const media = this.mediaMs(timestamp);
    if (media > REBASE_AFTER_MS) {
      // A new origin long before the 32-bit difference could overflow (12 h at 48 kHz).
      this.firstTimestamp = timestamp;
      this.offsetNow += media;
      this.offsetBefore += media;
      return this.noteArrival(timestamp, nowMs, false);
    }
    this.offsetNow = Math.min(this.offsetNow, nowMs - media);
    if (++this.offsetCount % 50 === 0) {
      this.offsetBefore = this.offsetNow;
      this.offsetNow = Infinity;
    }
  }

  /** A packet was released (its timestamp), or a lost one concealed, lasting `ticks`. */
  released(timestamp: number | 'lost', ticks: number): void {
    if (timestamp !== 'lost') this.next = (timestamp + ticks) >>> 0;
    else if (this.next !== undefined) this.next = (this.next + ticks) >>> 0;
  }

  /** When (clock ms) the packet with `timestamp` is due, with the buffer's `targetMs`. */
  dueAt(timestamp: number, targetMs: number): number {
    const reference = Math.min(this.offsetNow, this.offsetBefore);
    return reference + this.mediaMs(timestamp) + targetMs;
  }

  /** Milliseconds of media from the stream's first timestamp (the 32-bit wrap included). */
  private mediaMs(timestamp: number): number {
    return (((timestamp - (this.firstTimestamp ?? timestamp)) | 0) * 1000) / this.clockRate;
  }
}
