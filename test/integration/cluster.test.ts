/**
 * Two telgate processes behind a real Kamailio (dispatcher, OPTIONS probing), sharing a real
 * redis-server: calls spread over both, a cap holds across them, a rolling restart under a
 * steady load through Kamailio loses no call, and the slots of an instance killed with SIGKILL
 * free themselves within the lease while Kamailio sends new calls to the other instance.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventFromFields, type CallEvent } from '../../src/state/call-events.js';
import { clusterConfig } from '../helpers/cluster.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { killAll, runProcess } from '../helpers/processes.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import {
  callAnswered,
  callExpecting,
  scenario,
  sippPorts,
  startQuietCall,
  startSipp,
  WITHOUT_TONE,
  workDir,
} from '../helpers/sipp.js';
import { startTelgateProcess, type TelgateProcess } from '../helpers/telgate-process.js';
import { until } from '../helpers/wait.js';

/** Below the kernel's ephemeral range (32768 and up), where a port may be taken at any time. */
const REDIS_PORT = 19400 + (process.pid % 100);
const LEASE_SECONDS = 2;
const ECHO = '15550100100';
const CAPPED = '15550100200';

interface Instance {
  name: 'a' | 'b';
  sipPort: number;
  mediaMin: number;
  process?: TelgateProcess;
}

let redis: TestRedis;
let kamailio: Kamailio;
const instances: Instance[] = [
  { name: 'a', sipPort: sippPorts().sip, mediaMin: 32400 },
  { name: 'b', sipPort: sippPorts().sip, mediaMin: 32500 },
];
const [a, b] = instances as [Instance, Instance];

function config(instance: Instance): Record<string, unknown> {
  return clusterConfig(instance, {
    redisUrl: redis.url,
    leaseSeconds: LEASE_SECONDS,
    drainMaxSeconds: 30,
    mediaPorts: 100,
    capped: { capped: 1 },
  });
}

async function start(instance: Instance): Promise<TelgateProcess> {
  instance.process = await startTelgateProcess(config(instance));
  return instance.process;
}

const uri = (instance: Instance) => `sip:127.0.0.1:${instance.sipPort}`;

/** A config folder for the CLI: defaults, the Redis URL from the environment. */
async function cliConfigDir(): Promise<string> {
  const dir = await workDir();
  await fs.writeFile(path.join(dir, 'telgate.yaml'), `state: { leaseSeconds: ${LEASE_SECONDS} }\n`);
  return dir;
}

async function events(): Promise<CallEvent[]> {
  const entries = await redis.client.xrange('voiceai:call-events', '-', '+');
  return entries.map(([, fields]) => eventFromFields(fields));
}

/** Slots under a cap whose lease has not run out, by Redis's clock. */
async function liveSlots(cap: string): Promise<string[]> {
  const [seconds, micros] = await redis.client.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  return redis.client.zrangebyscore(`voiceai:cap:${cap}`, `(${now}`, '+inf');
}

/** Waits until Kamailio's dispatcher holds `instance` active (after a restart). */
async function activeInKamailio(instance: Instance): Promise<void> {
  await until(
    () => kamailio.destinations(),
    (d) => d.find((x) => x.uri === uri(instance))?.flags.startsWith('A') ?? false,
    15_000,
    `${uri(instance)} active in Kamailio`,
  );
}

/** Waits for the registry to show the capped endpoint's call answered; returns its record. */
async function cappedCallAnswered(): Promise<Record<string, string>> {
  return until(
    async () => {
      const ids = await redis.client.zrange('voiceai:calls', 0, -1);
      const records = await Promise.all(
        ids.map((id) => redis.client.hgetall(`voiceai:calls:${id}`)),
      );
      return records.find((r) => r.endpointId === 'capped' && r.state === 'answered');
    },
    (r) => r !== undefined,
    5000,
    'the capped call answered in the registry',
  ) as Promise<Record<string, string>>;
}

beforeAll(async () => {
  redis = await startRedis(REDIS_PORT);
  await Promise.all(instances.map(start));
  kamailio = await startKamailio(sippPorts().sip, instances.map(uri));
}, 60_000);

afterAll(async () => {
  await kamailio?.stop();
  await killAll();
  await redis?.close();
});

