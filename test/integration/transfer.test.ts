/**
 * The agent's transfers against real peers: sipp is the caller, another sipp the egress trunk
 * and its target; the local agent asks for the transfer from a scripted step.
 */
import type { CallEvent } from '../../src/state/call-events.js';
import { afterEach, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { Capture } from '../helpers/capture.js';
import {
  BASE,
  expectNothingLeft,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { decodeRtpTo } from '../helpers/rtp.js';
import {
  answeringTrunk,
  egressTrunk,
  inviteDigest,
  messagesLog,
  scenario,
  sippPorts,
  startSipp,
  startSippUas,
  toneFile,
  workDir,
} from '../helpers/sipp.js';

const MEDIA_MIN = 32000;
const EGRESS = '+15550199';
const TARGET = '+15550199001';

let tg: TestGateway | undefined;
afterEach(async () => {
  await killAll();
  if (tg) {
    await expectNothingLeft(tg);
    await tg.stop();
  }
  tg = undefined;
});

type Step = Record<string, unknown>;

/** telgate whose egress trunk is the sipp UAS on `trunkPort`; endpoint 800 runs `steps`. */
async function gateway(
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
function progressOf(gw: TestGateway) {
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
async function callAndCapture(
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
 * The egress trunk and target: challenges with 407, checks the digest's form (sipp's verifyauth
 * reads Authorization only; the tests check the response), answers, streams 700 Hz (apart from
 * the 440 + 480 Hz of telgate's ringback), waits for BYE.
 */
async function answeringTarget(dir: string) {
  await toneFile(dir, 700, 8, 'target.ul');
  return answeringTrunk(dir, 'target.ul');
}

/** A target that rings until it is cancelled (and checks the CANCEL came). */
async function ringingTarget(dir: string) {
  return startSippUas(['-sf', await scenario(dir, 'uas_ring_cancel.xml')], { cwd: dir });
}

const transferAt = (mode: string, target = TARGET, timeoutMs = 4000): Step => ({
  atMs: 800,
  do: 'transfer',
  target,
  mode,
  timeoutMs,
});

describe('bridged transfer', () => {
  it('407 from the trunk, then answered: the caller and the target hear each other', async () => {
    const dir = await workDir();
    await toneFile(dir, 700, 8, 'target.ul');
    const uas = await answeringTarget(dir);
    const gw = await gateway(uas.ports.sip, [transferAt('bridged')]);
    const progress = progressOf(gw);
    const events: CallEvent[] = [];
    gw.gateway.store.onEvent = (e) => events.push(e);
    const ends: unknown[] = [];
    gw.gateway.localAgent!.on('message', (_id: string, m: { type: string }) => {
      if (m.type === 'session.end') ends.push(m);
    });
    const { done, toCaller, toTarget } = await callAndCapture(gw, dir, uas.ports.media);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code, await messagesLog(dir, 'uas_auth')).toBe(0);
    expect(
      progress.map((p) => p.state),
      JSON.stringify(progress),
    ).toEqual(['trying', 'answered', 'completed']);
    // The agent's session ended with the bridge, not with the call.
    expect(ends).toEqual([{ type: 'session.end', reason: 'transferred' }]);
    expect(events.map((e) => e.type)).toEqual(['started', 'answered', 'transferred', 'ended']);
    expect(events[2]).toMatchObject({ target: TARGET, mode: 'bridged', sipStatus: 200 });
    // The caller heard the agent first, then the target; the target heard the caller.
    expect(countFramesAt(toCaller, 1000, 8000)).toBeGreaterThanOrEqual(30);
    expect(countFramesAt(toCaller, 700, 8000)).toBeGreaterThanOrEqual(100);
    expect(countFramesAt(toTarget, 600, 8000)).toBeGreaterThanOrEqual(100);
    // The INVITE showed the egress number as caller ID.
    const log = await messagesLog(dir, 'uas_auth');
    expect(log).toMatch(
      /INVITE sip:\+15550199001@127\.0\.0\.1:\d+ SIP\/2\.0[\s\S]*From: <sip:\+15550199@127\.0\.0\.1>/,
    );
    // sipp's call came from no trusted trunk: its identity is not asserted onward.
    expect(log).not.toMatch(/P-Asserted-Identity/i);
    const digest = inviteDigest(log, 'alice', 'secret');
    expect(digest.given).toBe(digest.expected);
  });

  it.each([
    ['486', 'Busy Here'],
    ['404', 'Not Found'],
  ])('target answers %s: the agent is told and the caller still hears it', async (code, reason) => {
    const dir = await workDir();
    const uas = await startSippUas(
      ['-sf', await scenario(dir, 'uas_code.xml', { CODE: code, REASON: reason })],
      { cwd: dir },
    );
    const gw = await gateway(uas.ports.sip, [transferAt('bridged')]);
    const progress = progressOf(gw);
    const { done, toCaller } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 3000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress.map((p) => [p.state, p.sipStatus])).toEqual([
      ['trying', undefined],
      ['failed', Number(code)],
    ]);
    // The agent's 1 kHz tone goes on to the end of the call (3 s, the transfer at 0.8 s).
    expect(countFramesAt(toCaller.slice(-50), 1000, 8000)).toBeGreaterThanOrEqual(40);
  });

  it('no answer: the target leg is cancelled at the timeout, the agent is told', async () => {
    const dir = await workDir();
    const uas = await ringingTarget(dir);
    const gw = await gateway(uas.ports.sip, [transferAt('bridged', TARGET, 1500)]);
    const progress = progressOf(gw);
    const { done, toCaller } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 4000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0); // it got the CANCEL
    expect(progress.map((p) => p.state)).toEqual(['trying', 'ringing', 'failed']);
    expect(progress[2]).toMatchObject({ sipStatus: 487, reason: 'no answer' });
    expect(countFramesAt(toCaller.slice(-50), 1000, 8000)).toBeGreaterThanOrEqual(40);
  });

  it('the caller hangs up while the target rings: the target leg is cancelled', async () => {
    const dir = await workDir();
    const uas = await ringingTarget(dir);
    const gw = await gateway(uas.ports.sip, [transferAt('bridged', TARGET, 10_000)]);
    const { done } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 2000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0);
  });
});

describe('bridged transfer options', () => {
  it('with agentListens the agent keeps hearing the caller after the bridge', async () => {
    const dir = await workDir();
    const uas = await answeringTarget(dir);
    const gw = await gateway(uas.ports.sip, [transferAt('bridged')], {
      transfer: { agentListens: true },
    });
    const agent = gw.gateway.localAgent!;
    let framesAfter = 0;
    let bridged = false;
    let endedEarly = false;
    agent.on('message', (_id: string, m: { type: string; state?: string }) => {
      if (m.type === 'transfer.progress' && m.state === 'completed') bridged = true;
      if (m.type === 'session.end' && !bridged) endedEarly = true;
    });
    agent.on('audio', () => {
      if (bridged) framesAfter++;
    });
    const { done, toCaller } = await callAndCapture(gw, dir, uas.ports.media);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0);
    expect(endedEarly).toBe(false);
    expect(framesAfter).toBeGreaterThanOrEqual(100); // ~4 s of the caller after the bridge
    expect(countFramesAt(toCaller, 700, 8000)).toBeGreaterThanOrEqual(50);
  });

  it('the egress trunk’s cap applies: at its limit the agent is told, nothing is sent', async () => {
    const dir = await workDir();
    const gw = await gateway(sippPorts().sip, [transferAt('bridged')], { maxCalls: 0 });
    const progress = progressOf(gw);
    const { done } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 2000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress).toEqual([
      expect.objectContaining({
        state: 'failed',
        sipStatus: 503,
        reason: 'egress trunk at its call cap',
      }),
    ]);
  });
});

