/**
 * Calls in call worker threads (media.workers 2) whatever TEST_WORKERS says: calls spread over
 * the workers, and a worker that dies ends its own calls (BYE with a Reason) while the process,
 * the other worker's call and the next calls go on.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallOutcome } from '../../src/call/call.js';
import {
  callsClosed,
  expectNothingLeft,
  NUMBERS,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { callAnswered, startQuietCall } from '../helpers/sipp.js';
import { until } from '../helpers/wait.js';

let tg: TestGateway;
beforeAll(async () => {
  const config = testConfig(21340, (raw) => {
    (raw.media as Record<string, unknown>).workers = 2;
  });
  tg = await startGateway(config);
});
afterAll(() => tg?.stop());
afterEach(async () => {
  await killAll();
  await expectNothingLeft(tg);
});

describe('call workers', () => {
  it('spread calls over the workers, and give every port and clock back', async () => {
    const events = tg.gateway.events;
    const first = once(events, 'answered');
    const held = [await startQuietCall(tg.sipPort, NUMBERS.echo, 3000)];
    await first;
    const second = once(events, 'answered');
    held.push(await startQuietCall(tg.sipPort, NUMBERS.tone, 3000));
    await second;
    expect(tg.gateway.stats().workers?.map((w) => w.calls)).toEqual([1, 1]);
    for (const call of held) expect((await call.done).code).toBe(0);
    await callsClosed(tg.gateway);
    const stats = tg.gateway.stats();
    expect(stats.clockSubscribers).toBe(0);
    expect(stats.ports.available).toBe(stats.ports.size);
    expect(stats.endings['caller-hangup']).toBeGreaterThanOrEqual(2);
  });

  it('a dead worker ends its call with a BYE and a Reason; the rest goes on', async () => {
    const events = tg.gateway.events;
    const outcomes = new Map<string, CallOutcome>();
    events.on('closed', (callId, outcome) => outcomes.set(callId, outcome));
    let answered = once(events, 'answered');
    const doomed = await startQuietCall(tg.sipPort, NUMBERS.echo, 6000);
    const [doomedId] = await answered;
    answered = once(events, 'answered');
    const survivor = await startQuietCall(tg.sipPort, NUMBERS.tone, 6000);
    const [survivorId] = await answered;
    // The fewest calls go first: the first call is on worker 0.
    const [first] = tg.gateway.workerThreads;
    const exited = once(first, 'exit');
    await first.terminate();
    await exited;
    expect(outcomes.get(doomedId)).toMatchObject({
      ended: 'worker-failed',
      reason: expect.stringContaining('cause=41'),
    });
    // sipp got a BYE it did not expect: its scenario fails, as a caller's would end.
    expect((await doomed.done).code).not.toBe(0);
    expect((await survivor.done).code).toBe(0);
    if (!outcomes.has(survivorId)) await once(events, 'closed');
    expect(outcomes.get(survivorId)).toMatchObject({ ended: 'caller-hangup' });
    // A new worker took the dead one's place (no event says when it is ready: polled).
    await until(
      () => tg.gateway.stats().workers,
      (workers) => tg.gateway.workerThreads[0] !== first && workers?.length === 2,
      5000,
      'a new worker',
    );
    await callAnswered(tg.sipPort, NUMBERS.echo, 200);
  }, 40_000);
});
