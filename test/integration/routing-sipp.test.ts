/**
 * Routing refusals as a caller sees them (sipp), overload refusals, and live reload: a call in progress keeps its
 * endpoint across a reload that removes it, and an invalid file changes nothing.
 */
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from '../../src/ops/config-watch.js';
import { loadConfig } from '../../src/routing/config-load.js';
import {
  expectNothingLeft,
  NUMBERS,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { saturateEventLoop } from '../helpers/load.js';
import {
  callAnswered,
  callExpecting,
  optionsExpecting,
  startQuietCall,
  workDir,
} from '../helpers/sipp.js';

const MEDIA_MIN = 31500;
let tg: TestGateway | undefined;
let watcher: ConfigWatcher | undefined;
afterEach(async () => {
  watcher?.stop();
  await killAll();
  if (tg) await expectNothingLeft(tg);
  await tg?.stop();
  tg = undefined;
});

const expectStatus = (service: string, status: number) =>
  callExpecting(tg!.sipPort, service, status);
const answered = (service: string) => callAnswered(tg!.sipPort, service);

describe('refusals a caller gets', () => {
  it('404, 480, 403, 503, 484 with a Reason each; a routed call is answered', async () => {
    tg = await startGateway(
      testConfig(MEDIA_MIN, (raw) => {
        raw.trunks = [{ id: 'carrier-only', inbound: { allow: ['10.0.0.0/8', '2001:db8::/32'] } }];
        (raw.baseNumbers as unknown[]).push(
          { number: '+15550200', trunk: 'carrier-only' },
          { number: '+15550300', maxCalls: 0 },
        );
        (raw.endpoints as unknown[]).push(
          { id: 'draft', baseNumber: '+15550100', extension: '600', flow: { id: 'draft' } },
          { id: 'acl', baseNumber: '+15550200', flow: PUBLISHED },
          { id: 'capped', baseNumber: '+15550300', flow: PUBLISHED },
        );
      }),
    );
    expect(await expectStatus('15550100999', 404)).toMatch(
      /Reason: SIP ?;cause=404 ?;text="no endpoint for the dialed number: 15550100999"/,
    );
    expect(await expectStatus('15550100600', 480)).toMatch(
      /SIP\/2\.0 480 Temporarily Unavailable[\s\S]*Reason: SIP ?;cause=480 ?;text="endpoint not active/,
    );
    // A valid, active number: refused because 127.0.0.1 is not in the trunk's ACL.
    expect(await expectStatus('15550200', 403)).toMatch(
      /Reason: SIP ?;cause=403 ?;text="source address not allowed: 15550200"/,
    );
    expect(await expectStatus('15550300', 503)).toMatch(
      /Reason: SIP ?;cause=503 ?;text="concurrent call limit reached: 15550300 \(base:\+15550300\)"/,
    );
    expect(await expectStatus('15550100', 484)).toMatch(/Reason: SIP ?;cause=484\b/);
    await answered(NUMBERS.echo);
    expect(tg.gateway.stats().refusals).toMatchObject({
      'unknown-number': 1,
      'not-active': 1,
      'source-not-allowed': 1,
      'over-cap': 1,
      'extension-missing': 1,
    });
  });

  it('a cap can answer 486 instead, and frees its slot when the call ends', async () => {
    tg = await startGateway(
      testConfig(MEDIA_MIN, (raw) => {
        (raw.baseNumbers as Array<Record<string, unknown>>)[0].maxCalls = 1;
        raw.routing = { capStatus: 486 };
      }),
    );
    const first = await startQuietCall(tg.sipPort, NUMBERS.echo, 1500);
    await once(tg.gateway.events, 'answered');
    await expectStatus(NUMBERS.tone, 486);
    expect((await first.done).code).toBe(0);
    await answered(NUMBERS.tone); // the slot is free again
  });
});

describe('overload', () => {
  it('a process whose event loop is saturated refuses new calls (503, Retry-After) and OPTIONS until it recovers; live calls go on', async () => {
    tg = await startGateway(testConfig(MEDIA_MIN));
    // A live call keeps the media clock running.
    const live = await startQuietCall(tg.sipPort, NUMBERS.echo, 8000);
    await once(tg.gateway.events, 'answered');
    expect(tg.gateway.stats().overloaded).toBe(false);
    // The process cannot keep up: its event loop is busy all but a moment every 60 ms (the
    // guard's default limit is 80 % busy for 2 s in a row).
    const load = saturateEventLoop();
    try {
      expect(await once(tg.gateway.events, 'overload')).toEqual([true]);
      const log = await expectStatus(NUMBERS.tone, 503);
      expect(log).toMatch(
        /SIP\/2\.0 503 Service Unavailable[\s\S]*Reason: SIP ?;cause=503 ?;text="telgate overloaded: event loop \d+ % busy"/,
      );
      expect(log).toMatch(/\nRetry-After: 5\r?\n/);
      await optionsExpecting(tg.sipPort, 503);
    } finally {
      load.stop();
    }
    expect(await once(tg.gateway.events, 'overload')).toEqual([false]);
    await answered(NUMBERS.tone);
    expect((await live.done).code).toBe(0); // the live call ran to its own BYE
    expect(tg.gateway.stats().refusals).toEqual({ overloaded: 1 });
  });
});

describe('live reload', () => {
  it('a live call survives a reload that removes its endpoint; an invalid file changes nothing', async () => {
    const dir = await workDir();
    const file = path.join(dir, 'telgate.yaml');
    const config = testConfig(MEDIA_MIN);
    const write = (endpoints: unknown[]) =>
      fs.writeFile(file, JSON.stringify({ ...config, endpoints })); // JSON is YAML
    await write(config.endpoints);
    tg = await startGateway(await loadConfig(dir));
    const refused: string[] = [];
    watcher = new ConfigWatcher({
      dir,
      logger: pino({ level: 'silent' }),
      apply: (c) => tg!.gateway.reload(c),
      onRefused: (problems) => refused.push(...problems.map((p) => `${p.path}: ${p.message}`)),
      debounceMs: 50,
    });
    watcher.start();

    // A call to echo is up; the config loses echo while it runs.
    const live = await startQuietCall(tg.sipPort, NUMBERS.echo, 2500);
    await once(tg.gateway.events, 'answered');
    const closed = once(tg.gateway.events, 'closed');
    const reloaded = once(tg.gateway.events, 'reloaded');
    await write(config.endpoints.filter((e) => e.id !== 'echo'));
    await reloaded;
    expect((await live.done).code).toBe(0); // the call ran to its own BYE
    await closed;
    expect(tg.gateway.stats().endings['caller-hangup']).toBe(1);
    await expectStatus(NUMBERS.echo, 404);

    // An invalid file: reported, and the running config (tone still there) stays.
    await fs.writeFile(file, 'endpoints: [ { id: x, baseNumber: "0301" } ]\n');
    for (let i = 0; i < 100 && !refused.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(refused.join('\n')).toMatch(/endpoints\.0\.baseNumber: must be an E\.164 number/);
    await answered(NUMBERS.tone);
  });
});
