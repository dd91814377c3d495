/**
 * The agent's transfers against real peers, bridged and blind: sipp is the caller, another sipp
 * the egress trunk and its target; the local agent asks for the transfer from a scripted step.
 * Options, hang-ups, warm transfers and the target policy are in transfer-options.test.ts.
 */
import type { CallEvent } from '../../src/state/call-events.js';
import { describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import {
  answeringTarget,
  callAndCapture,
  gateway,
  progressOf,
  ringingTarget,
  stopGatewayAfterEach,
  TARGET,
  transferAt,
} from '../helpers/transfer.js';
import { inviteDigest, messagesLog, scenario, startSippUas, workDir } from '../helpers/sipp.js';

stopGatewayAfterEach();

describe('bridged transfer', () => {
  it.each([407, 401] as const)(
    '%s from the trunk, then answered: the caller and the target hear each other',
    async (challenge) => {
      const dir = await workDir();
      const uas = await answeringTarget(dir, challenge);
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
    },
  );

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
