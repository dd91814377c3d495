/**
 * The operator's contracts that need no SIP peer: the call events' schema against its docs, the
 * W3C trace context, the ops HTTP server's answers and token, the `telgate calls` table, and a
 * Redis store whose Redis never answers.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { traceFor } from '../../src/call/trace-context.js';
import { formatCalls } from '../../src/ops/cli-calls.js';
import { OpsServer, type OpsSource } from '../../src/ops/ops-server.js';
import {
  callEventSchema,
  callEventsJsonSchema,
  eventFromFields,
  eventToFields,
} from '../../src/state/call-events.js';
import { RedisStore } from '../../src/state/store-redis.js';
import { loadConfig } from '../../src/routing/config-load.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('call events', () => {
  it('docs/call-events.schema.json is what the code generates', async () => {
    const committed = JSON.parse(
      await fs.readFile(path.join(ROOT, 'docs', 'call-events.schema.json'), 'utf8'),
    );
    expect(committed).toEqual(callEventsJsonSchema());
  });

  it('every example in docs/operations.md is a valid event and survives the stream encoding', async () => {
    const doc = await fs.readFile(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
    const examples = [...doc.matchAll(/```json call-event\n([\s\S]*?)```/g)].map((m) =>
      JSON.parse(m[1]!),
    );
    expect(examples.map((e) => e.type)).toEqual([
      'started',
      'answered',
      'transferred',
      'ended',
      'ended',
      'provider-status',
    ]);
    for (const example of examples) {
      const event = callEventSchema.parse(example);
      expect(eventFromFields(eventToFields(event))).toEqual(event);
    }
  });

  it('an event with a missing or mistyped field is refused', () => {
    const started = {
      type: 'started',
      callId: 'c',
      instance: 'a',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: 'a2fb4a1d1a96d312',
      at: 1,
      endpointId: 'e',
      caller: 'sip:x@y',
      dialed: '+1',
      source: '127.0.0.1:5060',
    };
    expect(callEventSchema.safeParse(started).success).toBe(true);
    expect(callEventSchema.safeParse({ ...started, traceId: 'nope' }).success).toBe(false);
    expect(callEventSchema.safeParse({ ...started, extra: 1 }).success).toBe(false);
    const withoutCaller: Partial<typeof started> = { ...started };
    delete withoutCaller.caller;
    expect(callEventSchema.safeParse(withoutCaller).success).toBe(false);
  });
});

describe('trace context', () => {
  it('continues a valid traceparent with a span of its own', () => {
    const t = traceFor('00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01');
    expect(t.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(t.parentSpanId).toBe('00f067aa0ba902b7');
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(t.parentSpanId);
    expect(t.traceparent).toBe(`00-${t.traceId}-${t.spanId}-01`);
  });

  it.each([
    ['absent', undefined],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ['garbage', 'hello'],
  ])('starts a new trace when the traceparent is %s', (_what, header) => {
    const t = traceFor(header);
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(t.parentSpanId).toBeUndefined();
  });
});

describe('ops HTTP server', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(source: Partial<OpsSource>, token?: string) {
    server = new OpsServer(
      {
        notReady: () => undefined,
        metricsText: async () => '# HELP x y\n',
        metricsContentType: 'text/plain; version=0.0.4',
        calls: async () => [],
        stats: () => ({}),
        ...source,
      },
      { host: '127.0.0.1', port: 0, token },
    );
    const { port } = await server.listen();
    return (pathname: string, init?: RequestInit) =>
      fetch(`http://127.0.0.1:${port}${pathname}`, init);
  }

  it('answers health, readiness with its reason, 404 and 405', async () => {
    const state: { reason?: string } = {};
    const get = await serve({ notReady: () => state.reason });
    expect((await get('/healthz')).status).toBe(200);
    expect(await (await get('/readyz')).json()).toEqual({ ready: true });
    state.reason = 'telgate draining: try another instance';
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reason: state.reason });
    expect((await get('/nothing')).status).toBe(404);
    expect((await get('/calls', { method: 'POST' })).status).toBe(405);
  });

  it('with a token, refuses a request without the bearer or with a wrong one', async () => {
    const get = await serve({}, 's3cret');
    expect((await get('/metrics')).status).toBe(401);
    const wrong = { headers: { authorization: 'Bearer nope' } };
    expect((await get('/metrics', wrong)).status).toBe(401);
    const right = await get('/metrics', { headers: { authorization: 'Bearer s3cret' } });
    expect(right.status).toBe(200);
    expect(await right.text()).toBe('# HELP x y\n');
  });
});

describe('telgate calls', () => {
  it('prints one aligned line per call, oldest first', () => {
    const now = 1_000_000;
    const call = (callId: string, startedAt: number, instance: string) => ({
      callId,
      instance,
      endpointId: 'echo',
      caller: 'sip:a@b',
      dialed: '+15550100100',
      traceId: 'f'.repeat(32),
      state: 'answered' as const,
      startedAt,
    });
    const lines = formatCalls(
      [call('late', now - 5000, 'b'), call('early-call', now - 65_000, 'a')],
      now,
    ).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^CALL-ID {5}INSTANCE {2}ENDPOINT {2}STATE/);
    expect(lines[1]).toMatch(/^early-call {2}a {9}echo {6}answered {2}65s/);
    expect(lines[2]).toMatch(/^late {8}b /);
  });
});

describe('a Redis that never answers', () => {
  it('starts anyway; `local` admits on local caps up to the limit, `refuse` refuses', async () => {
    // A port nothing listens on: taken from the kernel, then closed.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const store = (onOutage: 'local' | 'refuse') =>
      new RedisStore({
        url: `redis://127.0.0.1:${port}`,
        keyPrefix: 'voiceai:',
        leaseMs: 2000,
        onOutage,
        eventsMaxLen: 100,
        commandTimeoutMs: 200,
        logger: pino({ level: 'silent' }),
      });
    const [local, refusing] = [store('local'), store('refuse')];
    await Promise.all([local.start(), refusing.start()]);
    try {
      expect([local.health, refusing.health]).toEqual(['degraded', 'refusing']);
      const cap = [{ key: 'endpoint:e', limit: 1 }];
      const first = await local.acquire('c1', cap);
      expect(first.ok).toBe(true);
      expect(await local.acquire('c2', cap)).toEqual({ ok: false, full: 'endpoint:e' });
      if (first.ok) first.slot.release();
      expect((await local.acquire('c3', cap)).ok).toBe(true);
      expect(await refusing.acquire('c4', cap)).toEqual({
        ok: false,
        unavailable: 'shared state (Redis) unreachable',
      });
      local.emit({
        type: 'started',
        callId: 'c1',
        instance: 'a',
        traceId: 'f'.repeat(32),
        spanId: 'f'.repeat(16),
        at: 1,
        endpointId: 'e',
        caller: '',
        dialed: '',
        source: '',
      });
      expect(local.eventsDropped).toBe(1);
    } finally {
      await Promise.all([local.close(), refusing.close()]);
    }
  });
});

describe('the compose cluster’s configs', () => {
  it('are valid, share one Redis and give each instance its own ports and name', async () => {
    const [a, b] = await Promise.all(
      ['a', 'b'].map((n) => loadConfig(path.join(ROOT, 'docker', 'cluster', n))),
    );
    expect(a!.state.redis.url).toBe(b!.state.redis.url);
    const ports = (c: typeof a) => [
      c!.sip.listen.port,
      c!.ops.listen.port,
      c!.localAgent.listen.port,
      c!.media.portMin,
    ];
    for (const port of ports(a)) expect(ports(b)).not.toContain(port);
    expect(a!.media.portMax).toBeLessThan(b!.media.portMin);
    expect(a!.state.instanceId).not.toBe(b!.state.instanceId);
  });
});
