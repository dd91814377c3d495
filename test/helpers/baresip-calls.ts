/**
 * Calls from a real SIP phone (baresip) to a telgate with echo and tone endpoints at 8, 16 and
 * 24 kHz agents, for the baresip test files.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { dial, recordedFrames, toneWav, writeBaresipConfig } from './baresip.js';
import { BASE, PUBLISHED, startGateway, testConfig, type TestGateway } from './gateway.js';
import { killAll } from './processes.js';
import { sippPorts, workDir } from './sipp.js';

export const WIDEBAND = {
  echo16: `${BASE.slice(1)}510`,
  tone16: `${BASE.slice(1)}520`,
  echo24: `${BASE.slice(1)}530`,
};

/** One telgate for the file (media ports from `mediaPortMin`) and baresip calls to it. */
export function baresipCallsForFile(mediaPortMin: number) {
  let tg: TestGateway | undefined;
  let dir: string;
  beforeAll(async () => {
    dir = await workDir();
    tg = await startGateway(
      testConfig(mediaPortMin, (raw) => {
        raw.calls = { qualityIntervalSeconds: 1 };
        raw.providers = { stt: { nativeFormat: 'slin16' }, realtime: { nativeFormat: 'slin24' } };
        const agent = raw.localAgent as { behaviours: Record<string, unknown> };
        agent.behaviours.echo16 = { kind: 'echo' };
        agent.behaviours.tone16 = { kind: 'tone', frequency: 5000 };
        agent.behaviours.echo24 = { kind: 'echo' };
        (raw.endpoints as unknown[]).push(
          { id: 'echo16', baseNumber: BASE, extension: '510', provider: 'stt', flow: PUBLISHED },
          { id: 'tone16', baseNumber: BASE, extension: '520', provider: 'stt', flow: PUBLISHED },
          {
            id: 'echo24',
            baseNumber: BASE,
            extension: '530',
            provider: 'realtime',
            flow: PUBLISHED,
          },
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
  const current = () => {
    if (!tg) throw new Error('gateway not started');
    return tg;
  };
  return {
    get tg(): TestGateway {
      return current();
    },
    /**
     * baresip, limited to `codecs` and playing a `toneHz` tone at `rate`, calls `number`;
     * returns what it recorded from telgate, in 20 ms frames, and the recording's rate.
     */
    async call(number: string, toneHz: number, codecs: string, rate: number, seconds = 3) {
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
      const uri = `sip:${number}@127.0.0.1:${current().sipPort}`;
      const result = await dial(configDir, uri, seconds + 3);
      expect(result.stdout + result.stderr).toMatch(/Call established/i);
      return recordedFrames(recordDir);
    },
  };
}
