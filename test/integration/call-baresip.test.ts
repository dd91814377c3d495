/** A real SIP phone (baresip) calls telgate with PCMA and hears its own tone back. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { dial, recordedFrames, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import {
  BASE,
  NUMBERS,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { sippPorts, workDir } from '../helpers/sipp.js';

let tg: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = await workDir();
  tg = await startGateway(
    testConfig(31100, (raw) => {
      raw.calls = { qualityIntervalSeconds: 1 };
      raw.providers = { stt: { nativeFormat: 'slin16' }, realtime: { nativeFormat: 'slin24' } };
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours.echo16 = { kind: 'echo' };
      agent.behaviours.tone16 = { kind: 'tone', frequency: 5000 };
      agent.behaviours.echo24 = { kind: 'echo' };
      (raw.endpoints as unknown[]).push(
        { id: 'echo16', baseNumber: BASE, extension: '510', provider: 'stt', flow: PUBLISHED },
        { id: 'tone16', baseNumber: BASE, extension: '520', provider: 'stt', flow: PUBLISHED },
        { id: 'echo24', baseNumber: BASE, extension: '530', provider: 'realtime', flow: PUBLISHED },
      );
    }),
  );
});
afterAll(async () => {
  await tg?.stop();
});
afterEach(async () => {
  await killAll();
});

it('baresip calls the PCMA-only echo endpoint and records its own 600 Hz tone', async () => {
  const { rate, all } = await baresipCall(NUMBERS.alaw, 600, 'PCMA', 8000);
  // The file plays for 3 s (150 frames); allow the first and last few frames to straddle.
  expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(130);
  expect(tg.gateway.stats().endings['caller-hangup']).toBe(1);
  expect(tg.gateway.stats().activeCalls).toBe(0);
});

/**
 * baresip, limited to `codecs` and playing a `toneHz` tone at `rate`, calls `number`; returns
 * what it recorded from telgate, in 20 ms frames, and the recording's rate.
 */
async function baresipCall(
  number: string,
  toneHz: number,
  codecs: string,
  rate: number,
  seconds = 3,
) {
  const wav = await toneWav(dir, toneHz, rate, seconds);
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: wav,
    codecs,
    sampleRate: rate,
  });
  const result = await dial(configDir, `sip:${number}@127.0.0.1:${tg.sipPort}`, seconds + 3);
  expect(result.stdout + result.stderr).toMatch(/Call established/i);
  return recordedFrames(recordDir);
}

it('G.722: baresip’s 6 kHz tone, beyond narrowband, comes back through a slin16 echo agent', async () => {
  const { rate, all } = await baresipCall(`${BASE.slice(1)}510`, 6000, 'G722', 16000);
  expect(rate).toBe(16000);
  expect(countFramesAt(all, 6000, rate)).toBeGreaterThanOrEqual(130);
});

it('G.722: baresip records the 5 kHz tone of a slin16 agent', async () => {
  const { rate, all } = await baresipCall(`${BASE.slice(1)}520`, 5000, 'G722', 16000);
  expect(countFramesAt(all, 5000, rate)).toBeGreaterThanOrEqual(0.8 * all.length);
});

it('Opus: baresip’s 9 kHz tone, beyond G.722, comes back through a slin24 echo agent', async () => {
  const { rate, all } = await baresipCall(`${BASE.slice(1)}530`, 9000, 'opus', 48000);
  expect(rate).toBe(48000);
  expect(countFramesAt(all, 9000, rate, 50)).toBeGreaterThanOrEqual(120);
});

// baresip offers mono L16 only at 8 kHz (its other L16 rates are stereo), so this call runs
// L16/8000 → slin16 with one resample each way: the byte order and the chain both show.
it('L16: baresip’s 600 Hz tone comes back at 600 Hz through a slin16 echo agent', async () => {
  const { rate, all } = await baresipCall(`${BASE.slice(1)}510`, 600, 'L16', 8000);
  expect(rate).toBe(8000);
  expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(130);
});

it('RTCP: baresip’s reports reach the agent in call.quality, with loss, jitter and round trip', async () => {
  const agent = tg.gateway.localAgent!;
  const reports: Array<Record<string, number | undefined>> = [];
  const onMessage = (_id: string, m: { type: string; quality?: Record<string, number> }) => {
    if (m.type === 'call.quality' && m.quality) reports.push(m.quality);
  };
  agent.on('message', onMessage);
  try {
    await baresipCall(NUMBERS.alaw, 600, 'PCMA', 8000, 8);
  } finally {
    agent.off('message', onMessage);
  }
  expect(reports.length).toBeGreaterThanOrEqual(6);
  const last = reports[reports.length - 1];
  // telgate's own view of baresip's stream: every packet, no loss on loopback.
  expect(last.packetsReceived).toBeGreaterThan(300);
  expect(last.packetsLost).toBe(0);
  expect(last.jitterMs).toBeLessThan(20);
  // baresip's receiver reports about telgate's stream, and the round trip they allow.
  const withRtcp = reports.filter((r) => r.rttMs !== undefined);
  expect(withRtcp.length).toBeGreaterThan(0);
  expect(withRtcp[withRtcp.length - 1].remoteLossPercent).toBe(0);
  expect(withRtcp[withRtcp.length - 1].rttMs).toBeLessThan(50);
});
