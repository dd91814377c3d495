/**
 * SIP over WebSocket (RFC 7118): the transport of browsers (JsSIP, SIP.js) and of WebRTC
 * gateways. One SIP message per WebSocket message, the `sip` subprotocol required at the
 * upgrade (400 without it), `ws` in the clear (for loopback and a TLS proxy in front) or `wss`
 * with the SIP TLS certificate. A browser's Via and Contact name `*.invalid` hosts: responses
 * and requests to it go back over its socket, found by its address and port.
 *
 * The same HTTP server answers plain requests through `onHttp` (the call page), so a page and
 * its signalling share one origin. Dead sockets are found by WebSocket pings; a connection that
 * misses one is closed. The upgrade's `Origin` header travels with every message as
 * `peer.origin`, for the call layer's allowed-origins check.
 */
import http from 'node:http';
import https from 'node:https';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SipPeer } from './message.js';
import type { TcpHandlers, TcpLimits, TlsSettings } from './transport-tcp.js';

export interface WsListen {
  port: number;
  /** `wss` with these settings; `ws` without. */
  tls?: TlsSettings;
  /** Requests that are not WebSocket upgrades (404 without a handler). */
  onHttp?: (request: http.IncomingMessage, response: http.ServerResponse) => void;
}

/** Pings this often; a socket that has not answered the previous one is closed. */
const PING_INTERVAL_MS = 30_000;

interface Connection {
  socket: WebSocket;
  alive: boolean;
}

const peerKey = (address: string, port: number): string => `${address}|${port}`;

export class WsTransport {
  private server: http.Server | https.Server | undefined;
  private wss: WebSocketServer | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private readonly connections = new Map<string, Connection>();
  private readonly perSource = new Map<string, number>();
  readonly transport: 'ws' | 'wss';

  constructor(
    private readonly host: string,
    private readonly listenOn: WsListen,
    private readonly limits: TcpLimits,
    private readonly handlers: TcpHandlers,
  ) {
    this.transport = listenOn.tls ? 'wss' : 'ws';
  }

  async listen(): Promise<void> {
    const onHttp =
      this.listenOn.onHttp ??
      ((_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(404).end());
    const secure = this.listenOn.tls;
    const server = secure
      ? https.createServer({ key: secure.key, cert: secure.cert, minVersion: 'TLSv1.2' }, onHttp)
      : http.createServer(onHttp);
    const wss = new WebSocketServer({
      server,
      maxPayload: this.limits.maxMessageBytes,
      verifyClient: (info, accept) => {
        const offered = String(info.req.headers['sec-websocket-protocol'] ?? '');
        if (!offered.split(',').some((p) => p.trim().toLowerCase() === 'sip')) {
          return accept(false, 400, 'the sip subprotocol is required (RFC 7118)');
        }
        const address = info.req.socket.remoteAddress ?? '';
        if (
          this.connections.size >= this.limits.maxConnections ||
          (this.perSource.get(address) ?? 0) >= this.limits.maxConnectionsPerSource
        ) {
          return accept(false, 503, 'too many connections');
        }
        accept(true);
      },
      handleProtocols: () => 'sip',
    });
    wss.on('connection', (socket, request) => this.accept(socket, request));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenOn.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
    this.wss = wss;
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  get localPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.listenOn.port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private accept(socket: WebSocket, request: http.IncomingMessage): void {
    const address = request.socket.remoteAddress ?? '';
    const port = request.socket.remotePort ?? 0;
    const origin = request.headers.origin;
    const peer: SipPeer = { transport: this.transport, address, port, ...(origin && { origin }) };
    const key = peerKey(address, port);
    const connection: Connection = { socket, alive: true };
    this.connections.set(key, connection);
    this.perSource.set(address, (this.perSource.get(address) ?? 0) + 1);
    socket.on('pong', () => (connection.alive = true));
    socket.on('message', (data) => {
      const message = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      this.handlers.onMessage(message, peer);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(key);
      const left = (this.perSource.get(address) ?? 1) - 1;
      if (left > 0) this.perSource.set(address, left);
      else this.perSource.delete(address);
      this.handlers.onClosed?.(peer);
    });
  }

  private ping(): void {
    for (const connection of this.connections.values()) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  /** Sends on the socket `peer` came on; a browser cannot be connected to, so none is opened. */
  send(data: Buffer, peer: SipPeer): void {
    const connection = this.connections.get(peerKey(peer.address, peer.port));
    if (!connection) {
      this.handlers.onProblem('no WebSocket connection to send on', peer);
      return;
    }
    // Text frames: SIP is text here, and JsSIP and SIP.js read text frames first.
    connection.socket.send(data.toString('utf8'));
  }

  async close(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    for (const connection of this.connections.values()) connection.socket.terminate();
    this.connections.clear();
    this.perSource.clear();
    this.wss?.close();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
