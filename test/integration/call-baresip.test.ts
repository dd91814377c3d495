/** A real SIP phone (baresip) calls telgate with PCMA and hears its own tone back. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { dial, frames, readWav, writeBaresipConfig } from '../helpers/baresip.js';
import { NUMBERS, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { killAll, runProcess } from '../helpers/processes.js';
import { sippPorts, workDir } from '../helpers/sipp.js';

let tg: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = await workDir();
  tg = await startGateway(testConfig(31100));
});
afterAll(async () => {
  await tg?.stop();
});
afterEach(async () => {
  await killAll();
});

it('baresip calls the PCMA-only echo endpoint and records its own 600 Hz tone', async () => {
  const wav = path.join(dir, 'tone600.wav');
  const sox = await runProcess(
    'sox',
    ['-n', '-r', '8000', '-c', '1', '-b', '16', wav, 'synth', '3', 'sine', '600', 'vol', '0.5'],
    { timeoutMs: 10_000 },
  );
  expect(sox.code).toBe(0);
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: wav,
    codecs: 'PCMA',
  });
  const result = await dial(configDir, `sip:${NUMBERS.alaw}@127.0.0.1:${tg.sipPort}`, 6);
  expect(result.stdout + result.stderr).toMatch(/Call established/i);

  const recordings = (await fs.readdir(recordDir)).filter((f) => f.endsWith('-dec.wav'));
  expect(recordings).toHaveLength(1);
  const { rate, samples } = readWav(await fs.readFile(path.join(recordDir, recordings[0])));
  const all = frames(samples, rate / 50);
  // The file plays for 3 s (150 frames); allow the first and last few frames to straddle.
  expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(130);
  expect(tg.gateway.stats().endings['caller-hangup']).toBe(1);
  expect(tg.gateway.stats().activeCalls).toBe(0);
});
