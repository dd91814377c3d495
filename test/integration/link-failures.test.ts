/**
 * What the caller gets when the agent side fails: TelAPI unreachable or refusing, and the agent's
 * WebSocket dying mid-call. The failing TelAPI is a real HTTP server on loopback.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  callsClosed,
  NUMBERS,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { messagesLog, runSipp, scenario, sippPorts, startSipp, workDir } from '../helpers/sipp.js';

let tg: TestGateway | undefined;
afterEach(async () => {
  await killAll();
  await tg?.stop();
  tg = undefined;
});

/** Starts telgate against an outside TelAPI at `url` and has sipp run scenario `file` once. */
async function callThrough(
  url: string,
  timeoutMs: number,
  file: string,
  replace: Record<string, string> = {},
  extra: string[] = [],
): Promise<string> {
  tg = await startGateway(
    testConfig(31200, (raw) => {
      raw.telapi = { url, timeoutMs };
      (raw.localAgent as { enabled: boolean }).enabled = false;
    }),
    { TELAPI_API_KEY: 'k' },
  );
  const dir = await workDir();
  const scenarioFile = await scenario(dir, file, replace);
  const r = await runSipp({
    dir,
    scenarioFile,
    service: NUMBERS.echo,
    target: tg.sipPort,
    ports: sippPorts(),
    extra: ['-trace_msg', ...extra],
  });
  expect(r.code, r.stdout).toBe(0);
  return dir;
}

/** sipp expects `status` from telgate talking to the TelAPI at `url`; returns sipp's message log. */
async function callExpecting(url: string, status: number): Promise<string> {
  return messagesLog(
    await callThrough(url, 1000, 'uac_expect.xml', { EXPECT: String(status) }),
    'uac_expect',
  );
}

describe('agent link failures', () => {
  it('TelAPI unreachable: the caller gets 503 with a Reason, after 180 Ringing', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const log = await callExpecting(`http://127.0.0.1:${port}`, 503);
    expect(log).toMatch(/SIP\/2\.0 180 Ringing/);
    expect(log).toMatch(
      /SIP\/2\.0 503 Service Unavailable[\s\S]*Reason: SIP ?;cause=503 ?;text="voice agent unavailable: TelAPI unreachable/,
    );
    expect(tg!.gateway.stats().ports.available).toBe(tg!.gateway.stats().ports.size);
  });

  it('TelAPI refuses the key: 503 naming the HTTP status', async () => {
    const api = http.createServer((_req, res) => res.writeHead(401).end('{"error":"bad key"}'));
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
    try {
      const log = await callExpecting(
        `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
        503,
      );
      expect(log).toMatch(
        /Reason: SIP ?;cause=503 ?;text="voice agent unavailable: TelAPI refused the session: HTTP 401/,
      );
    } finally {
      api.closeAllConnections();
      await new Promise<void>((r) => api.close(() => r()));
    }
  });

  it('the agent WebSocket dies mid-call and cannot be resumed: BYE with a Reason, all freed', async () => {
    tg = await startGateway(
      testConfig(31200, (raw) => {
        raw.link = { resumeWindowMs: 1000, holdAudioMs: 1000 };
      }),
    );
    const dir = await workDir();
    const sf = await scenario(dir, 'uac_wait_bye.xml');
    const sipp = startSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.tone,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-trace_msg'],
    });
    const agent = tg.gateway.localAgent!;
    // Once answered, the agent's socket is live: cut it.
    await once(tg.gateway.events, 'answered');
    expect(agent.liveSockets).toBe(1);
    await agent.close();
    const r = await sipp.done;
    expect(r.code, r.stdout).toBe(0);
    expect(await messagesLog(dir, 'uac_wait_bye')).toMatch(
      /BYE sip:[\s\S]*Reason: Q\.850 ?;cause=41 ?;text="voice agent connection lost: WebSocket closed 1006 not resumed within the window/,
    );
    const stats = tg.gateway.stats();
    expect(stats.endings['link-lost']).toBe(1);
    expect(stats.ports.available).toBe(stats.ports.size);
    expect(stats.clockSubscribers).toBe(0);
  });
});

describe('provisioning', () => {
  it.each([false, true])(
    'a TelAPI that never answers: 480 with a Reason after the provisioning timeout (early media %s)',
    async (earlyMedia) => {
      const stalled = http.createServer(() => undefined);
      await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', () => r()));
      try {
        tg = await startGateway(
          testConfig(31200, (raw) => {
            raw.telapi = { url: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}` };
            raw.calls = { provisioningTimeoutMs: 1000, earlyMedia };
            (raw.localAgent as { enabled: boolean }).enabled = false;
          }),
          { TELAPI_API_KEY: 'k' },
        );
        const dir = await workDir();
        const r = await runSipp({
          dir,
          scenarioFile: await scenario(dir, 'uac_expect.xml', { EXPECT: '480' }),
          service: NUMBERS.echo,
          target: tg.sipPort,
          ports: sippPorts(),
          extra: ['-trace_msg'],
        });
        expect(r.code, r.stdout).toBe(0);
        const log = await messagesLog(dir, 'uac_expect');
        expect(log).toMatch(
          /SIP\/2\.0 480 Temporarily Unavailable[\s\S]*Reason: SIP ?;cause=480 ?;text="voice agent not ready in time: no agent session within 1000 ms"/,
        );
        // Ringing meanwhile: 180, or 183 with SDP (and a ringback tone) when early media is on.
        if (earlyMedia) expect(log).toMatch(/SIP\/2\.0 183 Session Progress[\s\S]*m=audio/);
        else expect(log).toMatch(/SIP\/2\.0 180 Ringing/);
        await callsClosed(tg.gateway);
        const stats = tg.gateway.stats();
        expect(stats.ports.available).toBe(stats.ports.size);
        expect(stats.clockSubscribers).toBe(0);
      } finally {
        stalled.closeAllConnections();
        await new Promise<void>((r) => stalled.close(() => r()));
      }
    },
  );
});

