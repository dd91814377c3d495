/**
 * A JsSIP softphone in Debian's chromium registers over SIP over WebSocket (digest), and the
 * agent of a SIP call (sipp, 600 Hz) transfers the caller to it: telgate offers WebRTC to the
 * browser over its socket, the phone answers, and caller and browser hear each other (600 Hz in
 * the page, the browser's 440 Hz microphone at the caller). The binding goes when the socket
 * closes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { countFramesAt } from '../helpers/audio.js';
import { toneWav } from '../helpers/baresip.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { TEST_ENGINE } from '../helpers/drachtio.js';
import { BASE, PUBLISHED, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { servePhonePage, type PhonePage } from '../helpers/jssip-phone.js';
import { killAll } from '../helpers/processes.js';
import { workDir } from '../helpers/sipp.js';
import { toneCall } from '../helpers/tone-caller.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { until } from '../helpers/wait.js';

interface PhoneWindow {
  phone: { registered: boolean; state: string; dominantFrequency(): number };
}

let tg: TestGateway;
let browser: TestBrowser;
let phonePage: PhonePage;

beforeAll(async () => {
  tg = await startGateway(
    testConfig(43800, (raw) => {
      (raw.sip as Record<string, unknown>).websocket = { port: 0 };
      // WebRTC runs on the main thread: the caller's call must be there too.
      Object.assign(raw.media as Record<string, unknown>, {
        workers: 1,
        webrtc: { portMin: 43840, portMax: 43879 },
      });
      raw.devices = [
        {
          id: 'webby-browser',
          username: 'webby',
          ha1: { MD5: ha1Of('MD5', 'webby', 'telgate', 'secret-pass') },
          handler: { transferTarget: true },
        },
      ];
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours['to-webby'] = {
        kind: 'tone',
        frequency: 1000,
        steps: [
          { atMs: 500, do: 'transfer', target: 'sip:webby', mode: 'bridged', timeoutMs: 8000 },
        ],
      };
      (raw.endpoints as unknown[]).push({
        id: 'to-webby',
        baseNumber: BASE,
        extension: '891',
        flow: PUBLISHED,
      });
    }),
  );
  phonePage = await servePhonePage();
  browser = await launchBrowser(await toneWav(await tempDir(), 440, 48000, 60));
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await phonePage?.close();
  await tg?.stop();
});
afterEach(() => killAll());

describe('a transfer to a browser registered over WebSocket', () => {
  it('rings the browser over its socket, and caller and browser hear each other', async () => {
    // drachtio-server's WebSocket contact is its WSS one (test/helpers/drachtio.ts).
    const scheme = TEST_ENGINE === 'drachtio' ? 'wss' : 'ws';
    const ws = `${scheme}://127.0.0.1:${tg.gateway.engine.listenAddress.wsPort}/`;
    const page = await browser.page(phonePage.url(ws, 'webby', 'secret-pass'));
    await page.waitForFunction(() => (window as unknown as PhoneWindow).phone.registered);
    const [binding] = await tg.gateway.store.bindings('webby');
    expect(binding.source.transport).toBe(scheme);
    expect(binding.contact).toMatch(/\.invalid/);

    const call = await toneCall(await workDir(), tg.sipPort, `${BASE.slice(1)}891`, 600, 7);
    await page.waitForFunction(
      () => (window as unknown as PhoneWindow).phone.state === 'in call',
      undefined,
      {
        timeout: 10_000,
      },
    );
    const heard = await until(
      () => page.evaluate(() => (window as unknown as PhoneWindow).phone.dominantFrequency()),
      (hz) => Math.abs(hz - 600) < 30,
      6000,
      "the caller's 600 Hz in the browser",
    );
    expect(Math.abs(heard - 600)).toBeLessThan(30);
    const done = await call.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const atCaller = await call.heard();
    expect(countFramesAt(atCaller, 440, 8000)).toBeGreaterThanOrEqual(50);
    await page.waitForFunction(() => (window as unknown as PhoneWindow).phone.state === 'ended');

    await page.close();
    // Through drachtio-server the binding expires instead: the daemon does not tell its
    // application a connection closed (docs/drachtio.md).
    if (TEST_ENGINE === 'drachtio') return;
    await until(
      () => tg.gateway.store.bindings('webby'),
      (bindings) => bindings.length === 0,
      5000,
      'the binding to go with its socket',
    );
  }, 40_000);
});
