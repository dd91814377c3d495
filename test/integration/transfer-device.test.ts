/**
 * Transfers to registered devices: the agent asks for `sip:bob`; telgate calls every binding of
 * bob (a real baresip, registered over UDP) where its REGISTER came from, bridges the first to
 * answer, and the caller (sipp, 600 Hz) and the phone (baresip, 700 Hz) hear each other. A
 * device registered nowhere fails the transfer with 480 and the caller stays with the agent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { countFramesAt } from '../helpers/audio.js';
import { awaitRecording, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import { BASE, PUBLISHED, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { killAll, startProcess, waitForOutput } from '../helpers/processes.js';
import { toneCall } from '../helpers/tone-caller.js';
import { scenario, sippPorts, startSippUas, workDir } from '../helpers/sipp.js';
import { RegisterClient } from '../helpers/sip-register.js';
import { until } from '../helpers/wait.js';
import { testCertificate, tlsConfig } from '../helpers/tls-cert.js';

let tg: TestGateway;
let caFile: string;

/** Devices that require SRTP, one suite each, and the extensions whose agent transfers there. */
const SECURE = [
  ['881', 'dave32', 'AES_CM_128_HMAC_SHA1_32'],
  ['882', 'davegcm', 'AEAD_AES_128_GCM'],
  ['883', 'davegcm256', 'AEAD_AES_256_GCM'],
] as const;

beforeAll(async () => {
  const cert = await testCertificate();
  caFile = cert.certFile;
  tg = await startGateway(
    testConfig(31440, (raw) => {
      (raw.sip as Record<string, unknown>).tls = tlsConfig(cert);
      raw.devices = [
        ...['bob', 'carol'].map((username) => ({ username })),
        ...SECURE.map(([, username, suite]) => ({
          username,
          encryption: 'required',
          ciphers: [suite],
        })),
      ].map((d) => ({
        id: `${d.username}-phone`,
        ha1: { MD5: ha1Of('MD5', d.username, 'telgate', 'secret') },
        handler: { transferTarget: true },
        ...d,
      }));
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      for (const [ext, target] of [
        ['871', 'sip:bob'],
        ['872', 'sip:carol'],
        ...SECURE.map(([extension, username]) => [extension, `sip:${username}`]),
      ]) {
        agent.behaviours[`to-${ext}`] = {
          kind: 'tone',
          frequency: 1000,
          steps: [{ atMs: 800, do: 'transfer', target, mode: 'bridged', timeoutMs: 4000 }],
        };
        (raw.endpoints as unknown[]).push({
          id: `to-${ext}`,
          baseNumber: BASE,
          extension: ext,
          flow: PUBLISHED,
        });
      }
    }),
  );
});
afterAll(() => tg?.stop());
afterEach(async () => {
  await killAll();
  for (const user of ['bob', ...SECURE.map(([, username]) => username)]) {
    for (const b of await tg.gateway.store.bindings(user)) {
      await tg.gateway.store.removeBinding(user, b.contact);
    }
  }
});

function progressOf() {
  const states: Array<Record<string, unknown>> = [];
  tg.gateway.localAgent!.on('message', (_id: string, m: Record<string, unknown>) => {
    if (m.type === 'transfer.progress') states.push(m);
  });
  return states;
}

/** sipp calls `extension` streaming 600 Hz for `seconds`; what telgate sent it. */
async function caller(dir: string, extension: string, seconds: number) {
  const call = await toneCall(dir, tg.sipPort, `${BASE.slice(1)}${extension}`, 600, seconds);
  const done = await call.done;
  return { done, heard: await call.heard() };
}

/**
 * baresip registered as `user` (over TLS with mandatory SRTP when `secure`), answering with
 * 700 Hz.
 */
