/**
 * A browser calls an agent: Debian's chromium opens the call page of a web-voice endpoint
 * (JsSIP over SIP over WebSocket, WebRTC with ICE and DTLS-SRTP), its fake microphone plays a
 * 440 Hz tone, the echo agent sends it back and the page's analyser hears 440 Hz, over Opus
 * and over G.711, and a digit sent from the page reaches the agent; hanging up from the page ends the call and frees everything. A page from a
 * disallowed origin, a source outside allowedIps, and an endpoint that allows neither are
 * refused with 403. A temporary test endpoint (POST /api/test-endpoints) takes a call from its
 * page before its TTL, ends that call when it expires, and refuses one after. The agent of a
 * browser's call transfers it out through the endpoint's egress trunk (sipp, 700 Hz), and the
 * page hears the far end.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startGateway,
  testConfig,
  webVoiceEndpoint,
  type TestGateway,
} from '../helpers/gateway.js';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { toneWav } from '../helpers/baresip.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { until } from '../helpers/wait.js';
import { killAll } from '../helpers/processes.js';
import { answeringTrunk, egressTrunk, toneFile, workDir } from '../helpers/sipp.js';

interface PageCall {
  state: string;
  dominantFrequency(): number;
  level(): number;
  received(): Promise<{ packets: number; audioLevel: number; codec: string }>;
  sendDtmf(digits: string): void;
}
declare global {
  interface Window {
    telgateCall: PageCall;
  }
}

const API_KEY = 'test-endpoints-key';
let gw: TestGateway;
let browser: TestBrowser;
let base: string;

const EGRESS = '+15550188';
let trunk: Awaited<ReturnType<typeof answeringTrunk>>;

beforeAll(async () => {
  const settingsDir = await tempDir();
  const trunkDir = await workDir();
  await toneFile(trunkDir, 700, 8, 'target.ul');
  trunk = await answeringTrunk(trunkDir, 'target.ul');
  gw = await startGateway(
    testConfig(43940, (raw) => {
      (raw.sip as Record<string, unknown>).websocket = { port: 0 };
      raw.telephony = {
        publicBaseUrl: 'https://telgate.example.com',
        listen: { host: '127.0.0.1', port: 0 },
        settingsFile: path.join(settingsDir, 'telephony-settings.json'),
      };
      (raw.media as Record<string, unknown>).webrtc = { portMin: 43960, portMax: 43999 };
      const behaviours = (raw.localAgent as { behaviours: Record<string, unknown> }).behaviours;
      for (const id of ['web-opus', 'web-g711', 'web-strict', 'web-far', 'web-unset']) {
        behaviours[id] = { kind: 'echo' };
      }
      (raw.endpoints as unknown[]).push(
        webVoiceEndpoint('web-opus', { allowAnywhere: true, codecs: ['opus'] }),
        webVoiceEndpoint('web-g711', { allowAnywhere: true, codecs: ['PCMA'] }),
        webVoiceEndpoint('web-strict', { allowedOrigins: ['https://pages.example.com'] }),
        webVoiceEndpoint('web-far', { allowedIps: ['10.0.0.0/8'] }),
        webVoiceEndpoint('web-unset', {}),
        // Not callable itself (unpublished); its flow's draft is what test endpoints run.
        webVoiceEndpoint('web-draft', { flow: { id: 'draft-flow' } }),
      );
      behaviours['web-draft'] = { kind: 'echo' };
      raw.trunks = [egressTrunk(trunk.ports.sip, 2)];
      (raw.baseNumbers as unknown[]).push({ number: EGRESS, trunk: 'egress' });
      behaviours['web-out'] = {
        kind: 'tone',
        frequency: 1000,
        steps: [
          { atMs: 800, do: 'transfer', target: '+15550199001', mode: 'bridged', timeoutMs: 4000 },
        ],
      };
      (raw.endpoints as unknown[]).push(
        webVoiceEndpoint('web-out', { allowAnywhere: true, egressBaseNumber: EGRESS }),
      );
    }),
    { TELGATE_API_KEYS: API_KEY, TRUNK_PASSWORD: 'secret' },
  );
  base = `http://127.0.0.1:${gw.gateway.engine.listenAddress.wsPort}`;
  browser = await launchBrowser(await toneWav(await tempDir(), 440, 48000, 60));
}, 30_000);

/** Opens the call page at `path`, presses Call, and waits until the call is up. */
async function callFrom(path: string): Promise<Page> {
  const page = await browser.page(`${base}${path}`);
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  await page.click('#call');
  await page.waitForFunction(() => document.body.dataset.state === 'in call', undefined, {
    timeout: 10_000,
  });
  return page;
}

/** Waits until the page's analyser hears `hz` (±30 Hz) from the agent's side. */
async function hears(page: Page, hz: number, what: string): Promise<void> {
  const heard = await until(
    () => page.evaluate(() => window.telgateCall.dominantFrequency()),
    (f) => Math.abs(f - hz) < 30,
    10_000,
    what,
  );
  expect(Math.abs(heard - hz)).toBeLessThan(30);
}

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await killAll();
});

