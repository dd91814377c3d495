/**
 * A minimal SIP caller for the benchmarks: one INVITE/ACK/BYE over its own UDP socket and an RTP
 * socket it owns, so it can timestamp every packet it sends and receives. It measures telgate;
 * the tests use sipp and baresip as the real peers.
 */
import dgram from 'node:dgram';
import { parseMessage } from '../src/sip/parse.js';

let uacCount = 0;

export class CallRefused extends Error {
  constructor(readonly statusLine: string) {
    super(`call refused: ${statusLine}`);
  }
}

export class MiniUac {
  readonly sip = dgram.createSocket('udp4');
  readonly rtp = dgram.createSocket('udp4');
  private waiters: Array<(text: string) => void> = [];
  private toTag = '';
  private readonly callId = `bench-${process.pid}-${Date.now()}-${++uacCount}`;

  constructor(
    private readonly target: number,
    /** The m= line's formats and their rtpmap lines. */
    private readonly media = { formats: '0', rtpmap: ['a=rtpmap:0 PCMU/8000'] },
    private readonly user = '15550100100',
  ) {}

  async open(): Promise<void> {
    await Promise.all([this.bind(this.sip), this.bind(this.rtp)]);
    this.sip.on('message', (m) => {
      const parsed = parseMessage(m);
      if (!parsed.ok) return;
      if (parsed.message.kind === 'request') {
        this.sip.send(responseTo(m.toString()), this.target, '127.0.0.1');
        return;
      }
      if (parsed.message.status < 200) return;
      const to = parsed.message.headers.get('to') ?? '';
      this.toTag = /tag=([^;>\s]+)/.exec(to)?.[1] ?? '';
      this.waiters.shift()?.(m.toString());
    });
  }

  private bind(s: dgram.Socket): Promise<void> {
    return new Promise((r) => s.bind(0, '127.0.0.1', () => r()));
  }

  private final(): Promise<string> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** A request's first lines; `branch` reuses a transaction's (the ACK of a refusal). */
  private head(method: string, cseq: number, branch = this.newBranch(method)): string {
    const port = this.sip.address().port;
    return [
      `${method} sip:${this.user}@127.0.0.1:${this.target} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch}`,
      `From: <sip:bench@127.0.0.1:${port}>;tag=b1`,
      `To: <sip:${this.user}@127.0.0.1>${this.toTag ? `;tag=${this.toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:bench@127.0.0.1:${port}>`,
      'Max-Forwards: 70',
    ].join('\r\n');
  }

  private newBranch(method: string): string {
    return `z9hG4bK${method}${Math.random().toString(36).slice(2)}`;
  }

  /**
   * INVITE → 200 → ACK; returns the answer's RTP port. A refusal is acknowledged in its own
   * transaction (RFC 3261 §17.1.1.3) and thrown as a CallRefused.
   */
  async call(): Promise<number> {
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.rtp.address().port} RTP/AVP ${this.media.formats}`,
      ...this.media.rtpmap,
      '',
    ].join('\r\n');
    const final = this.final();
    const branch = this.newBranch('INVITE');
    this.sip.send(
      `${this.head('INVITE', 1, branch)}\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
      this.target,
      '127.0.0.1',
    );
    const ok = await final;
    if (!ok.startsWith('SIP/2.0 200')) {
      const ack = `${this.head('ACK', 1, branch)}\r\nContent-Length: 0\r\n\r\n`;
      this.sip.send(ack, this.target, '127.0.0.1');
      throw new CallRefused(ok.split('\r\n')[0]);
    }
    this.sip.send(`${this.head('ACK', 1)}\r\nContent-Length: 0\r\n\r\n`, this.target, '127.0.0.1');
    return Number(/m=audio (\d+)/.exec(ok)?.[1]);
  }

  async bye(): Promise<void> {
    const final = this.final();
    this.sip.send(`${this.head('BYE', 2)}\r\nContent-Length: 0\r\n\r\n`, this.target, '127.0.0.1');
    await final;
  }

  close(): void {
    this.sip.close();
    this.rtp.close();
  }
}

function responseTo(request: string): string {
  const keep = request.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  return `SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
}
