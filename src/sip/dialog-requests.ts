/**
 * Requests the far side sends inside a dialog: BYE, re-INVITE and UPDATE (session changes, with
 * the RFC 3261 §14.2 rules for overlapping offers), REFER (RFC 3515, answered 202 and followed by
 * NOTIFYs) and the NOTIFYs that report on a REFER this side sent.
 */
import type { ResponseOptions } from './build.js';
import type { Dialog } from './dialog.js';
import type { IncomingRefer, ReferNotifier, SessionReply } from './engine.js';
import type { SipRequest } from './message.js';
import { ALLOW, refusalForMethod } from './methods.js';
import { parseInfoDtmf } from './info-dtmf.js';
import { sipfragStatus, subscriptionTerminated } from './sipfrag.js';
import { parseNameAddr } from './uri.js';

export interface InDialogReply {
  /** A response through the request's server transaction. */
  respond(status: number, options?: ResponseOptions): void;
  /** re-INVITE only: a 2xx with this SDP, retransmitted by the dialog until its ACK. */
  answer(sdp: string, acked: (body: string) => void): void;
}

export function handleInDialogRequest(
  dialog: Dialog,
  request: SipRequest,
  reply: InDialogReply,
): void {
  switch (request.method) {
    case 'BYE':
      reply.respond(200);
      dialog.end('remote-bye');
      return;
    case 'INVITE':
      return receiveReinvite(dialog, request, reply);
    case 'UPDATE':
      return receiveUpdate(dialog, request, reply);
    case 'REFER':
      return receiveRefer(dialog, request, reply);
    case 'NOTIFY':
      return receiveNotify(dialog, request, reply);
    case 'INFO':
      receiveInfoDtmf(dialog, request);
      return reply.respond(200, { headers: [['allow', ALLOW]] });
    case 'OPTIONS':
      return reply.respond(200, { headers: [['allow', ALLOW]] });
    default:
      return reply.respond(refusalForMethod(request.method), { headers: [['allow', ALLOW]] });
  }
}

function receiveInfoDtmf(dialog: Dialog, request: SipRequest): void {
  const dtmf = parseInfoDtmf(request.headers.get('content-type'), request.body.toString('utf8'));
  if (dtmf) dialog.infoDtmfHandler?.(dtmf.digit, dtmf.durationMs);
}

function sdpOf(request: SipRequest): string | undefined {
  if (!request.body.length) return '';
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  return type.startsWith('application/sdp') ? request.body.toString('utf8') : undefined;
}

function receiveReinvite(dialog: Dialog, request: SipRequest, reply: InDialogReply): void {
  if (dialog.incomingOfferPending) {
    // RFC 3261 §14.2: a second re-INVITE while one is still being answered.
    const retryAfter = String(Math.floor(Math.random() * 10));
    return reply.respond(500, { headers: [['retry-after', retryAfter]] });
  }
  const offer = sdpOf(request);
  if (offer === undefined) return reply.respond(415, { headers: [['accept', 'application/sdp']] });
  const handler = dialog.sessionChangeHandler;
  if (!handler) return reply.respond(488);
  dialog.incomingOfferPending = true;
  let ackBody!: (body: string) => void;
  const ack = new Promise<string>((resolve) => (ackBody = resolve));
  const finish = (result: SessionReply): void => {
    if (dialog.isEnded) {
      dialog.incomingOfferPending = false;
      ackBody('');
      return reply.respond(487);
    }
    if ('sdp' in result) {
      reply.answer(result.sdp, (body) => {
        dialog.incomingOfferPending = false;
        ackBody(body);
      });
      return;
    }
    dialog.incomingOfferPending = false;
    ackBody('');
    reply.respond(result.status, { reason: result.reason, headers: result.headers });
  };
  handler({ method: 'INVITE', offer, ack }).then(finish, () => finish({ status: 500 }));
}

function receiveUpdate(dialog: Dialog, request: SipRequest, reply: InDialogReply): void {
  const offer = sdpOf(request);
  if (offer === undefined) return reply.respond(415, { headers: [['accept', 'application/sdp']] });
  if (!offer) return reply.respond(200); // a refresh without a new offer (RFC 4028)
  if (dialog.incomingOfferPending) return reply.respond(491);
  const handler = dialog.sessionChangeHandler;
  if (!handler) return reply.respond(488);
  const finish = (result: SessionReply): void => {
    if ('sdp' in result) {
      reply.respond(200, {
        body: Buffer.from(result.sdp),
        contentType: 'application/sdp',
        headers: [['contact', dialog.host.contactFor(dialog.transport)]],
      });
    } else reply.respond(result.status, { reason: result.reason, headers: result.headers });
  };
  handler({ method: 'UPDATE', offer, ack: Promise.resolve('') }).then(finish, () =>
    finish({ status: 500 }),
  );
}

function receiveRefer(dialog: Dialog, request: SipRequest, reply: InDialogReply): void {
  const referTo = request.headers.getAll('refer-to');
  const target = referTo.length === 1 ? parseNameAddr(referTo[0]) : undefined;
  if (!target) return reply.respond(400, { reason: 'Exactly One Refer-To Required' });
  const handler = dialog.referHandler;
  if (!handler) return reply.respond(603);
  const referredBy = request.headers.get('referred-by');
  let answered = false;
  const refer: IncomingRefer = {
    referTo: target.uri,
    referredBy: referredBy ? (parseNameAddr(referredBy)?.uri ?? referredBy) : undefined,
    accept(): ReferNotifier {
      if (!answered) {
        answered = true;
        reply.respond(202, { headers: [['contact', dialog.host.contactFor(dialog.transport)]] });
      }
      return referNotifier(dialog);
    },
    reject(rejection) {
      if (answered) return;
      answered = true;
      reply.respond(rejection.status, { reason: rejection.reason, headers: rejection.headers });
    },
  };
  handler(refer);
}

/** NOTIFYs go out one at a time, in order, and stop after the final one. */
function referNotifier(dialog: Dialog): ReferNotifier {
  let chain = dialog.notifyRefer(100);
  let done = false;
  return {
    notify(status, reason) {
      if (done) return chain;
      if (status >= 200) done = true;
      chain = chain.then(() => dialog.notifyRefer(status, reason));
      return chain;
    },
  };
}

function receiveNotify(dialog: Dialog, request: SipRequest, reply: InDialogReply): void {
  const event = (request.headers.get('event') ?? '').split(';')[0].trim().toLowerCase();
  const watch = dialog.referWatch;
  if (event !== 'refer' || !watch)
    return reply.respond(481, { reason: 'Subscription Does Not Exist' });
  reply.respond(200);
  const status = sipfragStatus(request.body);
  if (status !== undefined) watch.options.onProgress?.(status);
  const terminated = subscriptionTerminated(request.headers.get('subscription-state'));
  if ((status !== undefined && status >= 200) || terminated) watch.finish(status);
}
