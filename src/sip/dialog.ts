/**
 * A dialog (RFC 3261 §12), the same for both roles: route set, remote target, CSeq both ways,
 * and the requests sent inside it (BYE, REFER, NOTIFY, ACK). The UAS side also retransmits its
 * 2xx until the ACK arrives (§13.3.1.4), because that ACK is its own transaction and only the
 * dialog can match it. Requests arriving inside the dialog are handled in dialog-requests.ts.
 */
import { SipHeaders } from './headers.js';
import type { SipPeer, SipRequest } from './message.js';
import { parseCSeq } from './message.js';
import type { ClientOutcome } from './transaction-client.js';
import { backoff, transactionTimeout, type SipTimers } from './timers.js';
import type {
  DialogEndCause,
  IncomingRefer,
  ReferOptions,
  ReferOutcome,
  SessionChange,
  SessionReply,
  SipDialog,
} from './engine.js';
import { parseNameAddr, transportOfUri } from './uri.js';
import { newBranch } from './via.js';
import { serializeMessage } from './serialize.js';
import { SIPFRAG_TYPE, sipfragBody } from './sipfrag.js';

export interface DialogHost {
  timers: SipTimers;
  commonHeaders: Array<[string, string]>;
  send(data: Buffer, peer: SipPeer): void;
  /** Runs a non-INVITE client transaction (its branch is in the top Via) to the next hop. */
  request(request: SipRequest, peer: SipPeer): Promise<ClientOutcome>;
  /** Resolves a URI's host to an address the transport can send to. */
  resolve(uri: string, transport: SipPeer['transport']): Promise<SipPeer | undefined>;
  viaFor(transport: SipPeer['transport'], branch: string): string;
  contactFor(transport: SipPeer['transport']): string;
  ended(dialog: Dialog): void;
}

export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** The local party's header value (From for a UAC, To for a UAS), with its tag. */
  localParty: string;
  remoteParty: string;
  /** Route headers in the order they are sent. */
  routeSet: string[];
  remoteTarget: string;
  localSeq: number;
  remoteSeq: number;
  transport: SipPeer['transport'];
  /**
   * Over WebSocket, the connection the dialog was made on: a browser's Contact names an
   * `.invalid` host, so requests to it go back over its socket (RFC 7118 §5).
   */
  flow?: SipPeer;
}

export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

interface PendingAnswer {
  cseq: number;
  retransmitTimer?: NodeJS.Timeout;
  ackTimer?: NodeJS.Timeout;
  acked(body: string): void;
}

interface ReferWatch {
  options: ReferOptions;
  finish(finalStatus: number | undefined): void;
}

export class Dialog implements SipDialog {
  readonly id: string;
  readonly confirmed: Promise<{ sdp: string }>;
  private confirm!: (value: { sdp: string }) => void;
  private localSeq: number;
  private remoteSeq: number;
  private pendingAnswer: PendingAnswer | undefined;
  /** The last ACK this side sent for a 2xx, resent when that 2xx is retransmitted (UAC). */
  private lastAck: { cseq: number; data: Buffer; peer: SipPeer } | undefined;
  private endHandlers: Array<(cause: DialogEndCause) => void> = [];
  private state: 'early' | 'confirmed' | 'ended' = 'early';
  private finished = false;
  sessionChangeHandler: ((change: SessionChange) => Promise<SessionReply>) | undefined;
  referHandler: ((refer: IncomingRefer) => void) | undefined;
  infoDtmfHandler: ((digit: string, durationMs: number) => void) | undefined;
  /** Set while a re-INVITE from the far side waits for its answer (RFC 3261 §14.2). */
  incomingOfferPending = false;
  /** An outgoing REFER's implicit subscription, fed by NOTIFYs (RFC 3515 §2.4.4). */
  referWatch: ReferWatch | undefined;

  constructor(
    readonly host: DialogHost,
    readonly init: DialogInit,
  ) {
    this.id = dialogId(init.callId, init.localTag, init.remoteTag);
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.confirmed = new Promise((resolve) => (this.confirm = resolve));
  }

  get callId(): string {
    return this.init.callId;
  }

