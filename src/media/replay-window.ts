/**
 * The replay list of RFC 3711 §3.3.2: the highest packet index authenticated so far and which
 * of the 64 before it have been seen. A packet older than the window, or seen already, is a
 * replay. Indices are checked before authentication and marked only after it, so a forged
 * packet cannot move the window.
 */
const WINDOW = 64n;
const MASK = (1n << WINDOW) - 1n;

export class ReplayWindow {
  private highest = -1;
  /** Bit n: index highest − n has been seen. */
  private seen = 0n;

  /** Whether `index` may be taken (new, or inside the window and not seen yet). */
  fresh(index: number): boolean {
    if (this.highest < 0 || index > this.highest) return true;
    const behind = BigInt(this.highest - index);
    if (behind >= WINDOW) return false;
    return ((this.seen >> behind) & 1n) === 0n;
  }

  /** `index` was authenticated: it is seen from now on. */
  mark(index: number): void {
    if (index > this.highest) {
      const ahead = this.highest < 0 ? WINDOW : BigInt(index - this.highest);
      this.seen = ahead >= WINDOW ? 1n : ((this.seen << ahead) | 1n) & MASK;
      this.highest = index;
      return;
    }
    this.seen |= 1n << BigInt(this.highest - index);
  }
}
