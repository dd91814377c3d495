/**
 * The UAC side of a call (RFC 3261 §13.2): builds and sends the INVITE, answers a 401/407 once
 * with digest credentials (new branch, next CSeq), CANCELs on request, ACKs every 2xx through
 * the dialog and ends the dialogs of extra forks (ACK + BYE), because a gateway leg carries one
 * media session only.
 */
import { SipHeaders } from './headers.js';
import { Dialog, dialogId, type DialogHost } from './dialog.js';
import { chooseChallenge, digestAuthorization } from './digest.js';
import type { OutgoingCall, OutgoingInviteRequest, OutgoingResult } from './engine.js';
import type { SipPeer, SipRequest, SipResponse } from './message.js';
import type { ClientOutcome } from './transaction-client.js';
import type { InviteClientEvents, InviteClientTransaction } from './transaction-client-invite.js';
import { isWebSocket, parseNameAddr, tagOf, transportOfUri } from './uri.js';
import { newBranch, randomToken } from './via.js';

export interface UacHost extends DialogHost {
  hostname: string;
  startInvite(
    request: SipRequest,
    peer: SipPeer,
    events: InviteClientEvents,
  ): InviteClientTransaction;
  adopt(dialog: Dialog): void;
  dialog(id: string): Dialog | undefined;
  userAgent: string;
}

const MAX_AUTH_ATTEMPTS = 2;

export class OutgoingInvite implements OutgoingCall {
  readonly callId: string;
  readonly result: Promise<OutgoingResult>;
  private settle!: (result: OutgoingResult) => void;
  private settled = false;
  private cancelled = false;
  private cancelSent = false;
  private readonly localTag = randomToken(10);
  private cseq = 1;
  private authAttempts = 0;
  private txn: InviteClientTransaction | undefined;
  private peer: SipPeer | undefined;
  private request: SipRequest | undefined;
  private provisionalHandlers: Array<(status: number, sdp: string) => void> = [];
  private readonly transport: SipPeer['transport'];

  constructor(
    private readonly host: UacHost,
    private readonly spec: OutgoingInviteRequest,
  ) {
    this.callId = spec.callId ?? `${randomToken(20)}@${host.hostname}`;
    this.transport = spec.transport ?? transportOfUri(spec.nextHop ?? spec.uri, 'udp');
    this.result = new Promise((resolve) => (this.settle = resolve));
  }

  onProvisional(handler: (status: number, sdp: string) => void): void {
    this.provisionalHandlers.push(handler);
  }

  async start(): Promise<void> {
    this.peer = await this.host.resolve(this.spec.nextHop ?? this.spec.uri, this.transport);
    if (!this.peer) return this.finish({ ok: false, status: 503, reason: 'No route to next hop' });
    if (this.cancelled)
      return this.finish({ ok: false, status: 487, reason: 'Request Terminated' });
    this.send(this.buildInvite());
  }

  private send(request: SipRequest): void {
    this.request = request;
    this.txn = this.host.startInvite(request, this.peer!, {
      provisional: (response) => this.onProvisionalResponse(response),
      final: (response) => this.onFinal(response),
      extra2xx: (response) => void this.on2xx(response),
    });
  }

  private buildInvite(authorization?: [string, string]): SipRequest {
    const spec = this.spec;
    const h = new SipHeaders();
    h.add('via', this.host.viaFor(this.transport, newBranch()));
    h.add('max-forwards', '70');
    const display = spec.fromDisplayName ? `"${spec.fromDisplayName.replace(/["\\]/g, '')}" ` : '';
    h.add('from', `${display}<${spec.from}>;tag=${this.localTag}`);
    h.add('to', `<${spec.to ?? spec.uri}>`);
    h.add('call-id', this.callId);
    h.add('cseq', `${this.cseq} INVITE`);
    h.add('contact', this.host.contactFor(this.transport));
    h.add('allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY, INFO');
    h.add('user-agent', this.host.userAgent);
    if (authorization) h.add(authorization[0], authorization[1]);
    for (const [name, value] of spec.headers ?? []) h.add(name, value);
    h.add('content-type', 'application/sdp');
    return {
      kind: 'request',
      method: 'INVITE',
      uri: spec.uri,
      headers: h,
      body: Buffer.from(spec.sdp),
    };
  }

