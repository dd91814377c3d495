/**
 * A real phone registers: baresip with digest credentials over UDP, TCP and TLS gets its
 * binding (kept with the transport and port it came from), unregisters when it quits, and
 * with a wrong password gets 403 after the challenge.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { killAll, signal, startProcess, waitForOutput } from '../helpers/processes.js';
import { sippPorts, workDir } from '../helpers/sipp.js';
import { testCertificate } from '../helpers/tls-cert.js';
import { until } from '../helpers/wait.js';

let tg: TestGateway;
let caFile: string;

beforeAll(async () => {
  const cert = await testCertificate();
  caFile = cert.certFile;
  tg = await startGateway(
    testConfig(31420, (raw) => {
      (raw.sip as Record<string, unknown>).tls = {
        port: 0,
        certFile: cert.certFile,
        keyFile: cert.keyFile,
      };
      raw.devices = [
        {
          id: 'alice-phone',
          username: 'alice',
          ha1: { MD5: ha1Of('MD5', 'alice', 'telgate', 'secret') },
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
  const dir = await workDir();
  const ports = sippPorts();
  const port = transport === 'tls' ? tg.gateway.engine.listenAddress.tlsPort! : tg.sipPort;
  const { configDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: await toneWav(dir, 600, 8000, 1),
    codecs: 'PCMU',
    tlsCaFile: transport === 'tls' ? caFile : undefined,
    account: `<sip:alice@127.0.0.1:${port};transport=${transport}>;auth_pass=${password};regint=600;answermode=auto;audio_codecs=PCMU`,
  });
  const phone = startProcess('baresip', ['-f', configDir, '-t', '20'], { timeoutMs: 25_000 });
  return phone;
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
