/**
 * telgate behind a real Kamailio (record-route, dispatcher): in-dialog requests must follow the
 * route set, both for calls telgate answers and for calls it places. Kamailio reaches telgate
 * over UDP or TCP; sipp talks UDP to Kamailio. An overloaded telgate answers the dispatcher's
 * OPTIONS probes with 503, and Kamailio takes it out of the set until it recovers.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { gatewayForFile, NUMBERS } from '../helpers/gateway.js';
import { startKamailio, type Kamailio } from '../helpers/kamailio.js';
import { saturateEventLoop } from '../helpers/load.js';
import {
  messagesLog,
  runSipp,
  scenario,
  sippPorts,
  startQuietCall,
  startSippUas,
  WITHOUT_TONE,
  workDir,
} from '../helpers/sipp.js';

const gateway = gatewayForFile(31400);

/** The BYE sipp received, from its message log: the text between the BYE line and the next blank line. */
function receivedBye(log: string): string {
  const at = log.search(/^BYE sip:/m);
  expect(at, 'sipp received no BYE').toBeGreaterThanOrEqual(0);
  return log.slice(at, log.indexOf('\n\n', at));
}

/** Runs `body` with a Kamailio in front of `destination`, stopped after (its OPTIONS probes
 * would otherwise keep telgate's transaction table from ever being empty). */
async function withKamailio(destination: string, body: (k: Kamailio) => Promise<void>) {
  const kamailio = await startKamailio(sippPorts().sip, [destination]);
  try {
    await body(kamailio);
  } finally {
    await kamailio.stop();
  }
}

describe.each(['udp', 'tcp'] as const)('Kamailio to telgate over %s', (transport) => {
  const param = transport === 'tcp' ? ';transport=tcp' : '';

  it('a record-routed call completes: the ACK reaches telgate, its BYE goes back through Kamailio', async () => {
    await withKamailio(`sip:127.0.0.1:${gateway.current.sipPort}${param}`, (k) =>
      recordRoutedCall(k),
    );
  });
});

async function recordRoutedCall(kamailio: Kamailio): Promise<void> {
  const dir = await workDir();
  const before = gateway.current.gateway.stats().endings;
  const sf = await scenario(dir, 'uac_wait_bye.xml');
  const r = await runSipp({
    dir,
    scenarioFile: sf,
    service: NUMBERS.hangup,
    target: kamailio.port,
    ports: sippPorts(),
    extra: ['-trace_msg'],
  });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const log = await messagesLog(dir, 'uac_wait_bye');
  expect(log).toMatch(new RegExp(`Record-Route: <sip:127\\.0\\.0\\.1:${kamailio.port}[;>]`));
  // Kamailio's Via on top: the BYE came through the proxy, as the route set says.
  const bye = receivedBye(log);
  expect(bye).toMatch(new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${kamailio.port};`, 'm'));
  expect(bye.match(/^Via:/gm)?.length).toBe(2);
  const after = gateway.current.gateway.stats().endings;
  // The ACK was routed to telgate: the call ended by the agent, not for want of an ACK.
  expect(after['agent-hangup']).toBe((before['agent-hangup'] ?? 0) + 1);
  expect(after['no-ack'] ?? 0).toBe(before['no-ack'] ?? 0);
}

describe('telgate calling out through Kamailio', () => {
  it('the ACK carries the route set through the proxy; the far end’s BYE comes back the same way', async () => {
    const dir = await workDir();
    const sf = await scenario(dir, 'uas_answer_then_bye.xml');
    const uas = await startSippUas(['-sf', sf, '-trace_msg'], { cwd: dir });
    await withKamailio(`sip:127.0.0.1:${uas.ports.sip}`, async (kamailio) => {
      const outgoing = gateway.current.gateway.engine.invite({
        uri: `sip:+15550100777@127.0.0.1:${uas.ports.sip}`,
        nextHop: `sip:127.0.0.1:${kamailio.port}`,
        from: 'sip:+15550100100@127.0.0.1',
        sdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n',
      });
      const result = await outgoing.result;
      expect(result.ok, JSON.stringify(result)).toBe(true);
      if (!result.ok) return;
      const ended = await new Promise((resolve) => result.dialog.onEnd(resolve));
      expect(ended).toBe('remote-bye');
      const done = await uas.sipp.done;
      expect(done.code, done.stdout + done.stderr).toBe(0);
      const log = await messagesLog(dir, 'uas_answer_then_bye');
      const ack = log.slice(log.search(/^ACK sip:/m));
      expect(ack.slice(0, ack.indexOf('\n\n'))).toMatch(
        new RegExp(`^Via: SIP/2\\.0/UDP 127\\.0\\.0\\.1:${kamailio.port};`, 'm'),
      );
    });
  });
});

describe('an overloaded telgate behind Kamailio', () => {
  it('answers the probes with 503, so the dispatcher takes it out until it recovers', async () => {
    const tg = gateway.current;
    await withKamailio(`sip:127.0.0.1:${tg.sipPort}`, async (kamailio) => {
      // A live call (straight to telgate) keeps the media clock, and so the guard, running.
      const live = await startQuietCall(tg.sipPort, NUMBERS.echo, 15_000);
      await once(tg.gateway.events, 'answered');
      const load = saturateEventLoop();
      try {
        expect(await once(tg.gateway.events, 'overload')).toEqual([true]);
        await kamailio.waitForLog(/dispatcher: OPTIONS \S+ is DOWN/, 10_000);
        // The only destination is out: Kamailio itself refuses, telgate never sees the INVITE.
        const log = await callThrough(kamailio, 'uac_expect.xml', { EXPECT: '503' });
        expect(log).toMatch(/SIP\/2\.0 503 No destination/);
      } finally {
        load.stop();
      }
      expect(await once(tg.gateway.events, 'overload')).toEqual([false]);
      await kamailio.waitForLog(/is DOWN[\s\S]*dispatcher: OPTIONS \S+ is UP/, 10_000);
      const log = await callThrough(kamailio, 'uac_rtp.xml', WITHOUT_TONE);
      expect(log).toMatch(/SIP\/2\.0 200 OK/);
      expect((await live.done).code).toBe(0);
      expect(tg.gateway.stats().refusals.overloaded ?? 0).toBe(0);
    });
  });
});

/** sipp runs `file` once to the tone number through Kamailio; returns its message log. */
async function callThrough(
  kamailio: Kamailio,
  file: string,
  replace: Record<string, string>,
): Promise<string> {
  const dir = await workDir();
  const r = await runSipp({
    dir,
    scenarioFile: await scenario(dir, file, replace),
    service: NUMBERS.tone,
    target: kamailio.port,
    ports: sippPorts(),
    extra: ['-trace_msg', '-d', '200'],
  });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return messagesLog(dir, file.replace('.xml', ''));
}
