/**
 * telgate on a real drachtio-server: what only the drachtio engine has. The admin connection cut
 * (through a relay) and the daemon restarted mid-run, telgate reconnecting with no restart of
 * its own; and a steady rate of calls through the daemon. Runs in the `drachtio` project.
 */
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { Capture } from '../helpers/capture.js';
import {
  DRACHTIO_SECRET,
  freePort,
  startAdminRelay,
  startDrachtio,
  type AdminRelay,
  type TestDrachtio,
} from '../helpers/drachtio.js';
import {
  BASE,
  callsClosed,
  expectNothingLeft,
  NUMBERS,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { DrachtioSipEngine } from '../../src/sip/engine-drachtio.js';
import { decodeRtpTo } from '../helpers/rtp.js';
import { until } from '../helpers/wait.js';
import {
  callAnswered,
  runSipp,
  scenario,
  sippPorts,
  messagesLog,
  startSipp,
  WITHOUT_TONE,
  workDir,
} from '../helpers/sipp.js';

const MEDIA_MIN = 44200;
let daemon: TestDrachtio;
let relay: AdminRelay;
let tg: TestGateway;

beforeAll(async () => {
  daemon = await startDrachtio();
  relay = await startAdminRelay(daemon.adminPort);
  tg = await startGateway(
    testConfig(MEDIA_MIN, (raw) => {
      const sip = raw.sip as Record<string, unknown>;
      sip.engine = 'drachtio';
      sip.drachtio = { host: '127.0.0.1', port: relay.port, secret: DRACHTIO_SECRET };
      (raw.media as Record<string, unknown>).portMax = MEDIA_MIN + 199;
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours.long = { kind: 'tone', frequency: 1000, hangupAfterMs: 5000 };
      (raw.endpoints as unknown[]).push({
        id: 'long',
        baseNumber: BASE,
        extension: '500',
        flow: PUBLISHED,
      });
    }),
  );
});
afterAll(async () => {
  await tg?.stop();
  await relay?.close();
  await daemon?.kill();
});
afterEach(async () => {
  await killAll();
  await expectNothingLeft(tg);
});

const readiness = () => once(tg.gateway.events, 'sipEngine') as Promise<[boolean]>;

describe('the admin connection to drachtio-server', () => {
  it('cut: telgate is not ready meanwhile, the live call’s audio goes on, it reconnects and takes new calls', async () => {
    const dir = await workDir();
    const ports = sippPorts();
    const toCaller = await Capture.start(dir, `udp and dst port ${ports.media}`);
    // The caller answers the in-dialog OPTIONS telgate probes with once it is back, then the
    // agent hangs up after 5 s of its 1 kHz tone.
    const caller = startSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_wait_bye.xml', {
        '<recv request="BYE" timeout="15000"/>': PROBE_THEN_BYE,
      }),
      service: `${BASE.slice(1)}500`,
      target: tg.sipPort,
      ports,
      extra: ['-trace_msg'],
    });
    await acked(dir, 'uac_wait_bye');
    const down = readiness();
    await relay.cut();
    expect((await down)[0]).toBe(false);
    expect(tg.gateway.unavailable()?.cause).toBe('sip-engine-down');
    expect(tg.gateway.stats().activeCalls).toBe(1);
    const up = readiness();
    await relay.restore();
    expect((await up)[0]).toBe(true);
    expect(tg.gateway.unavailable()).toBeUndefined();
    const done = await caller.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    await callsClosed(tg.gateway);
    expect(tg.gateway.stats().endings['agent-hangup']).toBe(1);
    // 5 s of tone at 50 frames/s: the cut took none of it.
    const frames = decodeRtpTo(await toCaller.stop(), ports.media);
    expect(countFramesAt(frames, 1000, 8000)).toBeGreaterThanOrEqual(220);
    await callAnswered(tg.sipPort, NUMBERS.echo);
  });

  it('the daemon restarted: the call whose dialog it lost ends and frees its slot; new calls are answered', async () => {
    const before = tg.gateway.stats().endings['sip-engine-lost'] ?? 0;
    const dir = await workDir();
    startSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-d', '20000', '-trace_msg'],
    });
    await acked(dir, 'uac_rtp');
    const down = readiness();
    await daemon.kill();
    expect((await down)[0]).toBe(false);
    expect(tg.gateway.stats().activeCalls).toBe(1); // its media is untouched meanwhile
    const up = readiness();
    await daemon.restart();
    expect((await up)[0]).toBe(true);
    await callsClosed(tg.gateway);
    expect(tg.gateway.stats().endings['sip-engine-lost']).toBe(before + 1);
    await killAll(); // the first caller, whose dialog the daemon forgot
    await callAnswered(tg.sipPort, NUMBERS.echo);
  });
});

