/**
 * Browsers' calls against SIP calls: telgate's CPU per call-second with WebRTC (ICE, DTLS-SRTP,
 * Opus or PCMU) and with plain RTP (PCMU), and the time from the Call button's click to the
 * agent's first audio in the page. Usage: npm run bench:webrtc (env WEBRTC_CALLS=8,
 * WEBRTC_SECONDS=20, WEBRTC_CLICKS=10).
 *
 * Method. telgate runs as its own process (dist/main.js, a temporary config, media.workers 1 so
 * every call of every row is on its one main thread, as browsers' calls always are), with the
 * embedded echo agent in it (the same cost in every row). Each row sets up WEBRTC_CALLS calls,
 * waits 2 s, then reads telgate's CPU time from /proc over WEBRTC_SECONDS; µs per call-second is
 * that CPU ÷ (calls × seconds), less the idle process's own (measured the same way with no
 * call). Browser rows: Debian's chromium, one page per call, its fake microphone a 440 Hz tone;
 * the SIP row: one caller per call in this process sending a PCMU packet every 20 ms. The rows
 * interleave over three rounds; the table has each row's median. Click → first audio: the tone
 * agent (1 kHz from its first frame), one call at a time, from the click to the first analyser
 * frame above −40 dBFS in the page (performance.now(), requestAnimationFrame's granularity:
 * about 16 ms).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { toneWav } from '../test/helpers/baresip.js';
import { launchBrowser, type TestBrowser } from '../test/helpers/browser.js';
import { MiniUac } from './mini-uac.js';
import { cpuSeconds, startTelgate } from './telgate-process.js';

const CALLS = Number(process.env.WEBRTC_CALLS ?? 8);
const SECONDS = Number(process.env.WEBRTC_SECONDS ?? 20);
const ROUNDS = 3;
const CLICKS = Number(process.env.WEBRTC_CLICKS ?? 10);
const SIP_PORT = 5296;
const WS_PORT = 8296;

type PageWindow = { telgateCall: { clickToAudioMs(): number } };

/** CPU seconds of `pid` over `seconds` of wall time. */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const before = await cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (await cpuSeconds(pid)) - before;
}

async function writeConfig(dir: string): Promise<void> {
  const web = (id: string, codecs: string[]) => ({
    kind: 'web-voice',
    id,
    slug: id,
    allowAnywhere: true,
    callPage: true,
    codecs,
    flow: { id: `flow-${id}`, publishedVersion: 1 },
  });
  const config = {
    sip: { listen: { host: '127.0.0.1', port: SIP_PORT }, websocket: { port: WS_PORT } },
    media: {
      host: '127.0.0.1',
      portMin: 30000,
      portMax: 30999,
      workers: 1,
      webrtc: { portMin: 31000, portMax: 31999 },
    },
    ops: { enabled: false },
    localAgent: {
      enabled: true,
      listen: { host: '127.0.0.1', port: 0 },
      behaviours: {
        echo: { kind: 'echo' },
        'web-opus': { kind: 'echo' },
        'web-pcmu': { kind: 'echo' },
        'web-tone': { kind: 'tone', frequency: 1000 },
      },
    },
    baseNumbers: [{ number: '+15550100', extensions: true }],
    endpoints: [
      {
        id: 'echo',
        baseNumber: '+15550100',
        extension: '100',
        flow: { id: 'flow-echo', publishedVersion: 1 },
      },
      web('web-opus', ['opus']),
      web('web-pcmu', ['PCMU']),
      web('web-tone', ['opus']),
    ],
  };
  await fs.writeFile(path.join(dir, 'telgate.yaml'), JSON.stringify(config));
}

