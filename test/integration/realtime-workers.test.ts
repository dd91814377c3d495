/**
 * media.realtimePriority: each call worker thread puts itself under SCHED_RR at that priority
 * (the test runs as root, as CI does, so the kernel allows it); the main thread and V8's and
 * libuv's helpers keep the ordinary policy; calls run as usual. Read back from the kernel's own
 * view of each thread (/proc/self/task/TID/stat), not from telgate.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { callsClosed, gatewayForFile, NUMBERS } from '../helpers/gateway.js';
import { startQuietCall } from '../helpers/sipp.js';
import { until } from '../helpers/wait.js';

const SCHED_RR = 2;
const PRIORITY = 3;

/** This process's threads by scheduling policy and real-time priority (proc(5): fields 41, 40). */
function threadsByPolicy(): Array<{ tid: string; policy: number; rtPriority: number }> {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      return []; // the thread ended meanwhile
    }
    // Fields after the command name (which may hold spaces) start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [{ tid, rtPriority: Number(fields[40 - 3]), policy: Number(fields[41 - 3]) }];
  });
}

const realtime = () =>
  threadsByPolicy().filter((t) => t.policy === SCHED_RR && t.rtPriority === PRIORITY);

const gateway = gatewayForFile(21380, (raw) => {
  Object.assign(raw.media as Record<string, unknown>, { workers: 2, realtimePriority: PRIORITY });
});

describe('call workers at real-time priority', () => {
  it('runs each worker thread, and only those, under SCHED_RR at the priority', () => {
    expect(process.getuid?.()).toBe(0); // the kernel allows SCHED_RR to root
    const threads = threadsByPolicy();
    expect(realtime()).toHaveLength(2);
    const main = threads.find((t) => t.tid === String(process.pid));
    expect(main?.policy).toBe(0); // SCHED_OTHER
    expect(threads.filter((t) => t.policy !== 0)).toHaveLength(2);
  });

  it('carries calls as usual, and a replaced worker gets the priority too', async () => {
    const answered = once(gateway.current.gateway.events, 'answered');
    const call = await startQuietCall(gateway.current.sipPort, NUMBERS.echo, 1000);
    await answered;
    expect(gateway.current.gateway.stats().workers?.reduce((sum, w) => sum + w.calls, 0)).toBe(1);
    expect((await call.done).code).toBe(0);
    await callsClosed(gateway.current.gateway);

    const [first] = gateway.current.gateway.workerThreads;
    const exited = once(first, 'exit');
    await first.terminate();
    await exited;
    // No event says when the new worker has started: polled, bounded.
    await until(realtime, (threads) => threads.length === 2, 10_000, 'a new real-time worker');
    expect(gateway.current.gateway.workerThreads[0]).not.toBe(first);
  });
});