  private onProvisionalResponse(response: SipResponse): void {
    if (this.cancelled) {
      void this.sendCancel();
      return;
    }
    if (response.status === 100) return;
    const sdp = response.body.length ? response.body.toString('utf8') : '';
    for (const handler of this.provisionalHandlers) handler(response.status, sdp);
  }

  private onFinal(response: SipResponse | undefined): void {
    if (!response) {
      return this.finish(
        this.cancelled
          ? { ok: false, status: 487, reason: 'Request Terminated' }
          : { ok: false, status: 408, reason: 'Request Timeout' },
      );
    }
    if (response.status < 300) return void this.on2xx(response);
    if ((response.status === 401 || response.status === 407) && this.retryWithAuth(response))
      return;
    this.finish({ ok: false, status: response.status, reason: response.reason });
  }

  /** A fresh INVITE with credentials for the challenge; false when that is not possible. */
  private retryWithAuth(response: SipResponse): boolean {
    const credentials = this.spec.credentials;
    if (!credentials || this.cancelled || this.authAttempts >= MAX_AUTH_ATTEMPTS) return false;
    const proxy = response.status === 407;
    const challenge = chooseChallenge(
      response.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'),
    );
    if (!challenge) return false;
    if (this.authAttempts > 0 && !challenge.stale) return false; // the credentials were refused
    this.authAttempts++;
    this.cseq++;
    const { header } = digestAuthorization({
      challenge,
      ...credentials,
      method: 'INVITE',
      uri: this.spec.uri,
    });
    this.send(this.buildInvite([proxy ? 'proxy-authorization' : 'authorization', header]));
    return true;
  }

  private async on2xx(response: SipResponse): Promise<void> {
    const remoteTag = tagOf(response.headers.get('to')) ?? '';
    const known = this.host.dialog(dialogId(this.callId, this.localTag, remoteTag));
    if (known) return known.sendAck(this.cseq); // a retransmitted 2xx: ACK again
    const dialog = this.newDialog(response, remoteTag);
    this.host.adopt(dialog);
    dialog.markConfirmed();
    await dialog.sendAck(this.cseq);
    if (this.settled || this.cancelled) {
      // Another fork answered too, or the caller gave up meanwhile: one leg only.
      void dialog.bye();
      if (!this.settled) this.finish({ ok: false, status: 487, reason: 'Request Terminated' });
      return;
    }
    const sdp = response.body.length ? response.body.toString('utf8') : '';
    this.finish({ ok: true, status: response.status, dialog, sdp });
  }

  private newDialog(response: SipResponse, remoteTag: string): Dialog {
    const contact = parseNameAddr(response.headers.getAll('contact')[0] ?? '')?.uri;
    return new Dialog(this.host, {
      callId: this.callId,
      localTag: this.localTag,
      remoteTag,
      localParty: this.request!.headers.get('from') ?? '',
      remoteParty: response.headers.get('to') ?? '',
      routeSet: response.headers.getAll('record-route').reverse(),
      remoteTarget: contact ?? this.spec.uri,
      localSeq: this.cseq,
      remoteSeq: 0,
      transport: this.transport,
      ...(isWebSocket(this.transport) && this.peer && { flow: this.peer }),
    });
  }

  cancel(): void {
    if (this.settled || this.cancelled) return;
    this.cancelled = true;
    if (this.txn?.isProceeding) this.sendCancel(); // else sent when the first provisional comes
  }

  /** RFC 3261 §9.1: same Request-URI, Call-ID, From, To, Route and top Via as the INVITE. */
  private sendCancel(): Promise<ClientOutcome> | undefined {
    if (this.cancelSent || !this.request || !this.peer) return undefined;
    this.cancelSent = true;
    const invite = this.request.headers;
    const h = new SipHeaders();
    h.add('via', invite.getAll('via')[0] ?? '');
    for (const route of invite.getAll('route')) h.add('route', route);
    h.add('max-forwards', '70');
    h.add('from', invite.get('from') ?? '');
    h.add('to', invite.get('to') ?? '');
    h.add('call-id', this.callId);
    h.add('cseq', `${this.cseq} CANCEL`);
    const cancel: SipRequest = {
      kind: 'request',
      method: 'CANCEL',
      uri: this.request.uri,
      headers: h,
      body: Buffer.alloc(0),
    };
    return this.host.request(cancel, this.peer);
  }

  private finish(result: OutgoingResult): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(result);
  }
}
