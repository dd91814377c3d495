/**
 * A SipDialog over a drachtio-srf Dialog: the daemon keeps the dialog's state (CSeq, route set,
 * retransmissions); this wrapper turns its events into the engine interface's handlers and its
 * requests (BYE, REFER, NOTIFY) into promises. A wrapper can exist before its drachtio Dialog
 * does (answer() returns at once, the 200 leaves a moment later): what it is asked meanwhile
 * waits for attach().
 */
import type Srf from 'drachtio-srf';
import type {
  DialogEndCause,
  IncomingRefer,
  ReferNotifier,
  ReferOptions,
  ReferOutcome,
  SessionChange,
  SessionReply,
  SipDialog,
} from './engine.js';
import { parseInfoDtmf } from './info-dtmf.js';
import { reasonPhrase } from './message.js';
import { SIPFRAG_TYPE, sipfragBody, sipfragStatus, subscriptionTerminated } from './sipfrag.js';
import { parseNameAddr } from './uri.js';

export type DrachtioDialogHost = {
  /** How long a REFER's final NOTIFY is waited for (64·T1). */
  readonly transactionTimeoutMs: number;
  ended(dialog: DrachtioDialog): void;
  /** A BYE on its way: stop() lets it leave before the connection closes. */
  sending(bye: Promise<void>): void;
};

/** drachtio-srf's Dialog; its type declarations omit the id. */
export type SrfDialog = Srf.Dialog & { readonly id: string };

export interface ResponseParts {
  reason?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Sends a response with RFC 3261's reason phrase unless one is given (drachtio-srf's own
 * table words some differently). Over an admin connection that is gone nothing can be sent:
 * the daemon then ends the transaction itself.
 */
export function respond(res: Srf.SrfResponse, status: number, parts: ResponseParts = {}): void {
  const { reason, ...rest } = parts;
  try {
    res.send(status, reason ?? reasonPhrase(status), rest);
  } catch {
    // the daemon times the transaction out itself
  }
}

