/** One sipp call to a test gateway while dumpcap records what telgate sends to sipp's media port. */
import { expect } from 'vitest';
import { Capture } from './capture.js';
import type { TestGateway } from './gateway.js';
import { decodeRtpFrames, type DecodedFrame } from './rtp.js';
import { runSipp, scenario, sippPorts } from './sipp.js';

export interface CapturedCall {
  frames: DecodedFrame[];
  pcm: Int16Array[];
}

export async function callCapturing(
  tg: TestGateway,
  dir: string,
  mediaMin: number,
  call: { file: string; service: string; replace?: Record<string, string>; extra?: string[] },
): Promise<CapturedCall> {
  const ports = sippPorts();
  const capture = await Capture.start(
    dir,
    `udp and dst port ${ports.media} and src portrange ${mediaMin}-${mediaMin + 19}`,
  );
  const sf = await scenario(dir, call.file, call.replace ?? {});
  const r = await runSipp({
    dir,
    scenarioFile: sf,
    service: call.service,
    target: tg.sipPort,
    ports,
    extra: call.extra ?? [],
  });
  const frames = decodeRtpFrames(await capture.stop(), ports.media);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return { frames, pcm: frames.map((f) => f.pcm) };
}