describe('a browser calls the echo agent from its call page', () => {
  for (const [slug, codec] of [
    ['web-opus', 'audio/opus'],
    ['web-g711', 'audio/PCMA'],
  ]) {
    it(`${codec}: hears its own tone back, and hanging up frees everything`, async () => {
      const page = await callFrom(`/call/${slug}`);
      expect(gw.gateway.stats().activeCalls).toBe(1);
      await hears(page, 440, 'the echoed 440 Hz tone in the page');
      const received = await until(
        () => page.evaluate(() => window.telgateCall.received()),
        (r) => r.packets >= 25,
        5000,
        "half a second of the agent's packets",
      );
      expect(received.codec).toBe(codec);
      // A digit from the page (SIP INFO) reaches the agent.
      const digits: string[] = [];
      const onMessage = (_id: string, m: { type: string; digit?: string }) => {
        if (m.type === 'dtmf' && m.digit) digits.push(m.digit);
      };
      gw.gateway.localAgent!.on('message', onMessage);
      await page.evaluate(() => window.telgateCall.sendDtmf('7'));
      await until(
        () => digits,
        (d) => d.includes('7'),
        3000,
        'the digit at the agent',
      );
      gw.gateway.localAgent!.off('message', onMessage);
      expect(await page.evaluate(() => window.telgateCall.level())).toBeGreaterThan(0);
      await page.click('#hangup');
      await page.waitForFunction(() => document.body.dataset.state === 'ended');
      await until(
        () => gw.gateway.stats().activeCalls,
        (n) => n === 0,
        5000,
        'the call to end',
      );
      expect(gw.gateway.engine.stats().dialogs).toBe(0);
      await page.close();
    }, 40_000);
  }
});

describe('access', () => {
  it('refuses a disallowed origin, a source outside allowedIps, and an endpoint open to no one', async () => {
    for (const slug of ['web-strict', 'web-far', 'web-unset']) {
      const page = await browser.page(`${base}/call/${slug}`);
      await page.waitForFunction(() => document.body.dataset.state === 'idle');
      await page.click('#call');
      await page.waitForFunction(() => document.body.dataset.state === 'failed');
      expect(await page.textContent('#state')).toBe('failed: Rejected');
      await page.close();
    }
    expect(gw.gateway.stats().activeCalls).toBe(0);
  }, 30_000);

  it('serves no page for an endpoint without callPage, nor for an unknown slug', async () => {
    expect((await fetch(`${base}/call/nobody`)).status).toBe(404);
    expect((await fetch(`${base}/call/web-opus`)).status).toBe(200);
  });
});

describe('temporary test endpoints', () => {
  const api = (method: string, route: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${gw.gateway.providerAddress!.port}${route}`, {
      method,
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });

  it('needs the API key, and a flow and draft version', async () => {
    const anonymous = await fetch(
      `http://127.0.0.1:${gw.gateway.providerAddress!.port}/api/test-endpoints`,
      { method: 'POST', body: '{}' },
    );
    expect(anonymous.status).toBe(401);
    expect((await api('POST', '/api/test-endpoints', { flow_id: 'draft-flow' })).status).toBe(400);
  });

  it('takes a call before its TTL, ends it when it expires, and refuses one after', async () => {
    const made = await api('POST', '/api/test-endpoints', {
      flow_id: 'draft-flow',
      draft_version: 3,
      ttl_seconds: 4,
    });
    expect(made.status).toBe(201);
    const endpoint = (await made.json()) as { id: string; slug: string; call_page: string };
    expect(endpoint.slug).toMatch(/^test-[0-9a-f]{18}$/);
    const listed = (await (await api('GET', '/api/test-endpoints')).json()) as Array<{
      id: string;
    }>;
    expect(listed.map((e) => e.id)).toContain(endpoint.id);

    const page = await callFrom(endpoint.call_page);
    await hears(page, 440, 'the draft flow echoing the tone');
    // Expiry ends the live call from telgate's side: the page sees the BYE.
    await page.waitForFunction(() => document.body.dataset.state === 'ended', undefined, {
      timeout: 10_000,
    });
    expect(await page.textContent('#state')).toBe('ended: Terminated');
    await page.click('#call');
    await page.waitForFunction(() => document.body.dataset.state === 'failed');
    expect(await page.textContent('#state')).toBe('failed: Not Found');
    expect((await fetch(`${base}${endpoint.call_page}`)).status).toBe(404);
    await page.close();
  }, 40_000);

  it('DELETE ends one early', async () => {
    const made = await api('POST', '/api/test-endpoints', {
      flow_id: 'draft-flow',
      draft_version: 1,
    });
    const { id, call_page } = (await made.json()) as { id: string; call_page: string };
    expect((await fetch(`${base}${call_page}`)).status).toBe(200);
    expect((await api('DELETE', `/api/test-endpoints/${id}`)).status).toBe(204);
    expect((await fetch(`${base}${call_page}`)).status).toBe(404);
    expect((await api('DELETE', `/api/test-endpoints/${id}`)).status).toBe(404);
  });
});

describe('transfers from a browser call', () => {
  it('the agent sends the browser out through the egress trunk, and the page hears it', async () => {
    const progress: string[] = [];
    const onMessage = (_id: string, m: Record<string, unknown>) => {
      if (m.type === 'transfer.progress') progress.push(String(m.state));
    };
    gw.gateway.localAgent!.on('message', onMessage);
    const page = await browser.page(`${base}/call/web-out`);
    await page.waitForFunction(() => document.body.dataset.state === 'idle');
    await page.click('#call');
    await until(
      () => page.evaluate(() => window.telgateCall.dominantFrequency()),
      (hz) => Math.abs(hz - 700) < 30,
      10_000,
      "the trunk's 700 Hz in the page, once bridged",
    );
    // The page may hear the trunk a moment before the agent is told the transfer completed.
    await until(
      () => progress,
      (p) => p.includes('completed'),
      5000,
      'the transfer completed',
    );
    expect(progress).toEqual(expect.arrayContaining(['trying', 'answered', 'completed']));
    expect(progress.at(-1)).toBe('completed');
    await page.click('#hangup');
    expect((await trunk.sipp.done).code).toBe(0);
    gw.gateway.localAgent!.off('message', onMessage);
    await page.close();
  }, 30_000);
});
