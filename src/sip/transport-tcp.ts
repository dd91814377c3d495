/**
 * TCP transport, and TLS over it (RFC 3261 §26.2: `SIP/2.0/TLS`, port 5061 by default, TLS 1.2
 * or later): a listening socket plus outbound connections, all kept in one table keyed by
 * the far end's address:port. Responses and in-dialog requests reuse the connection a request
 * came in on: a connection is also known by the sent-by of the Vias that arrived on it (the
 * alias of RFC 5923 §5, applied only when the sent-by host is the connection's own address).
 *
 * Limits: connections in total and per source address, an idle timeout, and the message size
 * limit of the framer; a connection that breaks a limit is closed.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { SipPeer } from './message.js';
import { StreamFramer } from './stream-framer.js';

export interface TcpLimits {
  maxConnections: number;
  maxConnectionsPerSource: number;
  idleTimeoutMs: number;
  maxMessageBytes: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = {
  maxConnections: 2048,
  maxConnectionsPerSource: 64,
  idleTimeoutMs: 120_000,
  maxMessageBytes: 65_535,
};

export interface TcpHandlers {
  onMessage(data: Buffer, peer: SipPeer): void;
  /** A message over the size limit: its head, so the engine can answer 513 before the close. */
  onOversize(head: Buffer, peer: SipPeer): void;
  onProblem(problem: string, peer: SipPeer): void;
  /** A connection closed (by either side, or an idle timeout): the flow to `peer` is gone. */
  onClosed?(peer: SipPeer): void;
}

/** What makes the transport TLS: the server's certificate, and how peers are verified. */
export interface TlsSettings {
  key: Buffer;
  cert: Buffer;
  /** CAs that sign peers' certificates (clients', and servers' telgate connects to). */
  ca?: Buffer;
  /** Clients must present a certificate the CAs signed. */
  requireClientCert: boolean;
  /** Check the certificates of servers telgate connects to (off only for labs). */
  verifyServers: boolean;
}

interface Connection {
  socket: net.Socket;
  key: string;
  aliases: Set<string>;
}

const peerKey = (address: string, port: number): string => `${address}|${port}`;

export class TcpTransport {
  private server: net.Server | undefined;
  private readonly connections = new Map<string, Connection>();
  private readonly perSource = new Map<string, number>();

  private readonly transport: 'tcp' | 'tls';

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly limits: TcpLimits,
    private readonly handlers: TcpHandlers,
    private readonly secure?: TlsSettings,
  ) {
    this.transport = secure ? 'tls' : 'tcp';
  }

  async listen(): Promise<void> {
    const secure = this.secure;
    const server = secure
      ? tls.createServer(
          {
            key: secure.key,
            cert: secure.cert,
            ca: secure.ca,
            minVersion: 'TLSv1.2',
            // Always asked for (a trunk may require one); refused at the handshake only when
            // every client must have one.
            requestCert: true,
            rejectUnauthorized: secure.requireClientCert,
            handshakeTimeout: 10_000,
          },
          (socket) => this.accept(socket),
        )
      : net.createServer((socket) => this.accept(socket));
    // A handshake that fails (a plain client, a bad certificate) is the peer's problem.
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.handlers.onProblem(`TLS handshake failed: ${err.message}`, {
        transport: 'tls',
        address: socket.remoteAddress ?? '',
        port: socket.remotePort ?? 0,
      });
    });
    server.maxConnections = this.limits.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
  }

  get localPort(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.port;
  }

  get connectionCount(): number {
    return new Set(this.connections.values()).size;
  }

  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    const count = this.perSource.get(address) ?? 0;
    if (count >= this.limits.maxConnectionsPerSource) {
      this.handlers.onProblem(`too many ${this.transport} connections from one source`, {
        transport: this.transport,
        address,
        port: socket.remotePort ?? 0,
      });
      socket.destroy();
      return;
    }
    this.adopt(socket, address, socket.remotePort ?? 0);
  }

  private adopt(socket: net.Socket, address: string, port: number): Connection {
    const key = peerKey(address, port);
    const connection: Connection = { socket, key, aliases: new Set() };
    this.connections.set(key, connection);
    this.perSource.set(address, (this.perSource.get(address) ?? 0) + 1);
    const certified = socket instanceof tls.TLSSocket && socket.authorized;
    const peer: SipPeer = {
      transport: this.transport,
      address,
      port,
      ...(certified && { certified }),
    };
    const framer = new StreamFramer(this.limits.maxMessageBytes);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk) => {
      for (const framed of framer.push(chunk)) {
        if (framed.kind === 'message') this.handlers.onMessage(framed.data, peer);
        else if (framed.kind === 'ping') socket.write('\r\n');
        else {
          this.handlers.onOversize(framed.head, peer);
          socket.end();
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.forget(connection, address);
      this.handlers.onClosed?.(peer);
    });
    return connection;
  }

  private forget(connection: Connection, address: string): void {
    if (this.connections.get(connection.key) === connection)
      this.connections.delete(connection.key);
    for (const alias of connection.aliases) {
      if (this.connections.get(alias) === connection) this.connections.delete(alias);
    }
    const left = (this.perSource.get(address) ?? 1) - 1;
    if (left > 0) this.perSource.set(address, left);
    else this.perSource.delete(address);
  }

  /** Lets later messages to `sentByPort` on the same host reuse the connection `peer` came on. */
  alias(peer: SipPeer, sentByHost: string, sentByPort: number): void {
    if (sentByHost !== peer.address || sentByPort === peer.port) return;
    const connection = this.connections.get(peerKey(peer.address, peer.port));
    if (!connection) return;
    const key = peerKey(sentByHost, sentByPort);
    if (this.connections.has(key)) return;
    connection.aliases.add(key);
    this.connections.set(key, connection);
  }

  /** Sends on the connection to `peer`, opening one if none is open. */
  send(data: Buffer, peer: SipPeer): void {
    const key = peerKey(peer.address, peer.port);
    let connection = this.connections.get(key);
    if (!connection || connection.socket.destroyed) {
      if (!this.server) return;
      const socket = this.secure
        ? tls.connect({
            host: peer.address,
            port: peer.port,
            ca: this.secure.ca,
            minVersion: 'TLSv1.2',
            rejectUnauthorized: this.secure.verifyServers,
            // Present telgate's own certificate where the far end asks for one.
            key: this.secure.key,
            cert: this.secure.cert,
            servername: net.isIP(peer.address) ? undefined : peer.address,
          })
        : net.connect({ host: peer.address, port: peer.port });
      connection = this.adopt(socket, peer.address, peer.port);
    }
    connection.socket.write(data);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const connection of new Set(this.connections.values())) connection.socket.destroy();
    this.connections.clear();
    this.perSource.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