describe('shutdown', () => {
  it('stopping telgate ends a live call with BYE and a Reason, and leaves nothing open', async () => {
    const gw = await startGateway(testConfig(31200));
    const dir = await workDir();
    const sf = await scenario(dir, 'uac_wait_bye.xml');
    const sipp = startSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.echo,
      target: gw.sipPort,
      ports: sippPorts(),
      extra: ['-trace_msg'],
    });
    await once(gw.gateway.events, 'answered');
    await gw.stop();
    const r = await sipp.done;
    expect(r.code, r.stdout).toBe(0);
    expect(await messagesLog(dir, 'uac_wait_bye')).toMatch(
      /Reason: Q\.850 ?;cause=41 ?;text="telgate shutting down/,
    );
    const stats = gw.gateway.stats();
    expect(stats.sip).toEqual({ transactions: 0, dialogs: 0 });
    expect(stats.ports.available).toBe(stats.ports.size);
    expect(gw.gateway.localAgent?.liveSockets).toBe(0);
  });
});

describe.each(['u1', 't1'])(
  'CANCEL while the agent link is being provisioned (sipp -t %s)',
  (t) => {
    it('the caller gets 200 for CANCEL and 487 for the INVITE, and nothing is left behind', async () => {
      // A TelAPI that accepts the request and never answers keeps the call ringing.
      const stalled = http.createServer(() => undefined);
      await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', () => r()));
      try {
        await callThrough(
          `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`,
          10000,
          'uac_cancel.xml',
          {},
          ['-t', t],
        );
        if (!tg) throw new Error('gateway not started');
        await callsClosed(tg.gateway);
        const stats = tg.gateway.stats();
        expect(stats.refusals.cancelled).toBe(1);
        expect(stats.activeCalls).toBe(0);
        expect(stats.ports.available).toBe(stats.ports.size);
        await tg.gateway.engine.whenIdle();
        expect(tg.gateway.engine.stats()).toEqual({ transactions: 0, dialogs: 0 });
      } finally {
        stalled.closeAllConnections();
        await new Promise<void>((r) => stalled.close(() => r()));
      }
    });
  },
);
