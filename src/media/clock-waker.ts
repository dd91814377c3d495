/**
 * What wakes the media clock when its next tick is due.
 *
 * Node's timers fire in whole milliseconds of a loop clock that may already be stale when a
 * timer is armed, so a tick can run up to ~1.5 ms late at random, and every such jolt is a
 * jolt in the caller's RTP spacing. `ThreadWaker` waits on a helper thread instead: the thread
 * sleeps in Atomics.wait (microsecond timeouts on a futex) until the due time, then posts one
 * message, which wakes the main event loop at once through its async handle. The thread runs no
 * JavaScript but that loop; the due time and an arming counter sit in a SharedArrayBuffer, so
 * re-arming is two stores and a notify, no message. Until the thread is online, or if it ever
 * fails, the waker falls back to a timer. `TimerWaker` is the plain timer, for fake-timer tests.
 *
 * No npm package does this (high-resolution timer packages either busy-wait on the main thread
 * or are native addons), hence the few lines here.
 */
import { Worker } from 'node:worker_threads';

export interface ClockWaker {
  /** Calls the wake-up once, at or soon after `atMs` (performance.now() time), replacing any earlier arming. */
  arm(atMs: number): void;
  disarm(): void;
  close(): void;
}

export class TimerWaker implements ClockWaker {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly wake: () => void) {}

  arm(atMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, Math.max(0, atMs - performance.now()));
  }

  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.disarm();
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    this.wake();
  };
}

/**
 * The helper thread. Shared words: [0] the arming counter (Int32), [1] the due time in the
 * main thread's performance.now() milliseconds (Float64 at byte 8, 0 when disarmed). A wake-up
 * is posted once per arming. The main thread's clock is this thread's monotonic hrtime minus
 * the offset it was given, both threads reading the same CLOCK_MONOTONIC.
 */
const THREAD_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const counter = new Int32Array(workerData.shared, 0, 1);
const due = new Float64Array(workerData.shared, 8, 1);
const offset = workerData.offset;
const now = () => { const t = process.hrtime(); return t[0] * 1e3 + t[1] / 1e6 - offset; };
let posted = -1;
parentPort.postMessage('online');
for (;;) {
  const arming = Atomics.load(counter, 0);
  const at = due[0];
  if (at === 0 || arming === posted) { Atomics.wait(counter, 0, arming); continue; }
  const wait = at - now();
  if (wait > 0) { Atomics.wait(counter, 0, arming, wait); continue; }
  posted = arming;
  parentPort.postMessage(0);
}
`;

export class ThreadWaker implements ClockWaker {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly counter = new Int32Array(this.shared, 0, 1);
  private readonly due = new Float64Array(this.shared, 8, 1);
  private readonly fallback: TimerWaker;
  private thread: Worker | undefined;
  private online = false;

  constructor(
    private readonly wake: () => void,
    private readonly onFailure: (err: Error) => void = () => {},
  ) {
    this.fallback = new TimerWaker(wake);
  }

  arm(atMs: number): void {
    this.start();
    if (!this.online) {
      this.fallback.arm(atMs);
      return;
    }
    this.due[0] = atMs;
    Atomics.add(this.counter, 0, 1);
    Atomics.notify(this.counter, 0);
  }

  disarm(): void {
    this.fallback.disarm();
    if (!this.online) return;
    this.due[0] = 0;
    Atomics.add(this.counter, 0, 1);
    Atomics.notify(this.counter, 0);
  }

  /** Whether wake-ups come from the thread (false before it is online and after a failure). */
  get threaded(): boolean {
    return this.online;
  }

  close(): void {
    this.disarm();
    this.online = false;
    void this.thread?.terminate();
    this.thread = undefined;
  }

  private start(): void {
    if (this.thread) return;
    const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    const thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { shared: this.shared, offset },
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    thread.on('message', (message) => {
      if (message !== 'online') {
        this.wake();
        return;
      }
      this.online = true;
      // Whatever the fallback timer was armed for, the thread takes over; an early wake-up is harmless.
      this.fallback.disarm();
      this.wake();
    });
    thread.on('error', (err) => this.fail(err));
    thread.on('exit', () => this.fail(new Error('clock thread exited')));
    // After the listeners, which would otherwise ref it again: the thread never holds the process.
    thread.unref();
    this.thread = thread;
  }

  /** The thread is gone: timers from now on (and no new thread, which would likely fail alike). */
  private fail(err: Error): void {
    if (this.thread === undefined) return;
    this.online = false;
    this.onFailure(err);
    this.wake();
  }
}
