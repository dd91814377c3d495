/**
 * The link's WebSocket handshake, against a real ws server on loopback that would accept
 * permessage-deflate: telgate must not offer it (audio frames would be compressed for nothing).
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createDialect } from '../../src/link/dialects/index.js';
import { LinkSession } from '../../src/link/link-session.js';
import type { TelApiClient } from '../../src/link/telapi-client.js';

let server: WebSocketServer | undefined;
afterEach(async () => {
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('link handshake', () => {
  it('offers no permessage-deflate, even to an agent that would accept it', async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await once(server, 'listening');
    const upgrade = once(server, 'connection') as Promise<[unknown, IncomingMessage]>;
    const link = new LinkSession(
      // The Twilio dialect connects to its URL without TelAPI: the client is never called.
      {} as TelApiClient,
      { onAudio: () => undefined, onMessage: () => undefined, onClose: () => undefined },
      {
        ...createDialect('twilio'),
        url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/media`,
        connectTimeoutMs: 2000,
        resumeWindowMs: 0,
        holdAudioBytes: 0,
        bytesPerMs: 8,
      },
    );
    await link.open({ callId: 'c1' } as Parameters<LinkSession['open']>[0]);
    const [, request] = await upgrade;
    expect(request.headers['sec-websocket-extensions']).toBeUndefined();
    link.close();
  });
});