  get transport(): SipPeer['transport'] {
    return this.init.transport;
  }

  get isEnded(): boolean {
    return this.state === 'ended';
  }

  /** UAC: the dialog is confirmed as soon as its 2xx arrived. */
  markConfirmed(): void {
    if (this.state !== 'early') return;
    this.state = 'confirmed';
    this.confirm({ sdp: '' });
  }

  // ---- 2xx retransmission until ACK (UAS) --------------------------------------------------

  /**
   * Sends a 2xx to an INVITE (initial or re-INVITE) and keeps sending it over UDP (T1 doubling
   * to T2) until the ACK with the same CSeq arrives; after 64·T1 without one, sends BYE.
   */
  sendAnswer(
    data: Buffer,
    cseq: number,
    peer: SipPeer,
    acked: (body: string) => void,
    alreadySent = false,
  ): void {
    this.stopAnswerTimers();
    const pending: PendingAnswer = { cseq, acked };
    this.pendingAnswer = pending;
    if (!alreadySent) this.host.send(data, peer);
    if (peer.transport === 'udp') {
      let sends = 0;
      const again = (): void => {
        pending.retransmitTimer = setTimeout(
          () => {
            this.host.send(data, peer);
            sends++;
            again();
          },
          backoff(this.host.timers, sends),
        );
      };
      again();
    }
    pending.ackTimer = setTimeout(() => {
      this.stopAnswerTimers();
      pending.acked('');
      void this.bye().finally(() => this.end('no-ack'));
    }, transactionTimeout(this.host.timers));
  }

  private stopAnswerTimers(): void {
    const pending = this.pendingAnswer;
    if (!pending) return;
    clearTimeout(pending.retransmitTimer);
    clearTimeout(pending.ackTimer);
    this.pendingAnswer = undefined;
  }

  receiveAck(ack: SipRequest): void {
    const seq = parseCSeq(ack.headers.get('cseq'))?.seq;
    const pending = this.pendingAnswer;
    if (!pending || seq !== pending.cseq) return;
    this.stopAnswerTimers();
    const type = (ack.headers.get('content-type') ?? '').toLowerCase();
    const body = type.startsWith('application/sdp') ? ack.body.toString('utf8') : '';
    pending.acked(body);
    if (this.state === 'early') {
      this.state = 'confirmed';
      this.confirm({ sdp: body });
    }
  }

  // ---- ACK for a 2xx (UAC) ---------------------------------------------------------------

  /** Sends the ACK for the 2xx to our INVITE with CSeq `cseq` (RFC 3261 §13.2.2.4). */
  async sendAck(cseq: number, sdp?: string): Promise<void> {
    if (this.lastAck?.cseq === cseq) {
      this.host.send(this.lastAck.data, this.lastAck.peer);
      return;
    }
    const request = this.buildRequest('ACK', cseq);
    if (sdp) setBody(request, sdp, 'application/sdp');
    const peer = await this.nextHop();
    if (!peer) return;
    const data = serializeMessage(request);
    this.lastAck = { cseq, data, peer };
    this.host.send(data, peer);
  }

  // ---- in-dialog requests from this side ---------------------------------------------------

