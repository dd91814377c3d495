/**
 * The transfer tests' telgate (egress trunk = a sipp UAS, endpoint 800 runs scripted steps), its
 * caller and targets, shared by the transfer test files.
 */
import { afterEach } from 'vitest';
import { Capture } from './capture.js';
import {
  BASE,
  expectNothingLeft,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from './gateway.js';
import { killAll } from './processes.js';
import { decodeRtpTo } from './rtp.js';
import {
  answeringTrunk,
  egressTrunk,
  scenario,
  sippPorts,
  startSipp,
  startSippUas,
  toneFile,
} from './sipp.js';

const MEDIA_MIN = 32000;
export const EGRESS = '+15550199';
export const TARGET = '+15550199001';

let tg: TestGateway | undefined;

/** Registers the file's afterEach: test processes killed, nothing left, the gateway stopped. */
export function stopGatewayAfterEach(): void {
  afterEach(async () => {
    await killAll();
    if (tg) {
      await expectNothingLeft(tg);
      await tg.stop();
    }
    tg = undefined;
  });
}

export type Step = Record<string, unknown>;

/** telgate whose egress trunk is the sipp UAS on `trunkPort`; endpoint 800 runs `steps`. */
export async function gateway(
  trunkPort: number,
  steps: Step[],
  options: { maxCalls?: number; transfer?: Record<string, unknown> } = {},
) {
  tg = await startGateway(
    testConfig(MEDIA_MIN, (raw) => {
      raw.trunks = [egressTrunk(trunkPort, options.maxCalls ?? 2)];
      (raw.baseNumbers as unknown[]).push({ number: EGRESS, trunk: 'egress' });
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours.xfer = { kind: 'tone', frequency: 1000, steps };
      (raw.endpoints as unknown[]).push({
        id: 'xfer',
        baseNumber: BASE,
        extension: '800',
        flow: PUBLISHED,
        egressBaseNumber: EGRESS,
        transfer: options.transfer,
      });
    }),
    { TRUNK_PASSWORD: 'secret' },
  );
  return tg;
}

/** What the agent heard of its transfer. */
export function progressOf(gw: TestGateway) {
  const states: Array<Record<string, unknown>> = [];
  gw.gateway.localAgent!.on('message', (_id: string, m: Record<string, unknown>) => {
    if (m.type === 'transfer.progress') states.push(m);
  });
  return states;
}

/**
 * The caller (sipp, streaming 600 Hz for `seconds`, then BYE) and captures of what telgate
 * sends to it and to the target's media port.
 */
export async function callAndCapture(
  gw: TestGateway,
  dir: string,
  targetMedia: number | undefined,
  file = 'uac_rtp.xml',
  callerPauseMs = 5000,
) {
  await toneFile(dir, 600, 8);
  const ports = sippPorts();
  const toCaller = await Capture.start(dir, `udp and dst port ${ports.media}`);
  const toTarget = targetMedia
    ? await Capture.start(dir, `udp and dst port ${targetMedia}`)
    : undefined;
  const caller = startSipp({
    dir,
    scenarioFile: await scenario(dir, file),
    service: `${BASE.slice(1)}800`,
    target: gw.sipPort,
    ports,
    extra: ['-trace_msg', '-d', String(callerPauseMs)],
  });
  const done = await caller.done;
  return {
    done,
    toCaller: decodeRtpTo(await toCaller.stop(), ports.media),
    toTarget: toTarget ? decodeRtpTo(await toTarget.stop(), targetMedia!) : [],
  };
}

/**
 * The egress trunk and target: challenges with 407 (or 401), checks the digest's form (sipp's verifyauth
 * reads Authorization only; the tests check the response), answers, streams 700 Hz (apart from
 * the 440 + 480 Hz of telgate's ringback), waits for BYE.
 */
export async function answeringTarget(dir: string, challenge: 401 | 407 = 407) {
  await toneFile(dir, 700, 8, 'target.ul');
  return answeringTrunk(dir, 'target.ul', challenge);
}

/** A target that rings until it is cancelled (and checks the CANCEL came). */
export async function ringingTarget(dir: string) {
  return startSippUas(['-sf', await scenario(dir, 'uas_ring_cancel.xml')], { cwd: dir });
}

export const transferAt = (mode: string, target = TARGET, timeoutMs = 4000): Step => ({
  atMs: 800,
  do: 'transfer',
  target,
  mode,
  timeoutMs,
});
