/**
 * The agent's transfers against real peers, beyond the basic bridged and blind ones: options
 * (agentListens, the trunk's cap), hang-ups, warm (consultative) transfers, the target policy.
 */
import { describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import {
  answeringTarget,
  callAndCapture,
  gateway,
  progressOf,
  stopGatewayAfterEach,
  transferAt,
} from '../helpers/transfer.js';
import { messagesLog, scenario, sippPorts, startSippUas, workDir } from '../helpers/sipp.js';

stopGatewayAfterEach();

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
