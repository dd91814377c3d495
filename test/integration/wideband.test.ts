/**
 * Wideband agents behind narrowband callers, through whole calls: the agent link runs at the
 * provider's native rate (slin16, slin24) and telgate resamples once per direction. A 1 kHz tone
 * made by the agent at 16 kHz must reach the caller at 1 kHz (a rate mix-up would halve it), and
 * a caller's 440 Hz must come back from a 24 kHz echo agent at 440 Hz.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { callCapturing } from '../helpers/call-capture.js';
import { gatewayForFile, PUBLISHED } from '../helpers/gateway.js';
import { toneFile, WITHOUT_TONE, workDir } from '../helpers/sipp.js';

const MEDIA_MIN = 31600;
let dir: string;
const gateway = gatewayForFile(MEDIA_MIN, (raw) => {
  raw.providers = { stt: { nativeFormat: 'slin16' }, realtime: { nativeFormat: 'slin24' } };
  const agent = raw.localAgent as { behaviours: Record<string, unknown> };
  agent.behaviours.tone16 = { kind: 'tone', frequency: 1000 };
  agent.behaviours.echo24 = { kind: 'echo' };
  (raw.endpoints as unknown[]).push(
    { id: 'tone16', baseNumber: '+15550100', extension: '700', provider: 'stt', flow: PUBLISHED },
    {
      id: 'echo24',
      baseNumber: '+15550100',
      extension: '800',
      provider: 'realtime',
      flow: PUBLISHED,
    },
  );
});

beforeAll(async () => {
  dir = await workDir();
  await toneFile(dir, 440, 2);
});

async function call(service: string, replace: Record<string, string>, durationMs: number) {
  const { pcm } = await callCapturing(gateway.current, dir, MEDIA_MIN, {
    file: 'uac_rtp.xml',
    service,
    replace,
    extra: ['-d', String(durationMs)],
  });
  return pcm;
}

describe('wideband agent links', () => {
  it('slin16 agent tone reaches a PCMU caller at 1 kHz', async () => {
    const frames = await call('15550100700', WITHOUT_TONE, 1500);
    expect(frames.length).toBeGreaterThanOrEqual(60);
    expect(countFramesAt(frames, 1000, 8000)).toBeGreaterThanOrEqual(0.9 * frames.length);
  });

  it('a PCMU caller’s 440 Hz comes back from a slin24 echo agent at 440 Hz', async () => {
    const frames = await call('15550100800', {}, 2400);
    expect(countFramesAt(frames, 440, 8000)).toBeGreaterThanOrEqual(80);
  });
});
