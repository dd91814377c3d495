/**
 * INVITE server transaction (RFC 3261 §17.2.1 as amended by RFC 6026).
 *
 * Proceeding: the last provisional is resent on each INVITE retransmission.
 * Completed (3xx–6xx): the final response is resent on timer G (T1 doubling, capped at T2) until
 *   the ACK arrives (Confirmed, timer I = T4) or timer H (64·T1) gives up.
 * Accepted (2xx, RFC 6026): INVITE retransmissions are absorbed; timer L (64·T1) ends it. The 2xx
 *   itself is retransmitted by the dialog layer until its ACK, which is a separate transaction.
 */
import type { SipPeer, SipRequest, SipResponse } from './message.js';
import { serializeMessage } from './serialize.js';
import type { TransactionContext } from './transaction-common.js';
import { backoff, transactionTimeout } from './timers.js';

type State = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export class ServerInviteTransaction {
  state: State = 'proceeding';
  private lastResponse: Buffer | undefined;
  private retransmitTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private sends = 0;
  /** Set by the TU: called when a CANCEL matched this transaction while it was proceeding. */
  onCancel: (() => void) | undefined;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: SipPeer,
    private readonly ctx: TransactionContext,
  ) {}

  respond(response: SipResponse): void {
    if (this.state !== 'proceeding') return;
    const data = serializeMessage(response);
    this.ctx.send(data, this.peer);
    if (response.status < 200) {
      this.lastResponse = data;
      return;
    }
    this.lastResponse = data;
    const timeout = transactionTimeout(this.ctx.timers);
    if (response.status < 300) {
      this.state = 'accepted';
      this.endTimer = setTimeout(() => this.terminate(), timeout);
      return;
    }
    this.state = 'completed';
    if (this.peer.transport === 'udp') this.scheduleRetransmit();
    this.endTimer = setTimeout(() => this.terminate(), timeout); // timer H
  }

  private scheduleRetransmit(): void {
    this.retransmitTimer = setTimeout(
      () => {
        if (this.state !== 'completed' || !this.lastResponse) return;
        this.ctx.send(this.lastResponse, this.peer);
        this.sends++;
        this.scheduleRetransmit();
      },
      backoff(this.ctx.timers, this.sends),
    );
  }

  /** A retransmitted INVITE or the ACK for a non-2xx final response. */
  receive(request: SipRequest): void {
    if (request.method === 'ACK') {
      if (this.state !== 'completed') return;
      this.state = 'confirmed';
      this.clearTimers();
      this.endTimer = setTimeout(
        () => this.terminate(),
        this.peer.transport === 'udp' ? this.ctx.timers.t4 : 0,
      ); // timer I
      return;
    }
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) {
      this.ctx.send(this.lastResponse, this.peer);
    }
  }

  /** Whether any response (provisional or final) went out. */
  get hasResponded(): boolean {
    return this.lastResponse !== undefined;
  }

  get isProceeding(): boolean {
    return this.state === 'proceeding';
  }

  private clearTimers(): void {
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.endTimer);
    this.retransmitTimer = undefined;
    this.endTimer = undefined;
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.onCancel = undefined;
    this.ctx.terminated(this.key);
  }
}
