/** The engine's IncomingInvite: one INVITE server transaction seen through the engine interface. */
import { buildResponse } from './build.js';
import { Dialog, type DialogHost } from './dialog.js';
import type { IncomingInvite, Rejection, SipDialog } from './engine.js';
import { parseCSeq, type SipPeer, type SipRequest } from './message.js';
import { serializeMessage } from './serialize.js';
import type { ServerInviteTransaction } from './transaction-server-invite.js';
import { formatNameAddr, isWebSocket, parseNameAddr } from './uri.js';
import { randomToken } from './via.js';

export interface InviteHost extends DialogHost {
  adopt(dialog: Dialog): void;
}

export class NativeIncomingInvite implements IncomingInvite {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: string;
  readonly to: string;
  readonly source: SipPeer;
  readonly sdp: string;
  private readonly localTag = randomToken(10);
  private settled = false;
  private cancelHandler: (() => void) | undefined;

  constructor(
    private readonly host: InviteHost,
    private readonly txn: ServerInviteTransaction,
    private readonly request: SipRequest,
    private readonly responsePeer: SipPeer,
  ) {
    const h = request.headers;
    this.callId = h.get('call-id') ?? '';
    this.requestUri = request.uri;
    this.from = h.get('from') ?? '';
    this.to = h.get('to') ?? '';
    this.source = txn.peer;
    // The engine refuses other body types with 415 before an IncomingInvite exists.
    this.sdp = request.body.toString('utf8');
    txn.onCancel = () => {
      if (this.settled) return;
      this.reject({ status: 487 });
      this.cancelHandler?.();
    };
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name);
  }

  onCancel(handler: () => void): void {
    this.cancelHandler = handler;
  }

  ringing(earlyMediaSdp?: string): void {
    if (this.settled) return;
    const status = earlyMediaSdp ? 183 : 180;
    this.txn.respond(
      buildResponse(this.request, status, {
        toTag: this.localTag,
        headers: [
          ['contact', this.host.contactFor(this.responsePeer.transport)],
          ...this.host.commonHeaders,
        ],
        body: earlyMediaSdp ? Buffer.from(earlyMediaSdp) : undefined,
        contentType: 'application/sdp',
      }),
    );
  }

  answer(sdp: string): SipDialog {
    if (this.settled) throw new Error('INVITE already answered or rejected');
    this.settled = true;
    const headers: Array<[string, string]> = [];
    const recordRoute = this.request.headers.getAll('record-route');
    for (const rr of recordRoute) headers.push(['record-route', rr]);
    const transport = this.responsePeer.transport;
    headers.push(['contact', this.host.contactFor(transport)], ...this.host.commonHeaders);
    const response = buildResponse(this.request, 200, {
      toTag: this.localTag,
      headers,
      body: Buffer.from(sdp),
      contentType: 'application/sdp',
    });
    const toAddr = parseNameAddr(response.headers.get('to') ?? '');
    const h = this.request.headers;
    const cseq = parseCSeq(h.get('cseq'))?.seq ?? 0;
    const dialog = new Dialog(this.host, {
      callId: this.callId,
      localTag: this.localTag,
      remoteTag: parseNameAddr(this.from)?.params.get('tag') ?? '',
      localParty: toAddr ? formatNameAddr(toAddr) : (response.headers.get('to') ?? ''),
      remoteParty: this.from,
      routeSet: recordRoute,
      remoteTarget: parseNameAddr(h.getAll('contact')[0] ?? '')?.uri ?? this.request.uri,
      localSeq: Math.floor(Math.random() * 10_000) + 1,
      remoteSeq: cseq,
      transport,
      ...(isWebSocket(transport) && { flow: this.responsePeer }),
    });
    this.host.adopt(dialog);
    this.txn.respond(response);
    dialog.sendAnswer(serializeMessage(response), cseq, this.responsePeer, () => undefined, true);
    return dialog;
  }

  reject(rejection: Rejection): void {
    if (this.settled) return;
    this.settled = true;
    this.txn.respond(
      buildResponse(this.request, rejection.status, {
        reason: rejection.reason,
        toTag: this.localTag,
        headers: [...(rejection.headers ?? []), ...this.host.commonHeaders],
      }),
    );
  }
}
