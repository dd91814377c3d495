/**
 * SIP over TLS (RFC 3261 §26.2) on the engine's own port: a TLS 1.2+ client is answered on its
 * connection with a TLS Via; a plain TCP client, an old TLS version and (when the trunk demands
 * it) a client without a certificate are refused at the handshake; an outgoing request to a
 * `sips:` URI leaves over TLS and is verified against the CA.
 */
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { NativeSipEngine } from '../../src/sip/engine-native.js';
import { testCertificate } from '../helpers/tls-cert.js';

let engine: NativeSipEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function startEngine(requireClientCert = false): Promise<NativeSipEngine> {
  const { cert, key } = await testCertificate();
  engine = new NativeSipEngine({
    host: '127.0.0.1',
    port: 0,
    transports: ['udp'],
    tls: {
      port: 0,
      settings: { cert, key, ca: cert, requireClientCert, verifyServers: true },
    },
    timers: { t1: 50, t2: 400, t4: 250 },
  });
  await engine.start();
  return engine;
}

const options = (id: string) =>
  `OPTIONS sip:telgate@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK${id}\r\n` +
  `From: <sip:t@127.0.0.1>;tag=${id}\r\nTo: <sip:telgate@127.0.0.1>\r\nCall-ID: ${id}\r\n` +
  `CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;

/** Opens a TLS connection to the engine and resolves with everything it answers `request`. */
async function ask(
  port: number,
  request: string,
  extra: tls.ConnectionOptions = {},
): Promise<{ text: string; protocol: string | null }> {
  const { cert } = await testCertificate();
  const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, ...extra });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.write(request);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (/\r\n\r\n/.test(text)) resolve();
    });
    socket.once('error', reject);
  });
  const protocol = socket.getProtocol();
  socket.destroy();
  return { text, protocol };
}

describe('SIP over TLS', () => {
  it('answers on the connection a request came on, TLS 1.2 or later', async () => {
    const e = await startEngine();
    const port = e.listenAddress.tlsPort!;
    expect(port).toBeGreaterThan(0);
    expect(e.listenAddress.transports).toEqual(['udp', 'tls']);
    const { text, protocol } = await ask(port, options('tls1'));
    expect(text).toMatch(/^SIP\/2\.0 200 OK\r\n/);
    expect(text).toMatch(/Via: SIP\/2\.0\/TLS 127\.0\.0\.1:5999;branch=z9hG4bKtls1\r\n/);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(protocol);
  });

  it('refuses TLS 1.1 and a client that speaks plain TCP to the TLS port', async () => {
    const e = await startEngine();
    const port = e.listenAddress.tlsPort!;
    await expect(
      ask(port, options('old'), { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }),
    ).rejects.toThrow();
    const net = await import('node:net');
    const plain = net.connect({ host: '127.0.0.1', port });
    plain.write(options('plain'));
    const closed = await new Promise<string>((resolve) => {
      let text = '';
      plain.on('data', (d) => (text += d.toString('latin1')));
      plain.on('error', () => undefined);
      plain.on('close', () => resolve(text));
    });
    expect(closed).not.toMatch(/SIP\/2\.0/);
  });

  it('with requireClientCert, takes only clients whose certificate the CA signed', async () => {
    const e = await startEngine(true);
    const port = e.listenAddress.tlsPort!;
    await expect(ask(port, options('nocert'))).rejects.toThrow();
    const { cert, key } = await testCertificate();
    const { text } = await ask(port, options('cert'), { cert, key });
    expect(text).toMatch(/^SIP\/2\.0 200 OK/);
  });

  it('sends a request for a sips: URI over TLS, checking the server against the CA', async () => {
    const { cert, key } = await testCertificate();
    const seen: string[] = [];
    const server = tls.createServer({ cert, key }, (socket) => {
      socket.on('data', (d) => {
        const text = d.toString('latin1');
        seen.push(text);
        const via = /^Via: .*$/m.exec(text)![0];
        const callId = /^Call-ID: .*$/m.exec(text)![0];
        const from = /^From: .*$/m.exec(text)![0];
        const to = /^To: .*$/m.exec(text)![0];
        const cseq = /^CSeq: .*$/m.exec(text)![0];
        socket.write(
          `SIP/2.0 486 Busy Here\r\n${via}\r\n${from}\r\n${to};tag=far\r\n${callId}\r\n${cseq}\r\nContent-Length: 0\r\n\r\n`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const farPort = (server.address() as { port: number }).port;
    try {
      const e = await startEngine();
      const call = e.invite({
        uri: `sips:bob@127.0.0.1:${farPort}`,
        from: 'sip:telgate@127.0.0.1',
        sdp: '',
      });
      const result = await call.result;
      expect(result).toMatchObject({ ok: false, status: 486 });
      expect(seen[0]).toMatch(/^INVITE sips:bob@127\.0\.0\.1:\d+ SIP\/2\.0/);
      expect(seen[0]).toMatch(
        new RegExp(`Via: SIP/2\\.0/TLS 127\\.0\\.0\\.1:${e.listenAddress.tlsPort};branch=`),
      );
    } finally {
      server.close();
    }
  });
});