describe('two instances behind Kamailio with shared state in Redis', () => {
  it('calls spread over both; an endpoint capped at 1 refuses a second call on the other instance', async () => {
    const dir = await workDir();
    const spread = await startSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
      service: ECHO,
      target: kamailio.port,
      ports: sippPorts(),
      calls: 6,
      rate: 10,
      extra: ['-d', '500'],
    }).done;
    expect(spread.code, spread.stdout + spread.stderr).toBe(0);
    const answered = (await events()).filter((e) => e.type === 'answered');
    expect(new Set(answered.map((e) => e.instance))).toEqual(new Set(['a', 'b']));
    // Kamailio started each call's trace (the MD5 of its Call-ID); telgate continued it.
    for (const e of answered) {
      expect(e.traceId).toBe(createHash('md5').update(e.callId).digest('hex'));
    }

    const held = await startQuietCall(a.sipPort, CAPPED, 4000);
    const record = await cappedCallAnswered();
    expect(record).toMatchObject({ instance: 'a' });
    // The operator's view of the cluster: `telgate calls` reads the registry.
    const listing = await runProcess(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'calls', '--json', await cliConfigDir()],
      { timeoutMs: 20_000, env: { ...process.env, REDIS_URL: redis.url } },
    );
    expect(listing.code, listing.stderr).toBe(0);
    const listed = JSON.parse(listing.stdout) as Array<Record<string, unknown>>;
    expect(listed.find((c) => c.callId === record.callId)).toMatchObject({
      instance: 'a',
      endpointId: 'capped',
      state: 'answered',
      traceId: record.traceId,
    });
    const onB = await callExpecting(b.sipPort, CAPPED, 503);
    expect(onB).toMatch(
      /^Reason: SIP ;cause=503 ;text="concurrent call limit reached: .*endpoint:capped/m,
    );
    // Through Kamailio too: a full cap is the cluster's answer, not a reason to fail over. A
    // proxy passes a 503 upstream as 500 (RFC 3261 §16.7), hence routing.capStatus: 486.
    await callExpecting(kamailio.port, CAPPED, 500);
    expect((await held.done).code).toBe(0);
  });

  it('a rolling restart under a steady load through Kamailio drops and refuses no call', async () => {
    const dir = await workDir();
    const calls = 60;
    const load = startSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
      service: ECHO,
      target: kamailio.port,
      ports: sippPorts(),
      calls,
      rate: 3,
      extra: ['-d', '1500'],
      timeoutS: 80,
    });
    for (const instance of instances) {
      const old = instance.process!;
      old.signal('SIGTERM');
      expect(await old.exited()).toBe(0); // drained: its calls ran to their end
      expect(old.logs()).toMatch(/"msg":"draining: new calls refused"/);
      expect(old.logs()).not.toMatch(/"cause":"shutdown"/);
      await start(instance);
      await activeInKamailio(instance);
    }
    const result = await load.done;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`Successful call\\s+\\|\\s+\\d+\\s+\\|\\s+${calls}\\b`),
    );
  }, 120_000);

  it('SIGKILL: the dead instance’s slots are free within the lease; Kamailio sends new calls to the other', async () => {
    const held = await startQuietCall(a.sipPort, CAPPED, 20_000);
    const record = await cappedCallAnswered();
    expect(record.instance).toBe('a');
    const mark = kamailio.mark();
    const killedAt = Date.now();
    a.process!.signal('SIGKILL');
    await a.process!.exited();
    await until(
      () => liveSlots('endpoint:capped'),
      (s) => s.length === 0,
      5000,
      'the slot freed',
    );
    const freedMs = Date.now() - killedAt;
    expect(freedMs).toBeLessThanOrEqual(LEASE_SECONDS * 1000 + 300);
    await until(
      () => redis.client.exists(`voiceai:calls:${record.callId}`),
      (n) => n === 0,
      1000,
      'the registry entry gone',
    );
    await kamailio.waitForLog(new RegExp(`dispatcher: OPTIONS ${uri(a)} is DOWN`), 15_000, mark);
    await callAnswered(kamailio.port, CAPPED, 200);
    const last = (await events()).filter((e) => e.type === 'answered').at(-1);
    expect(last).toMatchObject({ endpointId: 'capped', instance: 'b' });
    held.child.kill('SIGKILL'); // its dialog died with instance a
  }, 60_000);
});
