/**
 * SRTP with a real phone: baresip calls telgate over SIP over TLS with mandatory SRTP (SDES; as a
 * caller baresip 1.0 offers AES_CM_128_HMAC_SHA1_80 only) and hears its own tone back through
 * the echo agent. An endpoint that requires SRTP refuses sipp's plain offer over UDP with 488,
 * and baresip's SRTP offer over cleartext SIP too (its keys would travel in the clear).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { dial, recordedFrames, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import { BASE, PUBLISHED, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { messagesLog, scenario, sippPorts, startSipp, workDir } from '../helpers/sipp.js';
import { testCertificate, tlsConfig } from '../helpers/tls-cert.js';

let tg: TestGateway;
let dir: string;
let caFile: string;

const SUITES = { '941': 'AES_CM_128_HMAC_SHA1_80' } as const;

beforeAll(async () => {
  dir = await workDir();
  const cert = await testCertificate();
  caFile = cert.certFile;
  tg = await startGateway(
    testConfig(31300, (raw) => {
      (raw.sip as Record<string, unknown>).tls = tlsConfig(cert);
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      for (const [extension, suite] of Object.entries(SUITES)) {
        agent.behaviours[`srtp-${extension}`] = { kind: 'echo' };
        (raw.endpoints as unknown[]).push({
          id: `srtp-${extension}`,
          baseNumber: BASE,
          extension,
          flow: PUBLISHED,
          encryption: 'required',
          ciphers: [suite],
        });
      }
    }),
  );
});
afterAll(async () => {
  await tg?.stop();
});
afterEach(async () => {
  await killAll();
});

/**
 * baresip with mandatory SRTP, playing 600 Hz, calls `extension` over TLS (or UDP when `tls` is
 * false): what it printed and heard.
 */
async function secureCall(extension: string, tls = true) {
  const wav = await toneWav(dir, 600, 8000, 3);
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: wav,
    codecs: 'PCMU',
    tlsCaFile: tls ? caFile : undefined,
    mediaenc: 'srtp-mand',
  });
  const tlsPort = tg.gateway.engine.listenAddress.tlsPort!;
  const uri = tls
    ? `sip:${BASE.slice(1)}${extension}@127.0.0.1:${tlsPort};transport=tls`
    : `sip:${BASE.slice(1)}${extension}@127.0.0.1:${tg.sipPort}`;
  const result = await dial(configDir, uri, tls ? 6 : 3);
  const output = result.stdout + result.stderr;
  if (!tls) return { output, all: [], rate: 8000 };
  expect(output).toMatch(/Call established/i);
  return { output, ...(await recordedFrames(recordDir)) };
}

describe('SRTP over SIP over TLS with baresip', () => {
  it.each(Object.entries(SUITES))(
    'extension %s (%s): baresip hears its tone back through SRTP',
    async (extension) => {
      const before = tg.gateway.stats().endings['caller-hangup'] ?? 0;
      const { all, rate } = await secureCall(extension);
      expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(120);
      expect(tg.gateway.stats().endings['caller-hangup']).toBe(before + 1);
    },
    30_000,
  );
});

describe('what an endpoint that requires SRTP refuses', () => {
  it('a plain RTP offer (488), and an SRTP offer over cleartext SIP (488)', async () => {
    const wd = await workDir();
    const plain = startSipp({
      dir: wd,
      scenarioFile: await scenario(wd, 'uac_expect.xml', { EXPECT: '488' }),
      service: `${BASE.slice(1)}941`,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-trace_msg'],
    });
    const done = await plain.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(await messagesLog(wd, 'uac_expect')).toMatch(
      /Warning: 399 telgate "this endpoint requires SRTP/,
    );
    const refusals = tg.gateway.stats().refusals['bad-sdp'] ?? 0;
    const { output } = await secureCall('941', false);
    expect(output).toMatch(/488 Not Acceptable Here/);
    expect(output).not.toMatch(/Call established/i);
    expect(tg.gateway.stats().refusals['bad-sdp']).toBe(refusals + 1);
  });
});
