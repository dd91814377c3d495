/**
 * The SIP engine interface inside a call worker: each INVITE, dialog, REFER and outgoing call is
 * a stand-in for the real one on the main thread, where the SIP stack runs. What the call does
 * to them becomes a message (worker-rpc.ts); what happens to the real ones (a CANCEL, a BYE,
 * a re-INVITE, a REFER, a provisional response) comes back as one. The call cannot tell.
 */
import type {
  DialogEndCause,
  IncomingInvite,
  IncomingRefer,
  OutgoingCall,
  OutgoingInviteRequest,
  OutgoingResult,
  ReferNotifier,
  ReferOptions,
  ReferOutcome,
  Rejection,
  SessionChange,
  SessionReply,
  SipDialog,
} from '../sip/engine.js';
import type { SipPeer } from '../sip/message.js';
import type { Rpc } from './worker-rpc.js';
import type {
  CallStart,
  DialogEnd,
  IncomingReferArg,
  OutgoingResultArg,
  SessionChangeArg,
} from './worker-protocol.js';

/** The worker's side of the SIP objects: routes the main thread's events to them. */
export class RemoteEngine {
  private nextId = 1;
  private readonly invites = new Map<string, RemoteInvite>();
  private readonly dialogs = new Map<string, RemoteDialog>();
  private readonly outgoing = new Map<string, RemoteOutgoingCall>();
  private readonly referProgress = new Map<string, (status: number) => void>();

  constructor(readonly rpc: Rpc) {
    rpc.handle('invite.cancel', (id: string) => this.invites.get(id)?.cancelled());
    rpc.handle('dialog.confirmed', ({ id, sdp }: { id: string; sdp: string }) =>
      this.dialogs.get(id)?.confirm(sdp),
    );
    rpc.handle('dialog.end', ({ id, cause }: DialogEnd) => this.dialogs.get(id)?.ended(cause));
    rpc.handle('dialog.change', (arg: SessionChangeArg) => {
      const dialog = this.dialogs.get(arg.id);
      return dialog ? dialog.change(arg) : { status: 481 };
    });
    rpc.handle(
      'dialog.ack',
      ({ id, changeId, sdp }: { id: string; changeId: number; sdp: string }) =>
        this.dialogs.get(id)?.acked(changeId, sdp),
    );
    rpc.handle(
      'dialog.dtmf',
      ({ id, digit, durationMs }: { id: string; digit: string; durationMs: number }) =>
        this.dialogs.get(id)?.infoDtmf(digit, durationMs),
    );
    rpc.handle('dialog.refer', (arg: IncomingReferArg) => {
      const dialog = this.dialogs.get(arg.dialogId);
      if (dialog) return dialog.referred(arg);
      // The call let go of the dialog meanwhile: the REFER still gets its answer.
      rpc.notify('refer.reject', { id: arg.referId, rejection: { status: 481 } });
    });
    rpc.handle('refer.progress', ({ id, status }: { id: string; status: number }) =>
      this.referProgress.get(id)?.(status),
    );
    rpc.handle(
      'out.provisional',
      ({ id, status, sdp }: { id: string; status: number; sdp: string }) =>
        this.outgoing.get(id)?.provisional(status, sdp),
    );
    rpc.handle('out.result', (arg: OutgoingResultArg) => this.outgoing.get(arg.id)?.settle(arg));
  }

  id(): string {
    return `w${this.nextId++}`;
  }

  invite(start: CallStart): IncomingInvite {
    const invite = new RemoteInvite(this, start);
    this.invites.set(start.inviteId, invite);
    return invite;
  }

  /** The call is over: its SIP stand-ins are dropped (the main thread drops the real ones). */
  forgetInvite(id: string): void {
    this.invites.delete(id);
  }

  dialog(id: string): RemoteDialog {
    const dialog = new RemoteDialog(this, id);
    this.dialogs.set(id, dialog);
    return dialog;
  }

  forgetDialog(id: string): void {
    this.dialogs.delete(id);
  }

  place(request: OutgoingInviteRequest): OutgoingCall {
    const call = new RemoteOutgoingCall(this, this.id());
    this.outgoing.set(call.callIdKey, call);
    this.rpc.notify('engine.invite', { id: call.callIdKey, request });
    return call;
  }

  forgetOutgoing(id: string): void {
    this.outgoing.delete(id);
  }

  watchRefer(id: string, onProgress: ((status: number) => void) | undefined): () => void {
    if (onProgress) this.referProgress.set(id, onProgress);
    return () => this.referProgress.delete(id);
  }
}

class RemoteInvite implements IncomingInvite {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: string;
  readonly to: string;
  readonly source: SipPeer;
  readonly sdp: string;
  private readonly id: string;
  private cancelHandler: (() => void) | undefined;
  private settled = false;

  constructor(
    private readonly engine: RemoteEngine,
    start: CallStart,
  ) {
    this.id = start.inviteId;
    ({
      callId: this.callId,
      requestUri: this.requestUri,
      from: this.from,
      to: this.to,
      source: this.source,
      sdp: this.sdp,
    } = start.invite);
  }

  header(): string | undefined {
    return undefined;
  }

  ringing(earlyMediaSdp?: string): void {
    this.engine.rpc.notify('invite.ringing', { id: this.id, sdp: earlyMediaSdp });
  }

  answer(sdp: string): SipDialog {
    this.settle();
    const dialogId = this.engine.id();
    const dialog = this.engine.dialog(dialogId);
    this.engine.rpc.notify('invite.answer', { id: this.id, sdp, dialogId });
    return dialog;
  }