  /** Checks an in-dialog request's CSeq (RFC 3261 §12.2.2); false means 500 out of order. */
  acceptRemoteCSeq(request: SipRequest): boolean {
    const seq = parseCSeq(request.headers.get('cseq'))?.seq ?? 0;
    if (seq <= this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Sends a non-INVITE request inside the dialog and waits for its final response. */
  async send(
    method: string,
    options: { headers?: Array<[string, string]>; body?: Buffer; contentType?: string } = {},
  ): Promise<ClientOutcome> {
    const request = this.buildRequest(method, ++this.localSeq);
    for (const [name, value] of options.headers ?? []) request.headers.add(name, value);
    if (options.body && options.contentType) setBody(request, options.body, options.contentType);
    const peer = await this.nextHop();
    if (!peer) return { timeout: true };
    return this.host.request(request, peer);
  }

  async bye(reasonHeader?: string): Promise<void> {
    if (this.state === 'ended') return;
    this.stopAnswerTimers();
    this.state = 'ended'; // a BYE in flight: a crossing BYE from the far side just gets 200/481
    await this.send('BYE', { headers: reasonHeader ? [['reason', reasonHeader]] : [] });
    this.end('local-bye');
  }

  refer(target: string, options: ReferOptions = {}): Promise<ReferOutcome> {
    if (this.state === 'ended') return Promise.resolve({ status: 481 });
    this.referWatch?.finish(undefined);
    return new Promise<ReferOutcome>((resolve) => {
      let status = 0;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (finalStatus: number | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.referWatch === watch) this.referWatch = undefined;
        resolve({ status: status || 202, finalStatus });
      };
      const watch: ReferWatch = { options, finish };
      this.referWatch = watch; // a NOTIFY may overtake the 202
      const headers: Array<[string, string]> = [['refer-to', `<${target}>`]];
      if (options.referredBy) headers.push(['referred-by', `<${options.referredBy}>`]);
      headers.push(['contact', this.host.contactFor(this.transport)]);
      void this.send('REFER', { headers }).then((outcome) => {
        status = 'timeout' in outcome ? 408 : outcome.response.status;
        if (status >= 300) return finish(undefined);
        // The far side must report a final status; do not wait for it forever.
        timer = setTimeout(() => finish(undefined), transactionTimeout(this.host.timers));
      });
    });
  }

  /** Sends one NOTIFY of an incoming REFER's implicit subscription. */
  async notifyRefer(status: number, reason?: string): Promise<void> {
    if (this.state === 'ended') return;
    const final = status >= 200;
    await this.send('NOTIFY', {
      headers: [
        ['event', 'refer'],
        ['subscription-state', final ? 'terminated;reason=noresource' : 'active;expires=60'],
        ['contact', this.host.contactFor(this.transport)],
      ],
      body: sipfragBody(status, reason),
      contentType: SIPFRAG_TYPE,
    });
  }

  private buildRequest(method: string, cseq: number): SipRequest {
    const h = new SipHeaders();
    h.add('via', this.host.viaFor(this.transport, newBranch()));
    h.add('max-forwards', '70');
    for (const route of this.init.routeSet) h.add('route', route);
    h.add('from', this.init.localParty);
    h.add('to', this.init.remoteParty);
    h.add('call-id', this.init.callId);
    h.add('cseq', `${cseq} ${method}`);
    return {
      kind: 'request',
      method,
      uri: this.init.remoteTarget,
      headers: h,
      body: Buffer.alloc(0),
    };
  }

  /** The first Route (loose routing, RFC 3261 §12.2.1.1), else the remote target. */
  private async nextHop(): Promise<SipPeer | undefined> {
    if (this.init.flow) return this.init.flow;
    const first = this.init.routeSet[0];
    const uri = first ? parseNameAddr(first)?.uri : this.init.remoteTarget;
    if (!uri) return undefined;
    return this.host.resolve(uri, transportOfUri(uri, this.transport));
  }

  onEnd(handler: (cause: DialogEndCause) => void): void {
    this.endHandlers.push(handler);
  }

  onSessionChange(handler: (change: SessionChange) => Promise<SessionReply>): void {
    this.sessionChangeHandler = handler;
  }

  onRefer(handler: (refer: IncomingRefer) => void): void {
    this.referHandler = handler;
  }

  onInfoDtmf(handler: (digit: string, durationMs: number) => void): void {
    this.infoDtmfHandler = handler;
  }

  /** Ends the dialog once: stops timers, tells the host and every end handler. */
  end(cause: DialogEndCause): void {
    if (this.finished) return;
    this.finished = true;
    this.state = 'ended';
    this.stopAnswerTimers();
    this.referWatch?.finish(undefined);
    this.host.ended(this);
    for (const handler of this.endHandlers) handler(cause);
    this.endHandlers = [];
  }
}

function setBody(request: SipRequest, body: string | Buffer, contentType: string): void {
  request.body = typeof body === 'string' ? Buffer.from(body) : body;
  request.headers.add('content-type', contentType);
}
