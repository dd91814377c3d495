/**
 * A UAS dialog (RFC 3261 §12): route set from Record-Route, remote target from Contact, CSeq
 * both ways. It also retransmits its 2xx until the ACK arrives (RFC 3261 §13.3.1.4), because
 * that ACK is its own transaction and only the dialog can match it.
 */
import { SipHeaders } from './headers.js';
import type { SipPeer, SipRequest } from './message.js';
import { parseCSeq } from './message.js';
import type { ClientOutcome } from './transaction-client.js';
import { backoff, transactionTimeout, type SipTimers } from './timers.js';
import type { DialogEndCause, SipDialog } from './engine.js';
import { parseNameAddr } from './uri.js';
import { newBranch } from './via.js';

export interface DialogHost {
  timers: SipTimers;
  send(data: Buffer, peer: SipPeer): void;
  /** Runs a non-INVITE client transaction to the given next hop. */
  request(request: SipRequest, branch: string, peer: SipPeer): Promise<ClientOutcome>;
  /** Resolves a URI's host to an address the transport can send to. */
  resolve(uri: string, transport: SipPeer['transport']): Promise<SipPeer | undefined>;
  viaFor(transport: SipPeer['transport'], branch: string): string;
  ended(dialog: Dialog): void;
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

export class Dialog implements SipDialog {
  readonly id: string;
  readonly confirmed: Promise<void>;
  private confirm!: () => void;
  private localSeq: number;
  private remoteSeq: number;
  private readonly routeSet: string[];
  private readonly remoteTarget: string;
  private retransmitTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private endHandlers: Array<(cause: DialogEndCause) => void> = [];
  private state: 'early' | 'confirmed' | 'ended' = 'early';
  private finished = false;

  constructor(
    private readonly host: DialogHost,
    invite: SipRequest,
    private readonly localTag: string,
    private readonly localAddress: string,
    private readonly remoteAddress: string,
    private readonly peer: SipPeer,
  ) {
    const callId = invite.headers.get('call-id') ?? '';
    const remoteTag = parseNameAddr(invite.headers.get('from') ?? '')?.params.get('tag') ?? '';
    this.id = dialogId(callId, localTag, remoteTag);
    this.callId = callId;
    this.routeSet = invite.headers.getAll('record-route');
    this.remoteTarget = parseNameAddr(invite.headers.getAll('contact')[0] ?? '')?.uri ?? invite.uri;
    this.remoteSeq = parseCSeq(invite.headers.get('cseq'))?.seq ?? 0;
    this.localSeq = Math.floor(Math.random() * 10_000) + 1;
    this.confirmed = new Promise((resolve) => (this.confirm = resolve));
  }

  readonly callId: string;

  /** Sends the 2xx and keeps sending it (T1 doubling to T2) until ACK or 64·T1. */
  sendAnswer(data: Buffer, options: { alreadySent?: boolean } = {}): void {
    if (!options.alreadySent) this.host.send(data, this.peer);
    if (this.peer.transport === 'udp') {
      let sends = 0;
      const again = (): void => {
        this.retransmitTimer = setTimeout(
          () => {
            this.host.send(data, this.peer);
            sends++;
            again();
          },
          backoff(this.host.timers, sends),
        );
      };
      again();
    }
    this.ackTimer = setTimeout(() => {
      this.stopRetransmit();
      void this.bye().finally(() => this.end('no-ack'));
    }, transactionTimeout(this.host.timers));
  }

  private stopRetransmit(): void {
    clearTimeout(this.retransmitTimer);
    clearTimeout(this.ackTimer);
    this.retransmitTimer = undefined;
    this.ackTimer = undefined;
  }

  receiveAck(): void {
    if (this.state !== 'early') return;
    this.state = 'confirmed';
    this.stopRetransmit();
    this.confirm();
  }

  /** An in-dialog request from the remote side; returns false when its CSeq is out of order. */
  acceptRemoteCSeq(request: SipRequest): boolean {
    const seq = parseCSeq(request.headers.get('cseq'))?.seq ?? 0;
    if (seq < this.remoteSeq || (seq === this.remoteSeq && request.method !== 'ACK')) {
      return false;
    }
    this.remoteSeq = seq;
    return true;
  }

  receiveBye(): void {
    this.stopRetransmit();
    this.end('remote-bye');
  }

  async bye(reasonHeader?: string): Promise<void> {
    if (this.state === 'ended') return;
    this.stopRetransmit();
    const request = this.buildRequest('BYE');
    if (reasonHeader) request.headers.add('reason', reasonHeader);
    const nextHop = this.routeSet.length ? parseNameAddr(this.routeSet[0])?.uri : this.remoteTarget;
    this.state = 'ended'; // a BYE in flight: a crossing BYE from the far side just gets 200/481
    const peer = nextHop ? await this.host.resolve(nextHop, this.peer.transport) : undefined;
    if (peer) {
      const branch = /branch=([^;\s]+)/.exec(request.headers.get('via') ?? '')?.[1] ?? newBranch();
      await this.host.request(request, branch, peer);
    }
    this.end('local-bye');
  }

  private buildRequest(method: string): SipRequest {
    const h = new SipHeaders();
    const branch = newBranch();
    h.add('via', this.host.viaFor(this.peer.transport, branch));
    h.add('max-forwards', '70');
    for (const route of this.routeSet) h.add('route', route);
    h.add('from', this.localAddress);
    h.add('to', this.remoteAddress);
    h.add('call-id', this.callId);
    h.add('cseq', `${++this.localSeq} ${method}`);
    return { kind: 'request', method, uri: this.remoteTarget, headers: h, body: Buffer.alloc(0) };
  }

  onEnd(handler: (cause: DialogEndCause) => void): void {
    this.endHandlers.push(handler);
  }

  /** Ends the dialog once: stops timers, tells the host and every end handler. */
  end(cause: DialogEndCause): void {
    if (this.finished) return;
    this.finished = true;
    this.state = 'ended';
    this.stopRetransmit();
    this.host.ended(this);
    for (const handler of this.endHandlers) handler(cause);
    this.endHandlers = [];
  }
}