describe('hang-ups', () => {
  it('the target hangs up after the bridge: the caller gets BYE with a Reason', async () => {
    const dir = await workDir();
    const uas = await startSippUas(['-sf', await scenario(dir, 'uas_answer_then_bye.xml')], {
      cwd: dir,
    });
    const gw = await gateway(uas.ports.sip, [transferAt('bridged')]);
    const { done } = await callAndCapture(gw, dir, undefined, 'uac_wait_bye.xml');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0);
    expect(await messagesLog(dir, 'uac_wait_bye')).toMatch(
      /BYE sip:[\s\S]*Reason: Q\.850 ?;cause=16 ?;text="the transfer target hung up"/,
    );
  });
});

describe('warm transfer', () => {
  it('consult, then complete: the agent talks to the target, then the caller does', async () => {
    const dir = await workDir();
    const uas = await answeringTarget(dir);
    const gw = await gateway(uas.ports.sip, [
      transferAt('warm'),
      { atMs: 2500, do: 'transfer-complete' },
    ]);
    const progress = progressOf(gw);
    const { done, toCaller, toTarget } = await callAndCapture(gw, dir, uas.ports.media);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0);
    expect(progress.map((p) => p.state)).toEqual(['trying', 'answered', 'completed']);
    // The target heard the agent (1 kHz) while consulted, then the caller (600 Hz).
    expect(countFramesAt(toTarget, 1000, 8000)).toBeGreaterThanOrEqual(20);
    expect(countFramesAt(toTarget, 600, 8000)).toBeGreaterThanOrEqual(50);
    expect(countFramesAt(toCaller, 700, 8000)).toBeGreaterThanOrEqual(50);
  });

  it('consult, then cancel: the target leg ends and the caller is back with the agent', async () => {
    const dir = await workDir();
    const uas = await answeringTarget(dir);
    const gw = await gateway(uas.ports.sip, [
      transferAt('warm'),
      { atMs: 2500, do: 'transfer-cancel' },
    ]);
    const progress = progressOf(gw);
    const { done, toCaller } = await callAndCapture(gw, dir, uas.ports.media);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0); // it got telgate's BYE
    expect(progress.map((p) => p.state)).toEqual(['trying', 'answered', 'cancelled']);
    // The caller never heard the target, and hears the agent again at the end.
    expect(countFramesAt(toCaller, 700, 8000)).toBe(0);
    expect(countFramesAt(toCaller.slice(-50), 1000, 8000)).toBeGreaterThanOrEqual(40);
  });
});

