/**
 * A real phone registers: baresip with digest credentials over UDP, TCP and TLS gets its
 * binding (kept with the transport and port it came from), unregisters when it quits, and
 * with a wrong password gets 403 after the challenge.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { dial, recordedFrames, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import { countFramesAt } from '../helpers/audio.js';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { killAll, signal, startProcess, waitForOutput } from '../helpers/processes.js';
import { sippPorts, workDir } from '../helpers/sipp.js';
import { testCertificate, tlsConfig } from '../helpers/tls-cert.js';
import { until } from '../helpers/wait.js';

let tg: TestGateway;
let caFile: string;

beforeAll(async () => {
  const cert = await testCertificate();
  caFile = cert.certFile;
  tg = await startGateway(
    testConfig(31420, (raw) => {
      (raw.sip as Record<string, unknown>).tls = tlsConfig(cert);
      raw.devices = [
        {
          id: 'alice-phone',
          username: 'alice',
          ha1: { MD5: ha1Of('MD5', 'alice', 'telgate', 'secret') },
          handler: { endpoint: 'echo' },
        },
        {
          id: 'sam-phone',
          username: 'sam',
          ha1: { MD5: ha1Of('MD5', 'sam', 'telgate', 'secret') },
          handler: { endpoint: 'echo' },
          encryption: 'required',
        },
      ];
    }),
  );
});
afterAll(() => tg?.stop());
afterEach(async () => {
  await killAll();
  // A failed test may leave a binding behind: the next starts with none.
  for (const b of await tg.gateway.store.bindings('alice')) {
    await tg.gateway.store.removeBinding('alice', b.contact);
  }
});

/** baresip registering as alice over `transport` with `password`; running. */
async function registeringPhone(transport: 'udp' | 'tcp' | 'tls', password: string) {
  const { configDir } = await aliceConfig(transport, password, 600);
  return startProcess('baresip', ['-f', configDir, '-t', '20'], { timeoutMs: 25_000 });
}

/** baresip's config as alice (registering every 600 s, or not at all with `regint` 0). */
async function aliceConfig(
  transport: 'udp' | 'tcp' | 'tls',
  password: string,
  regint: number,
  user = 'alice',
) {
  const dir = await workDir();
  const ports = sippPorts();
  const port = transport === 'tls' ? tg.gateway.engine.listenAddress.tlsPort! : tg.sipPort;
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: await toneWav(dir, 600, 8000, 2),
    codecs: 'PCMU',
    tlsCaFile: transport === 'tls' ? caFile : undefined,
    account: `<sip:${user}@127.0.0.1:${port};transport=${transport}>;auth_pass=${password};regint=${regint};answermode=auto;audio_codecs=PCMU`,
  });
  return { configDir, recordDir, port };
}

describe('baresip registers', () => {
  it.each(['udp', 'tcp', 'tls'] as const)(
    'over %s, and unregisters as it quits',
    async (transport) => {
      const phone = await registeringPhone(transport, 'secret');
      await waitForOutput(phone, /200 OK.*\[1 binding\]/, 10_000);
      expect(await tg.gateway.store.bindings('alice')).toHaveLength(1);
      const [binding] = await tg.gateway.store.bindings('alice');
      expect(binding.source.transport).toBe(transport);
      expect(binding.contact).toMatch(/^sip:alice[^@]*@127\.0\.0\.1:\d+/);
      // baresip sends REGISTER with Expires 0 as it quits.
      signal(phone.child, 'SIGTERM');
      await phone.done;
      await until(
        () => tg.gateway.store.bindings('alice'),
        (b) => b.length === 0,
        5000,
        'unbinding',
      );
    },
  );

  it('with a wrong password gets 403 after the challenge, and no binding', async () => {
    const phone = await registeringPhone('udp', 'nope');
    await waitForOutput(phone, /403 Forbidden/, 10_000);
    expect(await tg.gateway.store.bindings('alice')).toEqual([]);
  });
});

describe('calls from a device', () => {
  it('are challenged with 407, and once authenticated reach its handler endpoint', async () => {
    const { configDir, recordDir, port } = await aliceConfig('udp', 'secret', 0);
    const result = await dial(configDir, `sip:anything@127.0.0.1:${port}`, 4);
    expect(result.stdout + result.stderr).toMatch(/Call established/i);
    // The echo endpoint returned alice's own tone.
    const { rate, all } = await recordedFrames(recordDir);
    expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(60);
  });

  it('negotiate with the device’s own settings: one that requires SRTP gets 488 for plain RTP', async () => {
    // The echo endpoint takes plain RTP; sam's device settings require SRTP (over TLS).
    const { configDir, port } = await aliceConfig('udp', 'secret', 0, 'sam');
    const result = await dial(configDir, `sip:anything@127.0.0.1:${port}`, 3);
    expect(result.stdout + result.stderr).toMatch(/488 Not Acceptable Here/);
  });

  it('with a wrong password are refused with 403', async () => {
    const { configDir, port } = await aliceConfig('udp', 'nope', 0);
    const result = await dial(configDir, `sip:anything@127.0.0.1:${port}`, 3);
    expect(result.stdout + result.stderr).toMatch(/403 Forbidden/);
    expect(result.stdout + result.stderr).not.toMatch(/Call established/i);
  });
});
