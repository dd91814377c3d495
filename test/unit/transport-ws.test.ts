/**
 * SIP over WebSocket (RFC 7118) on the native engine, against a `ws` client: the `sip`
 * subprotocol is required at the upgrade, a request over the socket is answered over it with
 * its Via stamped, the Origin travels with the peer, and closing the socket tells the engine
 * the flow is gone. Also the allowed-origins comparison of the router.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NativeSipEngine } from '../../src/sip/engine-native.js';
import type { SipPeer } from '../../src/sip/message.js';
import { originAllowed } from '../../src/routing/resolve.js';
import { testCertificate } from '../helpers/tls-cert.js';

let engine: NativeSipEngine;
let url: string;
const closed: SipPeer[] = [];

beforeAll(async () => {
  engine = new NativeSipEngine({
    host: '127.0.0.1',
    port: 0,
    websocket: { port: 0, onHttp: (_req, res) => res.writeHead(200).end('page') },
  });
  engine.onFlowClosed((peer) => closed.push(peer));
  await engine.start();
  url = `ws://127.0.0.1:${engine.listenAddress.wsPort}/`;
});

afterAll(() => engine.stop());

const options = (branch: string) =>
  [
    'OPTIONS sip:telgate@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK${branch}`,
    'Max-Forwards: 70',
    'To: <sip:telgate@127.0.0.1>',
    'From: <sip:web@df7jal23ls0d.invalid>;tag=abc',
    `Call-ID: ${branch}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('SIP over WebSocket', () => {
  it('refuses an upgrade without the sip subprotocol with 400', async () => {
    const socket = new WebSocket(url, ['chat']);
    const [, response] = (await once(socket, 'unexpected-response')) as [
      unknown,
      { statusCode: number },
    ];
    expect(response.statusCode).toBe(400);
    socket.on('error', () => undefined); // terminate() before open reports itself
    socket.terminate();
  });

  it('answers a request over the socket it came on, and reports the socket closing', async () => {
    const socket = new WebSocket(url, ['sip'], { origin: 'https://app.example.com' });
    await once(socket, 'open');
    expect(socket.protocol).toBe('sip');
    socket.send(options('ws1'));
    const [data] = (await once(socket, 'message')) as [Buffer];
    const reply = data.toString();
    expect(reply).toMatch(/^SIP\/2\.0 200 /);
    expect(reply).toMatch(
      /^Via: SIP\/2\.0\/WS df7jal23ls0d\.invalid;branch=z9hG4bKws1;received=127\.0\.0\.1/m,
    );
    const port = (socket as unknown as { _socket: { localPort: number } })._socket.localPort;
    socket.close();
    await once(socket, 'close');
    await expect.poll(() => closed.length).toBe(1);
    expect(closed[0]).toMatchObject({ transport: 'ws', port, origin: 'https://app.example.com' });
  });

  it('serves plain HTTP requests through the handler on the same port', async () => {
    const response = await fetch(url.replace('ws:', 'http:'));
    expect(await response.text()).toBe('page');
  });
});

describe('SIP over secure WebSocket', () => {
  it('speaks wss with the TLS certificate, and stamps WSS Vias', async () => {
    const cert = await testCertificate();
    const secure = new NativeSipEngine({
      host: '127.0.0.1',
      port: 0,
      websocket: {
        port: 0,
        tls: { cert: cert.cert, key: cert.key, requireClientCert: false, verifyServers: false },
      },
    });
    await secure.start();
    try {
      expect(secure.listenAddress.transports).toContain('wss');
      const socket = new WebSocket(`wss://127.0.0.1:${secure.listenAddress.wsPort}/`, ['sip'], {
        ca: cert.cert,
        rejectUnauthorized: false,
      });
      await once(socket, 'open');
      socket.send(options('wss1').replace('SIP/2.0/WS ', 'SIP/2.0/WSS '));
      const [data] = (await once(socket, 'message')) as [Buffer];
      expect(data.toString()).toMatch(
        /^Via: SIP\/2\.0\/WSS df7jal23ls0d\.invalid;branch=z9hG4bKwss1/m,
      );
      socket.close();
    } finally {
      await secure.stop();
    }
  });
});

describe('allowed origins', () => {
  it('compares as URL origins: scheme, host and port', () => {
    const allowed = ['https://app.example.com', 'http://localhost:8088/'];
    expect(originAllowed('https://app.example.com', allowed)).toBe(true);
    expect(originAllowed('http://localhost:8088', allowed)).toBe(true);
    expect(originAllowed('http://app.example.com', allowed)).toBe(false);
    expect(originAllowed('http://localhost:8089', allowed)).toBe(false);
    expect(originAllowed('null', allowed)).toBe(false);
    expect(originAllowed(undefined, allowed)).toBe(false);
  });
});
