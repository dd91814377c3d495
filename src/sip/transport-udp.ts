/**
 * UDP transport: one socket for all SIP traffic, sending and receiving whole datagrams. STUN
 * Binding requests on it are devices' outbound keep-alives (RFC 5626 §4.4.2), answered here.
 */
import dgram from 'node:dgram';
import type { SipPeer } from './message.js';
import { isStunBindingRequest, stunBindingSuccess } from './stun-keepalive.js';

export type DatagramHandler = (data: Buffer, peer: SipPeer) => void;

export class UdpTransport {
  private socket: dgram.Socket | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onDatagram: DatagramHandler,
  ) {}

  async listen(): Promise<void> {
    const family = this.host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type: family, recvBufferSize: 4 << 20 });
    socket.on('message', (data, rinfo) => {
      if (isStunBindingRequest(data)) {
        socket.send(stunBindingSuccess(data, rinfo.address, rinfo.port), rinfo.port, rinfo.address);
        return;
      }
      this.onDatagram(data, { transport: 'udp', address: rinfo.address, port: rinfo.port });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A send to an unreachable peer surfaces as an ICMP error event; it must not kill the process.
    socket.on('error', () => undefined);
    this.socket = socket;
  }

  get localPort(): number {
    return this.socket?.address().port ?? this.port;
  }

  send(data: Buffer, peer: SipPeer): void {
    this.socket?.send(data, peer.port, peer.address);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
