/**
 * The replay list of RFC 3711 §3.3.2: the highest packet index authenticated so far and which
 * of the 64 before it have been seen. A packet older than the window, or seen already, is a
 * replay. Indices are checked before authentication and marked only after it, so a forged
 * packet cannot move the window.
 *
 * Each of 64 slots holds the last index marked in it (index mod 64): inside the window an index
 * has its slot to itself, so "seen" is "its slot holds it". No allocation per packet.
 */
const WINDOW = 64;

export class ReplayWindow {
  private highest = -1;
  private readonly slots = new Float64Array(WINDOW).fill(-1);

  /** Whether `index` may be taken (new, or inside the window and not seen yet). */
  fresh(index: number): boolean {
    if (index > this.highest) return true;
    if (this.highest - index >= WINDOW) return false;
    return this.slots[index % WINDOW] !== index;
  }

  /** `index` was authenticated: it is seen from now on. */
  mark(index: number): void {
    this.slots[index % WINDOW] = index;
    if (index > this.highest) this.highest = index;
  }
}