describe('a steady call rate through drachtio-server', () => {
  it('20 calls/s for 5 s, each with RTP for 1 s: every call answered, no retransmission', async () => {
    const dir = await workDir();
    const r = await runSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      calls: 100,
      rate: 20,
      timeoutS: 30,
      extra: ['-d', '1000', '-trace_stat', '-fd', '1'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const stat = await lastStatLine(dir);
    expect(stat['SuccessfulCall(C)']).toBe(100);
    expect(stat['FailedCall(C)']).toBe(0);
    expect(stat['Retransmissions(C)']).toBe(0);
  });
});

describe('callers that hang up at once', () => {
  it('BYE right after the ACK, 100 calls/s for 3 s: every call ends, none is left', async () => {
    // The daemon hands over the ACK and BYE in the same read as its word that the 200 left:
    // the dialog must have its listeners before they are handled.
    const dir = await workDir();
    const before = tg.gateway.stats().endings['caller-hangup'] ?? 0;
    const r = await runSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      calls: 300,
      rate: 100,
      extra: ['-d', '0'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await callsClosed(tg.gateway);
    expect(tg.gateway.stats().endings['caller-hangup']).toBe(before + 300);
  });
});

/** An OPTIONS inside the dialog answered 200, then the far end's BYE. */
const PROBE_THEN_BYE = `<recv request="OPTIONS" timeout="15000"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
  <recv request="BYE" timeout="15000"/>`;

/** Until the caller (sipp) has sent its ACK: the call is set up in the daemon, not only in telgate. */
async function acked(dir: string, prefix: string): Promise<void> {
  const log = () => messagesLog(dir, prefix).catch(() => '');
  await until(log, (text) => /ACK sip:/.test(text), 10_000, 'the caller’s ACK');
}

/** sipp's cumulative counters at the end of its run (its -trace_stat file). */
async function lastStatLine(dir: string): Promise<Record<string, number>> {
  const file = (await fs.readdir(dir)).find((f) => f.endsWith('_.csv'));
  if (!file) throw new Error(`no sipp statistics file in ${dir}`);
  const lines = (await fs.readFile(path.join(dir, file), 'utf8')).trim().split('\n');
  const names = lines[0].split(';');
  const values = lines[lines.length - 1].split(';');
  return Object.fromEntries(names.map((name, i) => [name, Number(values[i])]));
}

describe('a daemon that is never reached', () => {
  it('stop() resolves, and the engine stops trying to connect', async () => {
    const port = await freePort(); // nothing listens there
    const engine = new DrachtioSipEngine({
      host: '127.0.0.1',
      port,
      secret: DRACHTIO_SECRET,
      startWaitMs: 200,
      retryMaxDelayMs: 200,
    });
    await engine.start();
    expect(engine.ready()).toBe(false);
    await engine.stop();
    // Were it still retrying (every 200 ms at most), a listener now would be connected to.
    const connections: net.Socket[] = [];
    const server = net.createServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const socket of connections) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    expect(connections).toHaveLength(0);
  });
});
