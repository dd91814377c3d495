/**
 * UDP and TCP on one port, as SIP peers expect, and the send that picks between them by the
 * peer's transport. With port 0 both must land on the same free port: UDP picks one and TCP
 * takes it, retrying when another process already holds that TCP port.
 */
import type { SipPeer } from './message.js';
import { TcpTransport, type TcpLimits } from './transport-tcp.js';
import { UdpTransport } from './transport-udp.js';

export type TransportName = SipPeer['transport'];

export interface TransportHandlers {
  onMessage(data: Buffer, peer: SipPeer): void;
  onOversize(head: Buffer, peer: SipPeer): void;
  onProblem(problem: string, peer: SipPeer): void;
}

const BIND_ATTEMPTS = 5;

export class Transports {
  private udp: UdpTransport | undefined;
  private tcp: TcpTransport | undefined;
  private port: number;

  constructor(
    private readonly host: string,
    port: number,
    readonly enabled: TransportName[],
    private readonly tcpLimits: TcpLimits,
    private readonly handlers: TransportHandlers,
  ) {
    this.port = port;
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
      return;
    }
  }

  get localPort(): number {
    return this.port;
  }

  send(data: Buffer, peer: SipPeer): void {
    if (peer.transport === 'tcp') this.tcp?.send(data, peer);
    else this.udp?.send(data, peer);
  }

  /** See TcpTransport.alias: lets in-dialog requests reuse the connection a request came on. */
  alias(peer: SipPeer, sentByHost: string, sentByPort: number): void {
    if (peer.transport === 'tcp') this.tcp?.alias(peer, sentByHost, sentByPort);
  }

  get tcpConnections(): number {
    return this.tcp?.connectionCount ?? 0;
  }

  async close(): Promise<void> {
    await Promise.all([this.udp?.close(), this.tcp?.close()]);
    this.udp = undefined;
    this.tcp = undefined;
  }
}
