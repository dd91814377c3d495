/**
 * Calls placed through a base-number endpoint's egress trunk (POST /api/calls): a real sipp
 * plays the trunk and the callee (407 challenge, answer, its tone), the endpoint's agent is the
 * local agent; what the callee hears is captured off the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/state/call-events.js';
import { callEventSchema } from '../../src/state/call-events.js';
import { countFramesAt } from '../helpers/audio.js';
import { Capture } from '../helpers/capture.js';
import { callsClosed, PUBLISHED, BASE } from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { decodeRtpTo } from '../helpers/rtp.js';
import {
  answeringTrunk,
  egressTrunk,
  inviteDigest,
  messagesLog,
  scenario,
  startSippUas,
  toneFile,
  workDir,
} from '../helpers/sipp.js';

const EGRESS = '+15550188';
const CALLEE = '+15550188123';

let gw: ProviderGateway | undefined;
afterEach(async () => {
  await killAll();
  await gw?.tg.stop();
  gw = undefined;
});

/** telgate with endpoint `dialout` (a 1 kHz tone agent that hangs up after 2.5 s) whose egress
 * trunk is the sipp UAS on `trunkPort`. */
async function gateway(trunkPort: number): Promise<ProviderGateway> {
  gw = await startProviderGateway(43800, {}, { TRUNK_PASSWORD: 'secret' }, (raw) => {
    raw.trunks = [egressTrunk(trunkPort, 1)];
    (raw.baseNumbers as unknown[]).push({ number: EGRESS, trunk: 'egress' });
    const agent = raw.localAgent as { behaviours: Record<string, unknown> };
    agent.behaviours.dialout = { kind: 'tone', frequency: 1000, hangupAfterMs: 2500 };
    (raw.endpoints as unknown[]).push({
      id: 'dialout',
      baseNumber: BASE,
      extension: '880',
      flow: PUBLISHED,
      egressBaseNumber: EGRESS,
    });
  });
  return gw;
}

const place = (gw: ProviderGateway, body: Record<string, unknown>) =>
  settingsApi(gw.port, 'POST', '/api/calls', body);

describe('a call placed through the egress trunk', () => {
  it('authenticates at the trunk, and the callee hears the agent until it hangs up', async () => {
    const dir = await workDir();
    await toneFile(dir, 700, 8, 'callee.ul');
    const uas = await answeringTrunk(dir, 'callee.ul');
    const gw = await gateway(uas.ports.sip);
    const events: CallEvent[] = [];
    gw.tg.gateway.store.onEvent = (e) => events.push(e);
    const toCallee = await Capture.start(dir, `udp and dst port ${uas.ports.media}`);

    const placed = await place(gw, { to: CALLEE, endpoint: 'dialout', metadata: { lead: 7 } });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      provider: 'sip',
      from: EGRESS,
      to: CALLEE,
      agent: 'dialout',
      status: 'queued',
      metadata: { lead: 7 },
    });
    const callId = placed.body!.call_id as string;
    expect((await uas.sipp.done).code).toBe(0); // answered, then telgate's BYE
    await callsClosed(gw.tg.gateway);
    const heard = decodeRtpTo(await toCallee.stop(), uas.ports.media);
    expect(countFramesAt(heard, 1000, 8000)).toBeGreaterThanOrEqual(80);

    expect(events.map((e) => e.type)).toEqual(['started', 'answered', 'ended']);
    for (const event of events) callEventSchema.parse(event);
    expect(events[0]).toMatchObject({
      callId,
      endpointId: 'dialout',
      dialed: CALLEE,
      source: 'api',
    });
    expect(events[1]).toMatchObject({ codec: 'PCMU/8000' });
    expect(events[2]).toMatchObject({ outcome: 'ended', cause: 'agent-hangup' });

    // The INVITE: the placed call's Call-ID, the egress number as caller ID, a valid digest.
    const log = await messagesLog(dir, 'uas_auth');
    expect(log).toContain(`Call-ID: ${callId}`);
    expect(log).toMatch(
      /INVITE sip:\+15550188123@127\.0\.0\.1:\d+ SIP\/2\.0[\s\S]*From: <sip:\+15550188@127\.0\.0\.1>/,
    );
    const digest = inviteDigest(log, 'alice', 'secret');
    expect(digest.given).toBe(digest.expected);
  });

  it('ends unanswered with the callee’s status when it is busy', async () => {
    const dir = await workDir();
    const uas = await startSippUas(
      ['-sf', await scenario(dir, 'uas_code.xml', { CODE: '486', REASON: 'Busy Here' })],
      { cwd: dir },
    );
    const gw = await gateway(uas.ports.sip);
    const events: CallEvent[] = [];
    gw.tg.gateway.store.onEvent = (e) => events.push(e);
    expect((await place(gw, { to: CALLEE, endpoint: 'dialout' })).status).toBe(201);
    expect((await uas.sipp.done).code).toBe(0);
    await callsClosed(gw.tg.gateway);
    expect(events.map((e) => e.type)).toEqual(['started', 'ended']);
    expect(events[1]).toMatchObject({
      outcome: 'refused',
      cause: 'callee-refused',
      sipStatus: 486,
    });
    // The agent was provisioned for it, and told how it ended.
    expect(
      await gw.agentGot((m) => m.type === 'session.end' && m.reason === 'callee-refused'),
    ).toMatchObject({ sipStatus: 486 });
  });

  it('refuses what it must not place, naming the field', async () => {
    const gw = await gateway(9); // no trunk is reached
    expect(await place(gw, { to: '+882123456789', endpoint: 'dialout' })).toMatchObject({
      status: 403,
      body: { field: 'to' },
    });
    expect(await place(gw, { to: CALLEE, endpoint: 'dialout', agent: 'echo' })).toMatchObject({
      status: 400,
      body: { field: 'agent' },
    });
    // An endpoint without an egress base number has no trunk to leave by.
    expect(await place(gw, { to: CALLEE, endpoint: 'echo' })).toMatchObject({
      status: 409,
      body: { field: 'endpoint' },
    });
    expect(await place(gw, { to: CALLEE, endpoint: 'nobody' })).toMatchObject({
      status: 404,
      body: { field: 'endpoint' },
    });
    expect(gw.tg.gateway.stats().activeCalls).toBe(0);
  });
});
