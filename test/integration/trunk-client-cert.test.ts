/**
 * A trunk that requires client certificates: its numbers answer only INVITEs that came over TLS
 * from a client whose certificate the configured CA signed (403 `source-not-allowed` otherwise),
 * while the TLS listener itself still takes clients without one.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NUMBERS, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { testCertificate, tlsConfig } from '../helpers/tls-cert.js';

let tg: TestGateway;

beforeAll(async () => {
  const cert = await testCertificate();
  tg = await startGateway(
    testConfig(31480, (raw) => {
      (raw.sip as Record<string, unknown>).tls = tlsConfig(cert, true);
      raw.trunks = [
        { id: 'carrier', inbound: { allow: ['127.0.0.0/8'], requireClientCert: true } },
      ];
      (raw.baseNumbers as Array<Record<string, unknown>>)[0].trunk = 'carrier';
    }),
  );
});
afterAll(() => tg?.stop());

/** An INVITE to the echo number over TLS; the final response's status line and headers. */
async function inviteOverTls(withCert: boolean): Promise<string> {
  const { cert, key } = await testCertificate();
  const socket = tls.connect({
    host: '127.0.0.1',
    port: tg.gateway.engine.listenAddress.tlsPort!,
    ca: cert,
    ...(withCert && { cert, key }),
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const local = `127.0.0.1:${socket.localPort}`;
  const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
  const id = `tls-${withCert}`;
  socket.write(
    `INVITE sip:${NUMBERS.echo}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS ${local};branch=z9hG4bK${id}\r\n` +
      `From: <sip:+4930123@127.0.0.1>;tag=${id}\r\nTo: <sip:${NUMBERS.echo}@127.0.0.1>\r\n` +
      `Call-ID: ${id}\r\nCSeq: 1 INVITE\r\nContact: <sip:c@${local};transport=tls>\r\n` +
      `Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
  );
  let text = '';
  const final = await new Promise<string>((resolve, reject) => {
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const m = /SIP\/2\.0 [2-6]\d\d [^\r]*\r\n[\s\S]*?\r\n\r\n/.exec(text);
      if (m) resolve(m[0]);
    });
    socket.once('error', reject);
  });
  socket.destroy();
  return final;
}

describe('a trunk that requires client certificates', () => {
  it('refuses its calls over TLS without a certificate (403)', async () => {
    expect(await inviteOverTls(false)).toMatch(
      /^SIP\/2\.0 403 [\s\S]*Reason: SIP ;cause=403 ;text="source address not allowed/,
    );
  });

  it('takes them from a client whose certificate the CA signed', async () => {
    expect(await inviteOverTls(true)).toMatch(/^SIP\/2\.0 200 OK/);
  });
});
