/**
 * Shared state in a real redis-server: caps that hold under concurrent admissions from two
 * instances, a Redis outage under both policies (live calls untouched, registry and caps whole
 * again once Redis is back), and the call events, trace context and metrics of real calls.
 */
import { once } from 'node:events';
import parsePrometheus from 'parse-prometheus-text-format';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpsServer } from '../../src/ops/ops-server.js';
import { eventFromFields, type CallEvent } from '../../src/state/call-events.js';
import { RedisStore } from '../../src/state/store-redis.js';
import {
  callsClosed,
  expectNothingLeft,
  NUMBERS,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { callAnswered, callExpecting, optionsExpecting, startQuietCall } from '../helpers/sipp.js';
import { until } from '../helpers/wait.js';

/** Below the kernel's ephemeral range (32768 and up), where a port may be taken at any time. */
const REDIS_PORT = 19300 + (process.pid % 100);
const silent = pino({ level: 'silent' });

let redis: TestRedis;
const gateways: TestGateway[] = [];

beforeEach(async () => {
  redis = await startRedis(REDIS_PORT);
});

afterEach(async () => {
  for (const tg of gateways.splice(0)) {
    await tg.stop();
    await expectNothingLeft(tg);
  }
  await redis.close();
  await killAll();
});

async function gatewayWithRedis(
  mediaPortMin: number,
  state: Record<string, unknown>,
  patch: (raw: Record<string, unknown>) => void = () => {},
): Promise<TestGateway> {
  const tg = await startGateway(
    testConfig(mediaPortMin, (raw) => {
      raw.state = { leaseSeconds: 2, ...state, redis: { url: redis.url, ...(state.redis ?? {}) } };
      patch(raw);
    }),
  );
  gateways.push(tg);
  return tg;
}

function redisStore(): RedisStore {
  return new RedisStore({
    url: redis.url,
    keyPrefix: 'voiceai:',
    leaseMs: 10_000,
    onOutage: 'refuse',
    eventsMaxLen: 1000,
    commandTimeoutMs: 5000,
    logger: silent,
  });
}

describe('caps shared in Redis', () => {
  it('1000 concurrent admissions from two instances against a cap of 50: exactly 50 admitted, all free after release', async () => {
    const stores = [redisStore(), redisStore()];
    await Promise.all(stores.map((s) => s.start()));
    try {
      const cap = [{ key: 'endpoint:popular', limit: 50 }];
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => stores[i % 2]!.acquire(`call-${i}`, cap)),
      );
      const admitted = results.filter((r) => r.ok);
      expect(admitted).toHaveLength(50);
      expect(
        results.filter((r) => !r.ok && 'full' in r && r.full === 'endpoint:popular'),
      ).toHaveLength(950);
      expect(await redis.client.zcard('voiceai:cap:endpoint:popular')).toBe(50);
      for (const r of admitted) if (r.ok) r.slot.release();
      await until(
        () => stores[0]!.count('endpoint:popular'),
        (n) => n === 0,
        2000,
        'slots released',
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('a Redis outage', () => {
  it('leaves live calls alone; `local` admits on local caps, `refuse` answers 503; Redis back: registry and caps whole again', async () => {
    const echoCap = (raw: Record<string, unknown>) => {
      (raw.endpoints as Array<Record<string, unknown>>)[0]!.maxCalls = 5;
    };
    const local = await gatewayWithRedis(32200, { redis: { onOutage: 'local' } }, echoCap);
    const refusing = await gatewayWithRedis(32300, { redis: { onOutage: 'refuse' } }, echoCap);
    const answered = once(local.gateway.events, 'answered');
    const live = await startQuietCall(local.sipPort, NUMBERS.echo, 7000);
    const [liveCallId] = (await answered) as [string];
    await until(
      () => redis.client.zrange('voiceai:calls', 0, -1),
      (ids) => ids.includes(liveCallId),
      2000,
      'the live call in the registry',
    );

    const lost = [once(local.gateway.events, 'state'), once(refusing.gateway.events, 'state')];
    await redis.stop();
    expect(await Promise.all(lost)).toEqual([['degraded'], ['refusing']]);

    // The registry as this instance sees it while Redis is away: its own live call.
    expect((await local.gateway.listCalls()).map((c) => c.callId)).toEqual([liveCallId]);
    await callAnswered(local.sipPort, NUMBERS.echo);
    const refusal = await callExpecting(refusing.sipPort, NUMBERS.echo, 503);
    expect(refusal).toMatch(/^Reason: SIP ;cause=503 ;text="shared state unavailable/m);
    await optionsExpecting(refusing.sipPort, 503);

    const back = [once(local.gateway.events, 'state'), once(refusing.gateway.events, 'state')];
    await redis.restart(); // empty: what the instances hold must be written again
    expect(await Promise.all(back)).toEqual([['up'], ['up']]);
    await until(
      async () => ({
        calls: await redis.client.zrange('voiceai:calls', 0, -1),
        echoSlots: await redis.client.zrange('voiceai:cap:endpoint:echo', 0, -1),
        record: await redis.client.hget(`voiceai:calls:${liveCallId}`, 'state'),
      }),
      (v) =>
        v.calls.join() === liveCallId &&
        v.echoSlots.join() === liveCallId &&
        v.record === 'answered',
      3000,
      'the live call and its slot written again',
    );
    await callAnswered(refusing.sipPort, NUMBERS.echo);

    expect((await live.done).code).toBe(0); // the live call ran to its own BYE
    await callsClosed(local.gateway);
    expect(local.gateway.stats().endings).toEqual({ 'caller-hangup': 2 });
    expect(refusing.gateway.stats().refusals).toEqual({ 'state-unavailable': 1 });
    await until(
      () => redis.client.zcard('voiceai:cap:endpoint:echo'),
      (n) => n === 0,
      2000,
      'every slot released',
    );
    expect(await redis.client.zcard('voiceai:calls')).toBe(0);
  }, 60_000);
});

describe('a Redis that comes back with its data', () => {
  it('loses at once the slot and registry entry of a call that ended while it was away, not after their lease', async () => {
    const tg = await gatewayWithRedis(32200, { leaseSeconds: 60 }, (raw) => {
      (raw.endpoints as Array<Record<string, unknown>>)[0]!.maxCalls = 5;
    });
    const answered = once(tg.gateway.events, 'answered');
    const call = await startQuietCall(tg.sipPort, NUMBERS.echo, 3000);
    const endedWhileAway = new Promise<boolean>((resolve) =>
      tg.gateway.events.once('closed', () => resolve(tg.gateway.stats().state.health !== 'up')),
    );
    const [callId] = (await answered) as [string];
    await until(
      () => redis.client.zrange('voiceai:cap:endpoint:echo', 0, -1),
      (ids) => ids.includes(callId),
      2000,
      'the slot taken',
    );
    const lost = once(tg.gateway.events, 'state');
    await redis.stop({ save: true }); // the slot and the registry entry are in its snapshot
    await lost;
    expect((await call.done).code).toBe(0);
    expect(await endedWhileAway, 'the call ended while Redis was away').toBe(true);
    const back = once(tg.gateway.events, 'state');
    await redis.restart();
    expect(await back).toEqual(['up']);
    // With a 60 s lease only telgate's own clean-up can empty them this soon.
    await until(
      async () => [
        await redis.client.zcard('voiceai:cap:endpoint:echo'),
        await redis.client.zcard('voiceai:calls'),
        await redis.client.exists(`voiceai:calls:${callId}`),
      ],
      (counts) => counts.every((n) => n === 0),
      2000,
      'the ended call gone from Redis',
    );
  });
});

describe('call events, trace context and metrics', () => {
  it('a call’s events arrive on the stream in order with the documented fields, TelAPI gets its trace, /metrics counts it', async () => {
    const tg = await gatewayWithRedis(32200, {}, (raw) => {
      (raw.endpoints as unknown[]).push({
        id: 'no-agent', // the local agent has no behaviour for it: TelAPI answers 404
        baseNumber: '+15550100',
        extension: '500',
        flow: { id: 'test-flow', publishedVersion: 1 },
      });
    });
    const ops = new OpsServer(tg.gateway.opsSource(), { host: '127.0.0.1', port: 0 });
    const opsAt = await ops.listen();
    try {
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const created: Array<Record<string, unknown>> = [];
      tg.gateway.localAgent!.on('created', (_id, body) => created.push(body));
      await callAnswered(tg.sipPort, NUMBERS.echo, 300, {
        'CSeq: 1 INVITE': `CSeq: 1 INVITE\n      traceparent: 00-${traceId}-00f067aa0ba902b7-01`,
      });
      await callExpecting(tg.sipPort, '15550100500', 503);

      const entries = await until(
        () => redis.client.xrange('voiceai:call-events', '-', '+'),
        (e) => e.filter(([, f]) => f.includes('ended')).length === 2,
        3000,
        'both calls ended on the stream',
      );
      const events = entries.map(([, fields]) => eventFromFields(fields)); // validates each
      const byCall = new Map<string, CallEvent[]>();
      for (const e of events) byCall.set(e.callId, [...(byCall.get(e.callId) ?? []), e]);
      const [answered, refused] = [...byCall.values()] as [CallEvent[], CallEvent[]];
      expect(answered.map((e) => e.type)).toEqual(['started', 'answered', 'ended']);
      expect(refused.map((e) => e.type)).toEqual(['started', 'ended']);
      expect(new Set(answered.map((e) => e.traceId))).toEqual(new Set([traceId]));
      const end = answered[2]!;
      expect(end).toMatchObject({ outcome: 'ended', cause: 'caller-hangup', sipStatus: 200 });
      if (end.type !== 'ended') throw new Error('not an end');
      // sipp waits 300 ms after the 200; telgate's journal notes the answer a few ms after the
      // 200 left (from the call's worker), so the talk time it counts can be a little shorter.
      expect(end.talkMs).toBeGreaterThanOrEqual(250);
      expect(end.quality?.packetsLost).toBe(0);
      expect(refused[1]).toMatchObject({
        outcome: 'refused',
        cause: 'link-unavailable',
        sipStatus: 503,
        talkMs: 0,
      });
      expect((refused[1] as { reason?: string }).reason).toMatch(/voice agent unavailable/);
      // TelAPI's session is the child of telgate's span, in the caller's trace; a call
      // without a traceparent starts its own trace.
      expect(created[0]).toMatchObject({ traceId, parentSpanId: answered[0]!.spanId });
      expect(refused[0]!.traceId).not.toBe(traceId);

      const metrics = await fetch(`http://127.0.0.1:${opsAt.port}/metrics`);
      const families = new Map(parsePrometheus(await metrics.text()).map((f) => [f.name, f]));
      const value = (name: string, labels: Record<string, string> = {}) =>
        Number(
          families
            .get(name)
            ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
            ?.value,
        );
      expect(value('telgate_calls_offered_total')).toBe(2);
      expect(value('telgate_calls_answered_total')).toBe(1);
      expect(value('telgate_calls_ended_total', { cause: 'caller-hangup' })).toBe(1);
      expect(value('telgate_calls_refused_total', { cause: 'link-unavailable' })).toBe(1);
      expect(value('telgate_calls_active')).toBe(0);
      expect(value('telgate_state_up')).toBe(1);
      expect(families.get('telgate_call_setup_seconds')?.metrics[0]?.count).toBe('1');
      expect(families.has('telgate_process_cpu_seconds_total')).toBe(true);

      const ready = await fetch(`http://127.0.0.1:${opsAt.port}/readyz`);
      expect(ready.status).toBe(200);
      const calls = (await (await fetch(`http://127.0.0.1:${opsAt.port}/calls`)).json()) as {
        calls: unknown[];
      };
      expect(calls.calls).toEqual([]);
    } finally {
      await ops.close();
    }
  });
});