describe('hang-ups during a consultation', () => {
  it('the caller hangs up: the consulted target gets BYE', async () => {
    const dir = await workDir();
    const uas = await answeringTarget(dir);
    const gw = await gateway(uas.ports.sip, [transferAt('warm')]);
    const { done } = await callAndCapture(gw, dir, uas.ports.media, 'uac_rtp.xml', 2500);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0); // it got telgate's BYE
  });

  it('the target hangs up: the transfer is cancelled and the caller is back with the agent', async () => {
    const dir = await workDir();
    const uas = await startSippUas(['-sf', await scenario(dir, 'uas_answer_then_bye.xml')], {
      cwd: dir,
    });
    const gw = await gateway(uas.ports.sip, [transferAt('warm')]);
    const progress = progressOf(gw);
    const { done, toCaller } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 3000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect((await uas.sipp.done).code).toBe(0);
    expect(progress.map((p) => p.state)).toEqual(['trying', 'answered', 'cancelled']);
    expect(progress[2]).toMatchObject({ reason: 'the target hung up' });
    expect(countFramesAt(toCaller.slice(-50), 1000, 8000)).toBeGreaterThanOrEqual(40);
  });
});

describe('target policy', () => {
  it('a premium-rate target is refused before anything leaves telgate', async () => {
    const dir = await workDir();
    // Nothing listens on the trunk: an INVITE would time out, not be refused at once.
    const gw = await gateway(sippPorts().sip, [transferAt('bridged', '+19005550100')]);
    const progress = progressOf(gw);
    const { done } = await callAndCapture(gw, dir, undefined, 'uac_rtp.xml', 2000);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress).toEqual([
      expect.objectContaining({
        state: 'failed',
        reason: 'target refused: +19005550100 is a premium-rate number (+1900…)',
      }),
    ]);
  });
});

describe('blind transfer', () => {
  it('REFER to the caller’s side: 202, NOTIFY 200, and telgate ends its part', async () => {
    const dir = await workDir();
    const gw = await gateway(5060, [transferAt('blind')]);
    const progress = progressOf(gw);
    const { done } = await callAndCapture(gw, dir, undefined, 'uac_accept_refer.xml');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress.map((p) => [p.state, p.sipStatus])).toEqual([
      ['trying', undefined],
      ['completed', 200],
    ]);
    const log = await messagesLog(dir, 'uac_accept_refer');
    expect(log).toMatch(/REFER sip:[\s\S]*Refer-To: <?sip:\+15550199001@127\.0\.0\.1:5060>?/);
    expect(log).toMatch(/Referred-By: <?sip:\+15550199@127\.0\.0\.1>?/);
    expect(log).toMatch(
      /BYE sip:[\s\S]*Reason: Q\.850 ?;cause=16 ?;text="transferred by the agent"/,
    );
  });
});
