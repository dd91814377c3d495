/**
 * RTP port allocation from a configured range. Ports are handed out as pairs of bound UDP
 * sockets: the even number for RTP, the odd one above for RTCP; a pair with either port in use
 * by someone else is skipped. Every socket goes back through release(), and `available` shows
 * the pool is whole.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';

/**
 * Addresses for send(): an IP literal (what SDP and latching give) is used at once. dgram's
 * default lookup hands even a literal to dns.lookup, which answers on the next tick, so every
 * RTP packet cost a deferred callback before it left. The last literal is remembered: a gateway
 * sends mostly to a few media servers, and isIP is a regular expression per packet.
 */
let lastLiteral = { address: '', family: 0 };
const lookupLiteral = ((
  hostname: string,
  options: dns.LookupOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => {
  if (hostname === lastLiteral.address) return callback(null, hostname, lastLiteral.family);
  const literal = net.isIP(hostname);
  if (literal) {
    lastLiteral = { address: hostname, family: literal };
    return callback(null, hostname, literal);
  }
  // dgram passes the socket's family as a number.
  const wanted = typeof options === 'number' ? { family: options } : options;
  dns.lookup(hostname, { ...wanted, all: false }, callback);
}) as dgram.SocketOptions['lookup'];

export interface PortLease {
  port: number;
  socket: dgram.Socket;
  /** Bound to port + 1. */
  rtcpSocket: dgram.Socket;
}

export class PortPool {
  private readonly free: number[] = [];
  private readonly leased = new Set<number>();

  constructor(
    private readonly host: string,
    readonly min: number,
    readonly max: number,
  ) {
    if (
      !Number.isInteger(min) ||
      !Number.isInteger(max) ||
      min < 1024 ||
      max > 65535 ||
      min >= max
    ) {
      throw new RangeError(`media port range ${min}-${max} is not a valid range within 1024-65535`);
    }
    for (let p = min + (min % 2); p + 1 <= max; p += 2) this.free.push(p);
  }

  get size(): number {
    return this.free.length + this.leased.size;
  }

  get available(): number {
    return this.free.length;
  }

  /** Binds the next free port; undefined when the range is exhausted. */
  async acquire(): Promise<PortLease | undefined> {
    const tries = this.free.length;
    for (let i = 0; i < tries; i++) {
      const port = this.free.shift();
      if (port === undefined) return undefined;
      this.leased.add(port);
      const [socket, rtcpSocket] = await Promise.all([this.bind(port), this.bind(port + 1)]);
      if (socket && rtcpSocket) return { port, socket, rtcpSocket };
      socket?.close();
      rtcpSocket?.close();
      // Taken outside telgate: put it at the back so others are tried first.
      this.leased.delete(port);
      this.free.push(port);
    }
    return undefined;
  }

  private bind(port: number): Promise<dgram.Socket | undefined> {
    const socket = dgram.createSocket({
      type: this.host.includes(':') ? 'udp6' : 'udp4',
      lookup: lookupLiteral,
    });
    return new Promise((resolve) => {
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, this.host, () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
    });
  }

  release(lease: PortLease): void {
    if (!this.leased.delete(lease.port)) return;
    for (const socket of [lease.socket, lease.rtcpSocket]) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
    this.free.push(lease.port);
  }
}
