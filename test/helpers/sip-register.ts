/**
 * A SIP client written for the registrar's tests, over UDP from a chosen local address: it sends
 * REGISTERs (with a digest answer computed by telgate's own UAC digest code, MD5 or SHA-256,
 * which baresip and sipp cannot do for SHA-256) and reads the responses.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { chooseChallenge, digestAuthorization } from '../../src/sip/digest.js';

export interface SipReply {
  status: number;
  headers: Array<[string, string]>;
  header(name: string): string | undefined;
  all(name: string): string[];
}

function parseReply(text: string): SipReply {
  const [head] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const status = Number(/^SIP\/2\.0 (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers = lines.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  });
  const all = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
  return { status, headers, header: (name) => all(name)[0], all };
}

export class RegisterClient {
  private readonly socket = dgram.createSocket('udp4');
  private cseq = 1;
  private readonly callId = `reg-${Math.random().toString(16).slice(2)}`;
  private readonly tag = Math.random().toString(16).slice(2, 10);
  readonly replies: SipReply[] = [];

  private constructor(
    readonly localAddress: string,
    private readonly target: { host: string; port: number },
  ) {
    this.socket.on('message', (data) => this.replies.push(parseReply(data.toString('latin1'))));
  }

  static async open(localAddress: string, target: { host: string; port: number }) {
    const client = new RegisterClient(localAddress, target);
    client.socket.bind(0, localAddress);
    await once(client.socket, 'listening');
    return client;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends a REGISTER for `user` (To and From) with `contacts` and `extra` headers. */
  send(user: string, contacts: string[], extra: Array<[string, string]> = []): void {
    const local = `${this.localAddress}:${this.port}`;
    const lines = [
      `REGISTER sip:${this.target.host}:${this.target.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=z9hG4bK${Math.random().toString(16).slice(2)};rport`,
      `From: <sip:${user}@${this.target.host}>;tag=${this.tag}`,
      `To: <sip:${user}@${this.target.host}>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${this.cseq++} REGISTER`,
      'Max-Forwards: 70',
      ...contacts.map((c) => `Contact: ${c}`),
      ...extra.map(([n, v]) => `${n}: ${v}`),
      'Content-Length: 0',
    ];
    this.socket.send(lines.join('\r\n') + '\r\n\r\n', this.target.port, this.target.host);
  }

  /** Sends, then waits for the reply (within `timeoutMs`). */
  async register(
    user: string,
    contacts: string[],
    extra: Array<[string, string]> = [],
    timeoutMs = 2000,
  ): Promise<SipReply> {
    const before = this.replies.length;
    this.send(user, contacts, extra);
    const signal = AbortSignal.timeout(timeoutMs);
    while (this.replies.length === before) await once(this.socket, 'message', { signal });
    return this.replies[before];
  }

  /**
   * Registers `user` with `password`, answering the challenge: the challenge's reply, then the
   * final one. `as` authenticates as another username.
   */
  async registerWithAuth(
    user: string,
    password: string,
    contacts: string[],
    extra: Array<[string, string]> = [],
    as = user,
  ): Promise<{ challenge: SipReply; reply: SipReply; authorization: string }> {
    const challenge = await this.register(user, contacts, extra);
    const offered = chooseChallenge(challenge.all('www-authenticate'));
    if (!offered) return { challenge, reply: challenge, authorization: '' };
    const authorization = digestAuthorization({
      challenge: offered,
      username: as,
      password,
      method: 'REGISTER',
      uri: `sip:${this.target.host}:${this.target.port}`,
    }).header;
    const reply = await this.register(user, contacts, [...extra, ['Authorization', authorization]]);
    return { challenge, reply, authorization };
  }

  close(): void {
    this.socket.close();
  }
}
