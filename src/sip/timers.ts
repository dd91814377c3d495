/** RFC 3261 §17 timer values; T1, T2 and T4 are configurable, the rest derive from them. */
export interface SipTimers {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };

/** Retransmit interval after `count` sends: T1, 2·T1, 4·T1, … capped at T2 (timers A/E/G). */
export function backoff(timers: SipTimers, count: number): number {
  return Math.min(timers.t1 * 2 ** count, timers.t2);
}

/** Timers B, F, H, J and L: 64·T1. */
export function transactionTimeout(timers: SipTimers): number {
  return 64 * timers.t1;
}
