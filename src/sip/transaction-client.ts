/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2): timer E retransmits over UDP (T1 doubling,
 * capped at T2; T2 once a provisional arrived), timer F times out at 64·T1, timer K (T4) absorbs
 * retransmitted final responses before Terminated.
 */
import type { SipPeer, SipResponse } from './message.js';
import type { TransactionContext } from './transaction-common.js';
import { backoff, transactionTimeout } from './timers.js';

export type ClientOutcome = { response: SipResponse } | { timeout: true };

export class ClientTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';
  private retransmitTimer: NodeJS.Timeout | undefined;
  private timerF: NodeJS.Timeout | undefined;
  private timerK: NodeJS.Timeout | undefined;
  private sends = 0;

  constructor(
    readonly key: string,
    private readonly data: Buffer,
    private readonly peer: SipPeer,
    private readonly ctx: TransactionContext,
    private readonly done: (outcome: ClientOutcome) => void,
  ) {}

  start(): void {
    this.ctx.send(this.data, this.peer);
    if (this.peer.transport === 'udp') this.scheduleRetransmit();
    this.timerF = setTimeout(() => {
      this.terminate(); // reports the timeout
    }, transactionTimeout(this.ctx.timers));
  }

  private scheduleRetransmit(): void {
    const wait =
      this.state === 'proceeding' ? this.ctx.timers.t2 : backoff(this.ctx.timers, this.sends);
    this.retransmitTimer = setTimeout(() => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.ctx.send(this.data, this.peer);
      this.sends++;
      this.scheduleRetransmit();
    }, wait);
  }

  receive(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timerF);
    this.done({ response });
    this.timerK = setTimeout(
      () => this.terminate(),
      this.peer.transport === 'udp' ? this.ctx.timers.t4 : 0,
    );
  }

  /** Ends the transaction; one still waiting for its final response reports a timeout. */
  terminate(): void {
    if (this.state === 'terminated') return;
    const waiting = this.state === 'trying' || this.state === 'proceeding';
    this.state = 'terminated';
    if (waiting) this.done({ timeout: true });
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.timerF);
    clearTimeout(this.timerK);
    this.ctx.terminated(this.key);
  }
}
