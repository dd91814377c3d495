/**
 * UDP and TCP on one port, as SIP peers expect, TLS on its own (5061 by default), SIP over
 * WebSocket on its own HTTP port, and the send that picks between them by the peer's transport. With port 0 UDP and TCP must land on the same
 * free port: UDP picks one and TCP takes it, retrying when another process already holds that
 * TCP port.
 */
import type { SipPeer } from './message.js';
import { TcpTransport, type TcpLimits, type TlsSettings } from './transport-tcp.js';
import { UdpTransport } from './transport-udp.js';
import { WsTransport, type WsListen } from './transport-ws.js';

export type TransportName = SipPeer['transport'];

export interface TransportHandlers {
  onMessage(data: Buffer, peer: SipPeer): void;
  onOversize(head: Buffer, peer: SipPeer): void;
  onProblem(problem: string, peer: SipPeer): void;
  /** A TCP or TLS connection closed. */
  onClosed?(peer: SipPeer): void;
}

const BIND_ATTEMPTS = 5;

export class Transports {
  private udp: UdpTransport | undefined;
  private tcp: TcpTransport | undefined;
  private tls: TcpTransport | undefined;
  private ws: WsTransport | undefined;
  private port: number;
  /** Transports listening: the enabled ones, and TLS when it has settings. */
  readonly enabled: TransportName[];

  constructor(
    private readonly host: string,
    port: number,
    enabled: Array<'udp' | 'tcp'>,
    private readonly tcpLimits: TcpLimits,
    private readonly handlers: TransportHandlers,
    private readonly tlsListen?: { port: number; settings: TlsSettings },
    private readonly wsListen?: WsListen,
  ) {
    this.port = port;
    this.enabled = [
      ...enabled,
      ...(tlsListen ? (['tls'] as const) : []),
      ...(wsListen ? [wsListen.tls ? ('wss' as const) : ('ws' as const)] : []),
    ];
  }

  async listen(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const udp = this.enabled.includes('udp')
        ? new UdpTransport(this.host, this.port, (data, peer) =>
            this.handlers.onMessage(data, peer),
          )
        : undefined;
      await udp?.listen();
      const port = udp ? udp.localPort : this.port;
      const tcp = this.enabled.includes('tcp')
        ? new TcpTransport(this.host, port, this.tcpLimits, this.handlers)
        : undefined;
      try {
        await tcp?.listen();
      } catch (err) {
        await udp?.close();
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (this.port === 0 && inUse && attempt < BIND_ATTEMPTS) continue;
        throw err;
      }
      this.udp = udp;
      this.tcp = tcp;
      this.port = tcp ? tcp.localPort : port;
      break;
    }
    try {
      await this.listenWs();
    } catch (err) {
      await this.close();
      throw err;
    }
    if (!this.tlsListen) return;
    const tls = new TcpTransport(
      this.host,
      this.tlsListen.port,
      this.tcpLimits,
      this.handlers,
      this.tlsListen.settings,
    );
    try {
      await tls.listen();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.tls = tls;
  }

  private async listenWs(): Promise<void> {
    if (!this.wsListen) return;
    const ws = new WsTransport(this.host, this.wsListen, this.tcpLimits, this.handlers);
    await ws.listen();
    this.ws = ws;
  }

  /** The UDP and TCP port. */
  get localPort(): number {
    return this.port;
  }

  /** The port `transport` listens on. */
  portOf(transport: TransportName): number {
    if (transport === 'tls') return this.tls?.localPort ?? 0;
    if (transport === 'ws' || transport === 'wss') return this.ws?.localPort ?? 0;
    return this.port;
  }

  send(data: Buffer, peer: SipPeer): void {
    this.stream(peer)?.send(data, peer);
    if (peer.transport === 'ws' || peer.transport === 'wss') this.ws?.send(data, peer);
    else if (peer.transport === 'udp') this.udp?.send(data, peer);
  }

  private stream(peer: SipPeer): TcpTransport | undefined {
    return peer.transport === 'tcp' ? this.tcp : peer.transport === 'tls' ? this.tls : undefined;
  }

  /** See TcpTransport.alias: lets in-dialog requests reuse the connection a request came on. */
  alias(peer: SipPeer, sentByHost: string, sentByPort: number): void {
    this.stream(peer)?.alias(peer, sentByHost, sentByPort);
  }

  get tcpConnections(): number {
    return (
      (this.tcp?.connectionCount ?? 0) +
      (this.tls?.connectionCount ?? 0) +
      (this.ws?.connectionCount ?? 0)
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.udp?.close(), this.tcp?.close(), this.tls?.close(), this.ws?.close()]);
    this.ws = undefined;
    this.udp = undefined;
    this.tcp = undefined;
    this.tls = undefined;
  }
}