async function bobsPhone(dir: string, user = 'bob', secure = false) {
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: await toneWav(dir, 700, 8000, 10),
    codecs: 'PCMU',
    tlsCaFile: secure ? caFile : undefined,
    mediaenc: secure ? 'srtp-mand' : undefined,
    account: secure
      ? `<sip:${user}@127.0.0.1:${tg.gateway.engine.listenAddress.tlsPort};transport=tls>;auth_pass=secret;regint=600;answermode=auto;audio_codecs=PCMU;mediaenc=srtp-mand`
      : `<sip:${user}@127.0.0.1:${tg.sipPort}>;auth_pass=secret;regint=600;answermode=auto;audio_codecs=PCMU`,
  });
  const phone = startProcess('baresip', ['-f', configDir, '-t', '15'], { timeoutMs: 20_000 });
  await waitForOutput(phone, /200 OK.*\[1 binding\]/, 10_000);
  return { phone, recordDir };
}

describe('a transfer to a registered device', () => {
  it('rings the phone where it registered, and caller and phone hear each other', async () => {
    const dir = await workDir();
    const { phone, recordDir } = await bobsPhone(dir);
    const progress = progressOf();
    const { done, heard } = await caller(dir, '871', 5);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress.map((p) => p.state)).toEqual(
      expect.arrayContaining(['trying', 'answered', 'completed']),
    );
    // The caller heard the agent, then bob; bob heard the caller.
    expect(countFramesAt(heard, 1000, 8000)).toBeGreaterThanOrEqual(20);
    expect(countFramesAt(heard, 700, 8000)).toBeGreaterThanOrEqual(100);
    await until(
      () => phone.output().stdout,
      (out) => /Call closed|terminated|session closed/i.test(out),
      5000,
      'the phone hung up',
    );
    await awaitRecording(recordDir, ({ rate, all }) => countFramesAt(all, 600, rate) >= 100);
  });

  it('calls every binding at once: the first to answer wins, the other gets CANCEL', async () => {
    const dir = await workDir();
    await bobsPhone(dir);
    // A second binding of bob: a sipp that rings until it is cancelled.
    const ringing = await startSippUas(['-sf', await scenario(dir, 'uas_ring_cancel.xml')], {
      cwd: dir,
    });
    const registrar = await RegisterClient.open('127.0.0.1', {
      host: '127.0.0.1',
      port: tg.sipPort,
    });
    try {
      const second = await registrar.registerWithAuth('bob', 'secret', [
        `<sip:bob@127.0.0.1:${ringing.ports.sip}>`,
      ]);
      expect(second.reply.all('contact')).toHaveLength(2);
    } finally {
      registrar.close();
    }
    const { done, heard } = await caller(dir, '871', 4);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(countFramesAt(heard, 700, 8000)).toBeGreaterThanOrEqual(80);
    expect((await ringing.sipp.done).code).toBe(0); // it rang, and got CANCEL
  });

  it.each(SECURE)(
    'extension %s → %s over TLS: telgate offers only %s, the phone answers it, both hear',
    async (extension, username, suite) => {
      const dir = await workDir();
      const { phone, recordDir } = await bobsPhone(dir, username, true);
      const { done, heard } = await caller(dir, extension, 4);
      expect(done.code, done.stdout + done.stderr).toBe(0);
      // Both directions through SRTP: the caller hears the phone, the phone the caller.
      expect(countFramesAt(heard, 700, 8000)).toBeGreaterThanOrEqual(80);
      await awaitRecording(recordDir, ({ rate, all }) => countFramesAt(all, 600, rate) >= 80);
      expect(phone.output().stdout).toMatch(
        new RegExp(`SRTP is Enabled \\(cryptosuite=${suite}\\)`),
      );
    },
    30_000,
  );

  it('fails with 480 when the device is registered nowhere; the caller stays with the agent', async () => {
    const dir = await workDir();
    const progress = progressOf();
    const { done, heard } = await caller(dir, '872', 3);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(progress).toEqual([
      expect.objectContaining({
        state: 'failed',
        sipStatus: 480,
        reason: 'carol is not registered',
      }),
    ]);
    expect(countFramesAt(heard.slice(-50), 1000, 8000)).toBeGreaterThanOrEqual(40);
  });
});