  reject(rejection: Rejection): void {
    this.settle();
    this.engine.rpc.notify('invite.reject', { id: this.id, rejection });
  }

  onCancel(handler: () => void): void {
    this.cancelHandler = handler;
  }

  cancelled(): void {
    this.settle();
    this.cancelHandler?.();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.engine.forgetInvite(this.id);
  }
}

class RemoteDialog implements SipDialog {
  readonly confirmed: Promise<{ sdp: string }>;
  private confirmedWith!: (value: { sdp: string }) => void;
  private endHandlers: Array<(cause: DialogEndCause) => void> = [];
  private changeHandler: ((change: SessionChange) => Promise<SessionReply>) | undefined;
  private referHandler: ((refer: IncomingRefer) => void) | undefined;
  private readonly acks = new Map<number, (sdp: string) => void>();
  private ended_ = false;

  constructor(
    private readonly engine: RemoteEngine,
    readonly id: string,
  ) {
    this.confirmed = new Promise((resolve) => (this.confirmedWith = resolve));
  }

  bye(reasonHeader?: string): Promise<void> {
    if (this.ended_) return Promise.resolve();
    return this.engine.rpc
      .request<void>('dialog.bye', { id: this.id, reason: reasonHeader })
      .catch(() => undefined);
  }

  onEnd(handler: (cause: DialogEndCause) => void): void {
    this.endHandlers.push(handler);
  }

  onSessionChange(handler: (change: SessionChange) => Promise<SessionReply>): void {
    this.changeHandler = handler;
  }

  onRefer(handler: (refer: IncomingRefer) => void): void {
    this.referHandler = handler;
  }

  private infoDtmfHandler: ((digit: string, durationMs: number) => void) | undefined;

  onInfoDtmf(handler: (digit: string, durationMs: number) => void): void {
    this.infoDtmfHandler = handler;
  }

  /** The main thread's dialog got a digit as SIP INFO. */
  infoDtmf(digit: string, durationMs: number): void {
    this.infoDtmfHandler?.(digit, durationMs);
  }

  async refer(target: string, options: ReferOptions = {}): Promise<ReferOutcome> {
    const progressId = this.engine.id();
    const unwatch = this.engine.watchRefer(progressId, options.onProgress);
    try {
      return await this.engine.rpc.request<ReferOutcome>('dialog.sendRefer', {
        id: this.id,
        target,
        referredBy: options.referredBy,
        progressId: options.onProgress ? progressId : undefined,
      });
    } catch {
      return { status: 408 };
    } finally {
      unwatch();
    }
  }

  confirm(sdp: string): void {
    this.confirmedWith({ sdp });
  }

  ended(cause: DialogEndCause): void {
    if (this.ended_) return;
    this.ended_ = true;
    this.engine.forgetDialog(this.id);
    this.confirmedWith({ sdp: '' });
    for (const ack of this.acks.values()) ack('');
    for (const handler of this.endHandlers) handler(cause);
  }

  change(arg: SessionChangeArg): Promise<SessionReply> | SessionReply {
    if (!this.changeHandler) return { status: 488, reason: 'Not Acceptable Here' };
    const ack = new Promise<string>((resolve) => this.acks.set(arg.changeId, resolve));
    void ack.then(() => this.acks.delete(arg.changeId));
    return this.changeHandler({ method: arg.method, offer: arg.offer, ack });
  }

  acked(changeId: number, sdp: string): void {
    this.acks.get(changeId)?.(sdp);
  }

  referred(arg: IncomingReferArg): void {
    const rpc = this.engine.rpc;
    if (!this.referHandler) {
      rpc.notify('refer.reject', { id: arg.referId, rejection: { status: 603 } });
      return;
    }
    this.referHandler({
      referTo: arg.referTo,
      referredBy: arg.referredBy,
      accept(): ReferNotifier {
        rpc.notify('refer.accept', arg.referId);
        return {
          notify: (status, reason) =>
            rpc
              .request<void>('refer.notify', { id: arg.referId, status, reason })
              .catch(() => undefined),
        };
      },
      reject(rejection) {
        rpc.notify('refer.reject', { id: arg.referId, rejection });
      },
    });
  }
}

class RemoteOutgoingCall implements OutgoingCall {
  readonly result: Promise<OutgoingResult>;
  private settleWith!: (result: OutgoingResult) => void;
  private provisionalHandler: ((status: number, sdp: string) => void) | undefined;
  callId = '';

  constructor(
    private readonly engine: RemoteEngine,
    readonly callIdKey: string,
  ) {
    this.result = new Promise((resolve) => (this.settleWith = resolve));
  }

  onProvisional(handler: (status: number, sdp: string) => void): void {
    this.provisionalHandler = handler;
  }

  cancel(): void {
    this.engine.rpc.notify('out.cancel', this.callIdKey);
  }

  provisional(status: number, sdp: string): void {
    this.provisionalHandler?.(status, sdp);
  }

  settle(arg: OutgoingResultArg): void {
    this.engine.forgetOutgoing(this.callIdKey);
    this.callId = arg.callId;
    if (!arg.ok) return this.settleWith({ ok: false, status: arg.status, reason: arg.reason });
    const dialog = this.engine.dialog(arg.dialogId);
    this.settleWith({ ok: true, status: arg.status, dialog, sdp: arg.sdp });
  }
}
