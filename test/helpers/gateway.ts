/** Starts a real in-process telgate on loopback with the embedded local agent, for tests. */
import { once } from 'node:events';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Gateway } from '../../src/call/gateway.js';
import { validateConfig } from '../../src/routing/config-load.js';
import { DRACHTIO_SECRET, startDrachtio, TEST_ENGINE, type TestDrachtio } from './drachtio.js';
import { killAll } from './processes.js';
import type { TelgateConfig } from '../../src/routing/config-schema.js';

export const BASE = '+15550100';
/** A flow with a published version: what makes an endpoint active. */
export const PUBLISHED = { id: 'test-flow', publishedVersion: 1 };
export const NUMBERS = {
  echo: '15550100100',
  tone: '15550100200',
  hangup: '15550100300',
  alaw: '15550100400',
};

export function testConfig(
  mediaPortMin: number,
  patch: (raw: Record<string, unknown>) => void = () => {},
): TelgateConfig {
  const raw: Record<string, unknown> = {
    // Short T1 so transaction timers (64·T1) finish within a test.
    sip: { listen: { host: '127.0.0.1', port: 0 }, timers: { t1: 50, t2: 400, t4: 250 } },
    media: {
      host: '127.0.0.1',
      portMin: mediaPortMin,
      portMax: mediaPortMin + 19,
      // The product's default (a call worker per core) unless TEST_WORKERS says otherwise:
      // TEST_WORKERS=1 runs the calls on the main thread.
      workers: process.env.TEST_WORKERS ? Number(process.env.TEST_WORKERS) : 'auto',
    },
    localAgent: {
      enabled: true,
      listen: { host: '127.0.0.1', port: 0 },
      behaviours: {
        echo: { kind: 'echo' },
        tone: { kind: 'tone', frequency: 1000 },
        hangup: { kind: 'tone', frequency: 440, hangupAfterMs: 1000 },
        alaw: { kind: 'echo' },
      },
    },
    baseNumbers: [{ number: BASE, extensions: true }],
    endpoints: [
      { id: 'echo', baseNumber: BASE, extension: '100', flow: PUBLISHED },
      { id: 'tone', baseNumber: BASE, extension: '200', flow: PUBLISHED },
      { id: 'hangup', baseNumber: BASE, extension: '300', flow: PUBLISHED },
      { id: 'alaw', baseNumber: BASE, extension: '400', codecs: ['PCMA'], flow: PUBLISHED },
    ],
  };
  patch(raw);
  return validateConfig(raw);
}

/** A web-voice endpoint whose slug is its id, with a call page, active. */
export function webVoiceEndpoint(id: string, extra: Record<string, unknown> = {}) {
  return { kind: 'web-voice', id, slug: id, callPage: true, flow: PUBLISHED, ...extra };
}

export interface TestGateway {
  gateway: Gateway;
  sipPort: number;
  /** The daemon in front of telgate when the tests run on the drachtio engine. */
  drachtio?: TestDrachtio;
  /** Set by expectNothingLeft: stop() first waits for the SIP engine to drain, and checks it. */
  drainOnStop?: boolean;
  stop(): Promise<void>;
}

/**
 * Starts telgate on the engine the run asks for: with TEST_SIP_ENGINE=drachtio a real
 * drachtio-server of its own comes first and telgate connects to it; `sipPort` is then the
 * daemon's, so a test's callers go through it unchanged.
 */
export async function startGateway(
  config: TelgateConfig,
  env: NodeJS.ProcessEnv = {},
): Promise<TestGateway> {
  const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
  let drachtio: TestDrachtio | undefined;
  if (TEST_ENGINE === 'drachtio' && config.sip.engine === 'native') {
    drachtio = await startDrachtio();
    const settings = { host: '127.0.0.1', port: drachtio.adminPort, secret: DRACHTIO_SECRET };
    config = { ...config, sip: { ...config.sip, engine: 'drachtio', drachtio: settings } };
  }
  const gateway = new Gateway(config, logger, env);
  await gateway.start();
  if (drachtio && !gateway.engine.ready()) {
    await gateway.stop();
    await drachtio.kill();
    throw new Error(`telgate did not connect to its drachtio-server:\n${drachtio.output()}`);
  }
  const tg: TestGateway = {
    gateway,
    sipPort: gateway.engine.listenAddress.port,
    ...(drachtio && { drachtio }),
    stop: async () => {
      if (tg.drainOnStop) await expectEngineDrained(tg);
      await gateway.stop();
      await drachtio?.kill();
    },
  };
  return tg;
}

/**
 * Resolves once no call is live. With call workers a call's end reaches the gateway a moment
 * after its last SIP message, so a test that reads the gateway's counts after sipp is done
 * waits for this first. Past `withinMs` (under the tests' 30 s timeout) it fails naming the
 * calls still live: a call an earlier failed test left behind shows as itself, not as the
 * time-outs of every test after it.
 */
export async function callsClosed(gateway: Gateway, withinMs = 20_000): Promise<void> {
  const signal = AbortSignal.timeout(withinMs);
  while (gateway.stats().activeCalls > 0) {
    try {
      await once(gateway.events, 'closed', { signal });
    } catch {
      const live = await gateway.listCalls();
      const named = live.map((c) => `${c.callId} (${c.state})`).join(', ');
      throw new Error(`calls still live after ${withinMs} ms: ${named || 'none listed'}`);
    }
  }
}

/**
 * Nothing leaks, after each test: every call closed, every media port back in the pool. The SIP
 * engine's transactions and dialogs drain as their timers run out (64·T1 for a UDP request's
 * server transaction), which cost about 3 s after every test; they are checked once, when the
 * gateway stops: a transaction or dialog that never ends still fails the file.
 */
export async function expectNothingLeft(tg: TestGateway): Promise<void> {
  await callsClosed(tg.gateway);
  const stats = tg.gateway.stats();
  expect(stats.activeCalls).toBe(0);
  expect(stats.ports.available).toBe(stats.ports.size);
  tg.drainOnStop = true;
}

/**
 * No transaction or dialog left once the engine's timers have run out (64·T1 is 3.2 s at the
 * tests' T1; what is still there after 10 s never ends, and the expectation names it).
 */
export async function expectEngineDrained(tg: TestGateway): Promise<void> {
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([
    tg.gateway.engine.whenIdle(),
    new Promise((resolve) => (bound = setTimeout(resolve, 10_000))),
  ]);
  clearTimeout(bound);
  expect(tg.gateway.engine.stats()).toEqual({ transactions: 0, dialogs: 0 });
}

/**
 * One gateway for a whole test file: started before its tests, stopped after, and checked
 * for leftovers (after killing the test's processes) after each test.
 */
export function gatewayForFile(
  mediaPortMin: number,
  patch: (raw: Record<string, unknown>) => void = () => {},
): { readonly current: TestGateway } {
  let tg: TestGateway | undefined;
  beforeAll(async () => {
    tg = await startGateway(testConfig(mediaPortMin, patch));
  });
  afterAll(async () => {
    await tg?.stop();
  });
  afterEach(async () => {
    await killAll();
    if (tg) await expectNothingLeft(tg);
  });
  return {
    get current(): TestGateway {
      if (!tg) throw new Error('gateway not started');
      return tg;
    },
  };
}