export function headerRecord(headers: Array<[string, string]> = []): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of headers) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
    record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`;
  }
  return record;
}

export class DrachtioDialog implements SipDialog {
  readonly confirmed: Promise<{ sdp: string }>;
  private confirm!: (ack: { sdp: string }) => void;
  private dialog: SrfDialog | undefined;
  private readonly attached: Promise<SrfDialog | undefined>;
  private attach_!: (dialog: SrfDialog | undefined) => void;
  private finished = false;
  private byeRequested = false;
  private endHandlers: Array<(cause: DialogEndCause) => void> = [];
  private sessionChangeHandler: ((change: SessionChange) => Promise<SessionReply>) | undefined;
  private referHandler: ((refer: IncomingRefer) => void) | undefined;
  private infoDtmfHandler: ((digit: string, durationMs: number) => void) | undefined;
  /** The REFER this side sent, waiting for its NOTIFYs. */
  private referWatch: ((status: number | undefined, final: boolean) => void) | undefined;
  /** A re-INVITE's answer went out: its ACK settles this. */
  private pendingAck: ((body: string) => void) | undefined;

  constructor(
    private readonly host: DrachtioDialogHost,
    public id: string,
  ) {
    this.confirmed = new Promise((resolve) => (this.confirm = resolve));
    this.attached = new Promise((resolve) => (this.attach_ = resolve));
  }

  get isEnded(): boolean {
    return this.finished;
  }

  /** Whether the daemon's dialog exists yet (the 200 left, or the UAC leg was answered). */
  get isAttached(): boolean {
    return this.dialog !== undefined;
  }

  /** Binds the drachtio Dialog once it exists; `acked` says the ACK already came (a UAC leg). */
  attach(dialog: SrfDialog, acked: boolean): void {
    this.dialog = dialog;
    this.id = dialog.id;
    if (this.finished) {
      // bye() came before the daemon's dialog (it sends the BYE now), or the dialog was given
      // up (its connection lost): hang it up
      if (!this.byeRequested) this.host.sending(this.destroy(undefined));
      this.attach_(dialog);
      return;
    }
    if (acked) this.confirm({ sdp: '' });
    dialog.on('ack', (ack) => {
      const pending = this.pendingAck;
      this.pendingAck = undefined;
      if (pending) pending(ack.body ?? '');
      else this.confirm({ sdp: ack.body ?? '' });
    });
    dialog.on('destroy', () => this.end('remote-bye'));
    dialog.on('modify', (req, res) => this.onOffer('INVITE', req, res));
    dialog.on('update', (req, res) => this.onOffer('UPDATE', req, res));
    dialog.on('refer', (req, res) => this.onReferRequest(req, res));
    dialog.on('notify', (req, res) => this.onNotify(req, res));
    dialog.on('info', (req, res) => {
      respond(res, 200);
      const dtmf = parseInfoDtmf(req.get('Content-Type'), req.body ?? '');
      if (dtmf) this.infoDtmfHandler?.(dtmf.digit, dtmf.durationMs);
    });
    this.attach_(dialog);
  }

  /** The answer never became a dialog (the 200 could not be sent). */
  failed(): void {
    this.attach_(undefined);
    this.end('engine-lost');
  }

  /**
   * After the admin connection came back: the dialog's requests go over the new connection,
   * and an in-dialog OPTIONS asks whether the daemon still has it. A daemon that restarted
   * does not, and the dialog ends ('engine-lost'); so does one the far side no longer knows.
   */
  async probe(): Promise<void> {
    const dialog = this.dialog;
    if (!dialog || this.finished) return;
    (dialog.req as { socket?: unknown }).socket = undefined; // the default (current) connection
    try {
      const res = await dialog.request({ method: 'OPTIONS' } as Srf.SrfRequest);
      if (res.status === 481) this.end('remote-bye');
    } catch {
      this.end('engine-lost');
    }
  }

  bye(reasonHeader?: string): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.byeRequested = true;
    this.end('local-bye');
    const sent = this.attached.then((dialog) => (dialog ? this.destroy(reasonHeader) : undefined));
    this.host.sending(sent);
    return sent;
  }

  private async destroy(reasonHeader: string | undefined): Promise<void> {
    const dialog = this.dialog;
    if (!dialog) return;
    const headers: Record<string, string> = reasonHeader ? { Reason: reasonHeader } : {};
    await new Promise<void>((resolve) => {
      try {
        dialog.destroy({ headers }, () => resolve());
      } catch {
        resolve(); // the connection to the daemon is gone: nothing more can be sent
      }
    });
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

  async refer(target: string, options: ReferOptions = {}): Promise<ReferOutcome> {
    const dialog = await this.attached;
    if (!dialog || this.finished) return { status: 481 };
    this.referWatch?.(undefined, true);
    return new Promise<ReferOutcome>((resolve) => {
      let status = 0;
      let timer: NodeJS.Timeout | undefined;
      const watch = (notified: number | undefined, final: boolean): void => {
        if (notified !== undefined) options.onProgress?.(notified);
        if (!final) return;
        clearTimeout(timer);
        if (this.referWatch === watch) this.referWatch = undefined;
        resolve({
          status: status || 202,
          ...(notified !== undefined && { finalStatus: notified }),
        });
      };
      this.referWatch = watch; // a NOTIFY may overtake the 202
      const headers: Record<string, string> = { 'Refer-To': `<${target}>` };
      if (options.referredBy) headers['Referred-By'] = `<${options.referredBy}>`;
      dialog.request({ method: 'REFER', headers } as unknown as Srf.SrfRequest).then(
        (res) => {
          status = res.status;
          if (status >= 300) return watch(undefined, true);
          timer = setTimeout(() => watch(undefined, true), this.host.transactionTimeoutMs);
        },
        () => {
          status = 408;
          watch(undefined, true);
        },
      );
    });
  }

  /** Ends the dialog once and tells the host and every end handler. */
  end(cause: DialogEndCause): void {
    if (this.finished) return;
    this.finished = true;
    this.referWatch?.(undefined, true);
    this.pendingAck?.('');
    this.pendingAck = undefined;
    this.host.ended(this);
    for (const handler of this.endHandlers) handler(cause);
    this.endHandlers = [];
  }

  private onOffer(method: 'INVITE' | 'UPDATE', req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const handler = this.sessionChangeHandler;
    if (!handler) return respond(res, 488);
    const offer = req.body ?? '';
    if (method === 'UPDATE' && !offer) return respond(res, 200); // a session refresh (RFC 4028)
    let ack: Promise<string> = Promise.resolve('');
    if (method === 'INVITE') ack = new Promise((resolve) => (this.pendingAck = resolve));
    const finish = (reply: SessionReply): void => {
      if (this.finished) return respond(res, 487);
      if ('sdp' in reply) {
        respond(res, 200, { body: reply.sdp, headers: { 'Content-Type': 'application/sdp' } });
        return;
      }
      this.pendingAck?.('');
      this.pendingAck = undefined;
      respond(res, reply.status, { reason: reply.reason, headers: headerRecord(reply.headers) });
    };
    handler({ method, offer, ack }).then(finish, () => finish({ status: 500 }));
  }

  private onReferRequest(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const target = parseNameAddr(req.get('Refer-To') ?? '');
    if (!target) return respond(res, 400, { reason: 'Exactly One Refer-To Required' });
    const handler = this.referHandler;
    if (!handler) return respond(res, 603);
    const referredBy = req.has('Referred-By') ? req.get('Referred-By') : undefined;
    let answered = false;
    handler({
      referTo: target.uri,
      referredBy: referredBy ? (parseNameAddr(referredBy)?.uri ?? referredBy) : undefined,
      accept: (): ReferNotifier => {
        if (!answered) {
          answered = true;
          respond(res, 202);
        }
        return this.referNotifier();
      },
      reject: (rejection) => {
        if (answered) return;
        answered = true;
        respond(res, rejection.status, {
          reason: rejection.reason,
          headers: headerRecord(rejection.headers),
        });
      },
    });
  }

  /** NOTIFYs of an incoming REFER go out one at a time, in order, and stop after the final. */
  private referNotifier(): ReferNotifier {
    let chain = this.notifyRefer(100);
    let done = false;
    return {
      notify: (status, reason) => {
        if (done) return chain;
        if (status >= 200) done = true;
        chain = chain.then(() => this.notifyRefer(status, reason));
        return chain;
      },
    };
  }

  private async notifyRefer(status: number, reason?: string): Promise<void> {
    const dialog = this.dialog;
    if (!dialog || this.finished) return;
    const final = status >= 200;
    await dialog
      .request({
        method: 'NOTIFY',
        headers: {
          Event: 'refer',
          'Subscription-State': final ? 'terminated;reason=noresource' : 'active;expires=60',
          'Content-Type': SIPFRAG_TYPE,
        },
        body: sipfragBody(status, reason).toString(),
      } as unknown as Srf.SrfRequest)
      .catch(() => undefined);
  }

  private onNotify(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const event = (req.get('Event') ?? '').split(';')[0].trim().toLowerCase();
    const watch = this.referWatch;
    if (event !== 'refer' || !watch) {
      return respond(res, 481, { reason: 'Subscription Does Not Exist' });
    }
    respond(res, 200);
    const status = sipfragStatus(Buffer.from(req.body ?? ''));
    const terminated = subscriptionTerminated(req.get('Subscription-State'));
    watch(status, (status !== undefined && status >= 200) || terminated);
  }
}
