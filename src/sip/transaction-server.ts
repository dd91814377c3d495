/** Non-INVITE server transaction (RFC 3261 §17.2.2): Trying, Proceeding, Completed (timer J). */
import type { SipPeer, SipRequest, SipResponse } from './message.js';
import { serializeMessage } from './serialize.js';
import type { TransactionContext } from './transaction-common.js';
import { transactionTimeout } from './timers.js';

export class ServerTransaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';
  private lastResponse: Buffer | undefined;
  private timerJ: NodeJS.Timeout | undefined;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: SipPeer,
    private readonly ctx: TransactionContext,
  ) {}

  respond(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.lastResponse = serializeMessage(response);
    this.ctx.send(this.lastResponse, this.peer);
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    const wait = this.peer.transport === 'udp' ? transactionTimeout(this.ctx.timers) : 0;
    this.timerJ = setTimeout(() => this.terminate(), wait);
  }

  /** A retransmission of the request: answer it with the last response, if any. */
  receive(): void {
    if (this.lastResponse && (this.state === 'proceeding' || this.state === 'completed')) {
      this.ctx.send(this.lastResponse, this.peer);
    }
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    clearTimeout(this.timerJ);
    this.ctx.terminated(this.key);
  }
}
