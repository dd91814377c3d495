import { describe, expect, it } from 'vitest';
import { ThreadWaker } from '../../src/media/clock-waker.js';
import { MediaClock } from '../../src/media/media-clock.js';

/** Resolves with performance.now() at the next wake-up of a waker built around it. */
function wakeRecorder() {
  let resolve: (at: number) => void = () => {};
  const woke: number[] = [];
  const waker = new ThreadWaker(() => {
    woke.push(performance.now());
    resolve(performance.now());
  });
  const next = () => new Promise<number>((r) => (resolve = r));
  return { waker, woke, next };
}

describe('thread waker', () => {
  it('wakes at the armed time, never before, on its thread once online', async () => {
    const { waker, next } = wakeRecorder();
    // Armed before the thread is online: the fallback timer wakes it, or the thread on arrival.
    let at = performance.now() + 5;
    waker.arm(at);
    expect(await next()).toBeGreaterThanOrEqual(at - 1);
    while (!waker.threaded) {
      waker.arm(performance.now() + 1);
      await next();
    }
    for (let i = 0; i < 20; i++) {
      at = performance.now() + 3;
      waker.arm(at);
      expect(await next()).toBeGreaterThanOrEqual(at);
    }
    waker.close();
    expect(waker.threaded).toBe(false);
  });

  it('re-arming replaces the earlier time, and disarming stops the wake-up', async () => {
    const a = wakeRecorder();
    const b = wakeRecorder();
    for (const r of [a, b]) {
      while (!r.waker.threaded) {
        r.waker.arm(performance.now() + 1);
        await r.next();
      }
    }
    a.woke.length = 0;
    const now = performance.now();
    a.waker.arm(now + 10);
    a.waker.arm(now + 40); // replaces +10
    const aWoke = a.next();
    b.waker.arm(now + 25);
    await b.next();
    expect(a.woke).toEqual([]); // not at +10
    expect(await aWoke).toBeGreaterThanOrEqual(now + 40);
    a.waker.arm(performance.now() + 5);
    a.waker.disarm();
    a.woke.length = 0;
    b.waker.arm(performance.now() + 30);
    await b.next();
    expect(a.woke).toEqual([]);
    a.waker.close();
    b.waker.close();
  });

  it('drives a media clock: ticks every 20 ms of media time, and close() ends it', async () => {
    const clock = new MediaClock(20);
    const ticks: number[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    clock.add({
      onTick: (at) => {
        ticks.push(at);
        if (ticks.length === 10) done();
      },
    });
    await finished;
    clock.close();
    expect(clock.size).toBe(0);
    expect(clock.running).toBe(false);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(20);
  });
});
