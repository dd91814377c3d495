/**
 * telgate's own SRTP offers: a call placed (POST /api/calls) through an egress trunk over TLS
 * to a real baresip that answers with mandatory SRTP. The endpoint allows one suite at a time,
 * so telgate offers exactly it (AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM in
 * turn); baresip answers it, and its tone comes back to it through the echo agent, both
 * directions encrypted. An endpoint requiring SRTP refuses to place a call over a trunk that
 * is not TLS.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { awaitRecording, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import { BASE, callsClosed, PUBLISHED } from '../helpers/gateway.js';
import { killAll, startProcess, waitForOutput } from '../helpers/processes.js';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { egressTrunk, sippPorts, workDir } from '../helpers/sipp.js';
import { testCertificate, tlsConfig } from '../helpers/tls-cert.js';

const EGRESS = '+15550177';
const CALLEE = '+15550177100';
const SUITES = ['AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const;

let gw: ProviderGateway | undefined;
afterEach(async () => {
  await killAll();
  await gw?.tg.stop();
  gw = undefined;
});

/**
 * telgate with SIP over TLS and one endpoint per suite (an echo agent that hangs up after 3 s,
 * SRTP required with that suite alone), whose egress trunk is `trunk`.
 */
async function gateway(trunk: Record<string, unknown>): Promise<ProviderGateway> {
  const cert = await testCertificate();
  gw = await startProviderGateway(43820, {}, {}, (raw) => {
    (raw.sip as Record<string, unknown>).tls = tlsConfig(cert, true);
    raw.trunks = [trunk];
    (raw.baseNumbers as unknown[]).push({ number: EGRESS, trunk: 'egress' });
    const agent = raw.localAgent as { behaviours: Record<string, unknown> };
    SUITES.forEach((suite, i) => {
      agent.behaviours[`out-${i}`] = { kind: 'echo', hangupAfterMs: 3000 };
      (raw.endpoints as unknown[]).push({
        id: `out-${i}`,
        baseNumber: BASE,
        extension: `96${i}`,
        flow: PUBLISHED,
        egressBaseNumber: EGRESS,
        encryption: 'required',
        ciphers: [suite],
      });
    });
  });
  return gw;
}

/** baresip answering over TLS (its SIP port + 1) with mandatory SRTP, playing 600 Hz. */
async function securePhone(dir: string) {
  const cert = await testCertificate();
  const pem = path.join(dir, 'baresip.pem');
  await fs.writeFile(pem, Buffer.concat([cert.cert, cert.key]));
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: await toneWav(dir, 600, 8000, 10),
    codecs: 'PCMU',
    tlsCertificate: pem,
    mediaenc: 'srtp-mand',
    user: CALLEE,
  });
  const phone = startProcess('baresip', ['-f', configDir, '-t', '15'], { timeoutMs: 20_000 });
  await waitForOutput(phone, /baresip is ready/, 10_000);
  return { phone, tlsPort: ports.sip + 1, recordDir };
}

describe('SRTP offered by telgate to a TLS trunk', () => {
  it.each(SUITES.map((suite, i) => [suite, i] as const))(
    '%s: baresip answers the one suite offered, and hears its tone back',
    async (suite, i) => {
      const dir = await workDir();
      const { phone, tlsPort, recordDir } = await securePhone(dir);
      const gw = await gateway({
        ...egressTrunk(tlsPort, 2),
        outbound: { host: '127.0.0.1', port: tlsPort, transport: 'tls' },
      });
      const placed = await settingsApi(gw.port, 'POST', '/api/calls', {
        to: CALLEE,
        endpoint: `out-${i}`,
      });
      expect(placed.status).toBe(201);
      await waitForOutput(phone, /Call established/i, 10_000);
      await waitForOutput(phone, /(Call closed|session closed|terminated)/i, 15_000);
      await callsClosed(gw.tg.gateway);
      const output = phone.output().stdout + phone.output().stderr;
      expect(output).toMatch(new RegExp(`SRTP is Enabled \\(cryptosuite=${suite}\\)`));
      await awaitRecording(recordDir, ({ rate, all }) => countFramesAt(all, 600, rate) >= 100);
    },
    30_000,
  );

  it('refuses to place an SRTP-only call over a trunk that is not TLS', async () => {
    const gw = await gateway(egressTrunk(9, 2));
    const placed = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+15550177100',
      endpoint: 'out-0',
    });
    expect(placed).toMatchObject({ status: 409, body: { field: 'endpoint' } });
    expect(placed.body!.error).toMatch(/requires SRTP.*not TLS/);
  });
});
