/**
 * INVITE client transaction (RFC 3261 §17.1.1 as amended by RFC 6026).
 *
 * Calling: timer A retransmits over UDP (T1 doubling), timer B (64·T1) gives up with a timeout.
 * Proceeding: a provisional arrived; retransmissions stop.
 * Completed (3xx–6xx): the ACK is built and sent here, and resent for each retransmitted final
 *   response until timer D (64·T1 over UDP, 0 over TCP).
 * Accepted (2xx, RFC 6026): every 2xx, retransmitted or forked, goes to the TU, which ACKs it
 *   as its own transaction; timer M (64·T1) ends the state.
 */
import { SipHeaders } from './headers.js';
import type { SipPeer, SipRequest, SipResponse } from './message.js';
import { serializeMessage } from './serialize.js';
import type { TransactionContext } from './transaction-common.js';
import { transactionTimeout } from './timers.js';

export interface InviteClientEvents {
  provisional(response: SipResponse): void;
  /** The first final response, or undefined when timer B fired. */
  final(response: SipResponse | undefined): void;
  /** A 2xx after the first (a retransmission or another fork's answer). */
  extra2xx(response: SipResponse): void;
}

export class InviteClientTransaction {
  state: 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated' = 'calling';
  private readonly data: Buffer;
  private retransmitTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private ack: Buffer | undefined;
  private sends = 0;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: SipPeer,
    private readonly ctx: TransactionContext,
    private readonly events: InviteClientEvents,
  ) {
    this.data = serializeMessage(request);
  }

  start(): void {
    this.ctx.send(this.data, this.peer);
    if (this.peer.transport === 'udp') this.scheduleRetransmit();
    this.endTimer = setTimeout(() => {
      this.terminate();
    }, transactionTimeout(this.ctx.timers)); // timer B
  }

  private scheduleRetransmit(): void {
    this.retransmitTimer = setTimeout(
      () => {
        if (this.state !== 'calling') return;
        this.ctx.send(this.data, this.peer);
        this.sends++;
        this.scheduleRetransmit();
      },
      this.ctx.timers.t1 * 2 ** this.sends, // timer A is not capped at T2
    );
  }

  get isProceeding(): boolean {
    return this.state === 'proceeding';
  }

  receive(response: SipResponse): void {
    const status = response.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        clearTimeout(this.retransmitTimer);
        if (status < 200) {
          this.state = 'proceeding';
          this.events.provisional(response);
          return;
        }
        clearTimeout(this.endTimer);
        if (status < 300) {
          this.state = 'accepted';
          this.endTimer = setTimeout(() => this.terminate(), transactionTimeout(this.ctx.timers));
        } else {
          this.state = 'completed';
          this.sendAck(response);
          const wait = this.peer.transport === 'udp' ? transactionTimeout(this.ctx.timers) : 0;
          this.endTimer = setTimeout(() => this.terminate(), wait); // timer D
        }
        this.events.final(response);
        return;
      case 'completed':
        if (status >= 300 && this.ack) this.ctx.send(this.ack, this.peer);
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.events.extra2xx(response);
        return;
      default:
        return;
    }
  }

  /** RFC 3261 §17.1.1.3: the ACK for a non-2xx shares the INVITE's branch and Route set. */
  private sendAck(response: SipResponse): void {
    const h = new SipHeaders();
    const invite = this.request.headers;
    h.add('via', invite.getAll('via')[0] ?? '');
    for (const route of invite.getAll('route')) h.add('route', route);
    h.add('max-forwards', '70');
    h.add('from', invite.get('from') ?? '');
    h.add('to', response.headers.get('to') ?? '');
    h.add('call-id', invite.get('call-id') ?? '');
    h.add('cseq', `${(invite.get('cseq') ?? '').trim().split(/\s+/)[0]} ACK`);
    const ack: SipRequest = {
      kind: 'request',
      method: 'ACK',
      uri: this.request.uri,
      headers: h,
      body: Buffer.alloc(0),
    };
    this.ack = serializeMessage(ack);
    this.ctx.send(this.ack, this.peer);
  }

  /** Ends the transaction; one still waiting for a final response reports a timeout. */
  terminate(): void {
    if (this.state === 'terminated') return;
    const waiting = this.state === 'calling' || this.state === 'proceeding';
    this.state = 'terminated';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.endTimer);
    if (waiting) this.events.final(undefined);
    this.ctx.terminated(this.key);
  }
}
