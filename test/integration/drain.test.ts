/**
 * SIGTERM drains a telgate process: OPTIONS and new INVITEs get 503 (Reason: draining), /readyz
 * says not ready, live calls run to their own end and the process exits 0 once none is left.
 * Past drain.maxSeconds the calls left get a BYE with a Reason; a second SIGTERM stops at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BASE, PUBLISHED } from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import {
  callExpecting,
  optionsExpecting,
  messagesLog,
  scenario,
  sippPorts,
  startQuietCall,
  startSipp,
  workDir,
} from '../helpers/sipp.js';
import { startTelgateProcess, type TelgateProcess } from '../helpers/telgate-process.js';
import { until } from '../helpers/wait.js';

const ECHO = '15550100100';

afterEach(async () => {
  await killAll();
});

function start(drainMaxSeconds: number): Promise<TelgateProcess> {
  return startTelgateProcess({
    sip: { listen: { host: '127.0.0.1', port: 0 } },
    media: { host: '127.0.0.1', portMin: 32600, portMax: 32619 },
    ops: { listen: { host: '127.0.0.1', port: 0 } },
    drain: { maxSeconds: drainMaxSeconds },
    localAgent: {
      enabled: true,
      listen: { host: '127.0.0.1', port: 0 },
      behaviours: { echo: { kind: 'echo' } },
    },
    baseNumbers: [{ number: BASE, extensions: true }],
    endpoints: [{ id: 'echo', baseNumber: BASE, extension: '100', flow: PUBLISHED }],
  });
}

/** Waits until the process's /calls shows `n` answered calls. */
async function answeredCalls(tg: TelgateProcess, n: number): Promise<void> {
  await until(
    async () => {
      const body = JSON.parse((await tg.ops('/calls')).body) as { calls: Array<{ state: string }> };
      return body.calls.filter((c) => c.state === 'answered').length;
    },
    (count) => count === n,
    5000,
    `${n} answered call(s)`,
  );
}

async function draining(tg: TelgateProcess): Promise<void> {
  tg.signal('SIGTERM');
  const ready = await until(
    () => tg.ops('/readyz'),
    (r) => r.status === 503,
    3000,
    'not ready',
  );
  expect(JSON.parse(ready.body)).toEqual({
    ready: false,
    reason: 'telgate draining: try another instance',
  });
}

/** sipp calls and waits for telgate's BYE; returns its message log once the call is over. */
async function callWaitingForBye(tg: TelgateProcess) {
  const dir = await workDir();
  const running = startSipp({
    dir,
    scenarioFile: await scenario(dir, 'uac_wait_bye.xml'),
    service: ECHO,
    target: tg.sipPort,
    ports: sippPorts(),
    extra: ['-trace_msg'],
  });
  return {
    done: async () => {
      const r = await running.done;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return messagesLog(dir, 'uac_wait_bye');
    },
  };
}

describe('SIGTERM drains', () => {
  it('new calls and OPTIONS get 503 while the live call runs to its own end; then it exits 0', async () => {
    const tg = await start(30);
    const live = await startQuietCall(tg.sipPort, ECHO, 3000);
    await answeredCalls(tg, 1);
    await draining(tg);

    const refusal = await callExpecting(tg.sipPort, ECHO, 503);
    expect(refusal).toMatch(/^Reason: SIP ;cause=503 ;text="telgate draining/m);
    await optionsExpecting(tg.sipPort, 503);

    expect((await live.done).code).toBe(0); // the caller hung up itself
    expect(await tg.exited()).toBe(0);
    expect(tg.logs()).toMatch(/"signal":"SIGTERM \(drained\)"/);
    expect(tg.logs()).toMatch(/"cause":"caller-hangup"/);
  });

  it('past drain.maxSeconds the calls left get a BYE with a Reason', async () => {
    const tg = await start(1);
    const call = await callWaitingForBye(tg);
    await answeredCalls(tg, 1);
    const since = Date.now();
    await draining(tg);
    const log = await call.done();
    expect(Date.now() - since).toBeGreaterThanOrEqual(900);
    expect(log).toMatch(
      /^Reason: Q\.850 ;cause=41 ;text="telgate shutting down: drain limit of 1 s"/m,
    );
    expect(await tg.exited()).toBe(0);
  });

  it('a second SIGTERM stops at once: the live call gets its BYE', async () => {
    const tg = await start(600);
    const call = await callWaitingForBye(tg);
    await answeredCalls(tg, 1);
    await draining(tg);
    tg.signal('SIGTERM');
    const log = await call.done();
    expect(log).toMatch(/^Reason: Q\.850 ;cause=41 ;text="telgate shutting down"/m);
    expect(await tg.exited()).toBe(0);
    expect(tg.logs()).toMatch(/"signal":"SIGTERM \(second\)"/);
  });
});
