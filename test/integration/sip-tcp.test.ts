/**
 * The TCP transport's own rules, driven from raw sockets (no SIP tool pipelines messages or
 * holds connections idle on demand): pipelining, keep-alive pong, the size limit with 513, the
 * per-source connection limit and the idle timeout.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeSipEngine } from '../../src/sip/engine-native.js';

let engine: NativeSipEngine;

beforeAll(async () => {
  engine = new NativeSipEngine({
    host: '127.0.0.1',
    port: 0,
    transports: ['tcp'],
    timers: { t1: 50, t2: 400, t4: 250 },
    limits: { maxMessageBytes: 4000 },
    tcp: { maxConnectionsPerSource: 3, idleTimeoutMs: 400 },
  });
  await engine.start();
});
afterAll(async () => {
  await engine.stop();
});

const options = (id: string, extra = '') =>
  `OPTIONS sip:telgate@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK${id}\r\n` +
  `From: <sip:t@127.0.0.1>;tag=${id}\r\nTo: <sip:telgate@127.0.0.1>\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\n` +
  `Max-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;

/** A client connection that collects everything the engine writes and notes when it closes. */
async function connect(): Promise<{
  socket: net.Socket;
  received: () => string;
  until: (pattern: RegExp) => Promise<void>;
  closed: Promise<void>;
}> {
  const socket = net.connect({ host: '127.0.0.1', port: engine.listenAddress.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (d) => {
    text += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const until = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(text)) return resolve();
        waiters.push(check);
      };
      void closed.then(() => reject(new Error(`closed before ${pattern}: ${text}`)));
      check();
    });
  return { socket, received: () => text, until, closed };
}

describe('TCP transport', () => {
  it('a connection left idle is closed by telgate after the idle timeout', async () => {
    const c = await connect();
    c.socket.write(options('idle'));
    await c.until(/Call-ID: idle/); // it was accepted and served; the client never closes it
    await c.closed;
    // The server side's own close event may come a turn after the client's.
    for (let i = 0; i < 100 && engine.tableSizes().tcpConnections > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(engine.tableSizes().tcpConnections).toBe(0);
  });

  it('answers two pipelined requests, in order, on the same connection', async () => {
    const c = await connect();
    c.socket.write(options('pipe1') + options('pipe2'));
    await c.until(/Call-ID: pipe1[\s\S]*Call-ID: pipe2/);
    expect(c.received().match(/^SIP\/2\.0 200 OK/gm)).toHaveLength(2);
    c.socket.destroy();
  });

  it('answers a double-CRLF keep-alive with a single CRLF', async () => {
    const c = await connect();
    c.socket.write('\r\n\r\n');
    await c.until(/^\r\n$/);
    c.socket.destroy();
  });

  it('a message over the size limit gets 513 and the connection is closed', async () => {
    const c = await connect();
    c.socket.write(options('big', `X-Pad: ${'x'.repeat(5000)}\r\n`));
    await c.closed;
    expect(c.received()).toMatch(/^SIP\/2\.0 513 Message Too Large[\s\S]*Call-ID: big/);
  });

  it('a fourth connection from one address is closed at once', async () => {
    const kept = [await connect(), await connect(), await connect()];
    const fourth = await connect();
    await fourth.closed;
    // The three others still work.
    kept[0].socket.write(options('still'));
    await kept[0].until(/Call-ID: still/);
    for (const c of kept) c.socket.destroy();
    await Promise.all(kept.map((c) => c.closed));
  });
});