async function browserRow(browser: TestBrowser, slug: string, pid: number): Promise<number> {
  const pages = [];
  for (let i = 0; i < CALLS; i++) {
    const page = await browser.page(`http://127.0.0.1:${WS_PORT}/call/${slug}`);
    await page.waitForFunction(() => document.body.dataset.state === 'idle');
    await page.click('#call');
    await page
      .waitForFunction(() => document.body.dataset.state === 'in call', undefined, {
        timeout: 15_000,
      })
      .catch(async (err: Error) => {
        const state = await page.textContent('#state');
        throw new Error(`call ${i + 1} of ${slug} not up (${state}): ${err.message}`);
      });
    pages.push(page);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = await cpuOver(pid, SECONDS);
  for (const page of pages) {
    await page.click('#hangup');
    await page.close();
  }
  return cpu;
}

async function sipRow(pid: number): Promise<number> {
  const uacs: Array<{ uac: MiniUac; port: number }> = [];
  for (let i = 0; i < CALLS; i++) {
    const uac = new MiniUac(SIP_PORT);
    await uac.open();
    uacs.push({ uac, port: await uac.call() });
  }
  let n = 0;
  const packet = Buffer.alloc(172, 0xd5);
  packet[0] = 0x80;
  const sender = setInterval(() => {
    n++;
    packet.writeUInt16BE(n & 0xffff, 2);
    packet.writeUInt32BE((n * 160) >>> 0, 4);
    uacs.forEach(({ uac, port }, i) => {
      packet.writeUInt32BE(i + 1, 8);
      uac.rtp.send(packet, port, '127.0.0.1');
    });
  }, 20);
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = await cpuOver(pid, SECONDS);
  clearInterval(sender);
  for (const { uac } of uacs) {
    await uac.bye();
    uac.close();
  }
  return cpu;
}

async function clickToAudio(browser: TestBrowser): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < CLICKS; i++) {
    const page = await browser.page(`http://127.0.0.1:${WS_PORT}/call/web-tone`);
    await page.waitForFunction(() => document.body.dataset.state === 'idle');
    await page.click('#call');
    await page.waitForFunction(
      () => (window as unknown as PageWindow).telgateCall.clickToAudioMs() > 0,
      undefined,
      { timeout: 10_000 },
    );
    times.push(
      await page.evaluate(() => (window as unknown as PageWindow).telgateCall.clickToAudioMs()),
    );
    await page.click('#hangup');
    await page.close();
  }
  return times;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-webrtc-'));
await writeConfig(dir);
const stop = await startTelgate(dir);
const browser = await launchBrowser(await toneWav(dir, 440, 48000, 120));
try {
  const rows: Record<string, number[]> = { idle: [], sip: [], opus: [], pcmu: [] };
  for (let round = 0; round < ROUNDS; round++) {
    rows.idle.push(await cpuOver(stop.pid, SECONDS));
    rows.sip.push(await sipRow(stop.pid));
    rows.opus.push(await browserRow(browser, 'web-opus', stop.pid));
    rows.pcmu.push(await browserRow(browser, 'web-pcmu', stop.pid));
  }
  const idle = median(rows.idle);
  const perCall = (cpu: number) => ((cpu - idle) / (CALLS * SECONDS)) * 1e6;
  const sip = perCall(median(rows.sip));
  console.log(
    `\n${CALLS} calls per row, ${SECONDS} s windows, ${ROUNDS} rounds; idle telgate: ${((idle / SECONDS) * 100).toFixed(2)} % of a core\n`,
  );
  console.log(
    '| calls | telgate CPU µs per call-second (median, idle subtracted) | ÷ plain RTP | calls per core at that cost |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const [name, label] of [
    ['sip', 'SIP, plain RTP, PCMU'],
    ['opus', 'browser, WebRTC, Opus/48000'],
    ['pcmu', 'browser, WebRTC, PCMU'],
  ] as const) {
    const cost = perCall(median(rows[name]));
    console.log(
      `| ${label} | ${cost.toFixed(0)} (rounds: ${rows[name].map((c) => perCall(c).toFixed(0)).join(', ')}) | ${(cost / sip).toFixed(2)} | ${Math.floor(1e6 / cost)} |`,
    );
  }
  const times = await clickToAudio(browser);
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `\nclick → first audio from the agent (${CLICKS} calls, one at a time): median ${median(times).toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`,
  );
} finally {
  await browser.close();
  await stop();
  await fs.rm(dir, { recursive: true, force: true });
}
