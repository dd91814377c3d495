/**
 * The main thread's side of engine-remote.ts: keeps the real SIP objects a worker's calls use,
 * by id, does to them what the worker asks, and tells the worker what happens to them.
 * Everything is forgotten when its object ends (a settled INVITE, an ended dialog, a settled
 * outgoing call, a REFER's final NOTIFY), so a long-running worker holds nothing stale.
 */
import type {
  IncomingInvite,
  IncomingRefer,
  OutgoingCall,
  ReferNotifier,
  Rejection,
  SessionReply,
  SipDialog,
  SipEngine,
} from '../sip/engine.js';
import type { Rpc } from './worker-rpc.js';
import type { PlaceCallArg, RejectArg } from './worker-protocol.js';

export class EngineHost {
  private nextId = 1;
  private nextChange = 1;
  private readonly invites = new Map<string, IncomingInvite>();
  private readonly dialogs = new Map<string, SipDialog>();
  private readonly outgoing = new Map<string, OutgoingCall>();
  /** REFERs from the far side, by id: until answered, then their NOTIFYs until the final one. */
  private readonly referrals = new Map<
    string,
    { dialogId: string; refer: IncomingRefer; notifier?: ReferNotifier }
  >();

  constructor(
    private readonly rpc: Rpc,
    private readonly engine: SipEngine,
  ) {
    rpc.handle('invite.ringing', ({ id, sdp }: { id: string; sdp?: string }) =>
      this.invites.get(id)?.ringing(sdp),
    );
    rpc.handle(
      'invite.answer',
      ({ id, sdp, dialogId }: { id: string; sdp: string; dialogId: string }) => {
        const invite = this.invites.get(id);
        this.invites.delete(id);
        if (invite) this.watch(dialogId, invite.answer(sdp));
      },
    );
    rpc.handle('invite.reject', ({ id, rejection }: RejectArg) => {
      const invite = this.invites.get(id);
      this.invites.delete(id);
      invite?.reject(rejection);
    });
    rpc.handle('dialog.bye', ({ id, reason }: { id: string; reason?: string }) =>
      this.dialogs.get(id)?.bye(reason),
    );
    rpc.handle(
      'dialog.sendRefer',
      ({
        id,
        target,
        referredBy,
        progressId,
      }: {
        id: string;
        target: string;
        referredBy?: string;
        progressId?: string;
      }) => {
        const dialog = this.dialogs.get(id);
        if (!dialog) return { status: 481 };
        return dialog.refer(target, {
          referredBy,
          onProgress: progressId
            ? (status) => this.rpc.notify('refer.progress', { id: progressId, status })
            : undefined,
        });
      },
    );
    rpc.handle('refer.accept', (id: string) => {
      const referral = this.referrals.get(id);
      if (referral && !referral.notifier) referral.notifier = referral.refer.accept();
    });
    rpc.handle('refer.reject', ({ id, rejection }: RejectArg) => {
      const referral = this.referrals.get(id);
      this.referrals.delete(id);
      referral?.refer.reject(rejection);
    });
    rpc.handle(
      'refer.notify',
      async ({ id, status, reason }: { id: string; status: number; reason?: string }) => {
        const notifier = this.referrals.get(id)?.notifier;
        if (status >= 200) this.referrals.delete(id);
        await notifier?.notify(status, reason);
      },
    );
    rpc.handle('engine.invite', ({ id, request }: PlaceCallArg) => this.place(id, request));
    rpc.handle('out.cancel', (id: string) => this.outgoing.get(id)?.cancel());
  }

  /** An admitted INVITE for the worker: returns its id; a CANCEL is passed on. */
  adopt(invite: IncomingInvite): string {
    const id = `m${this.nextId++}`;
    this.invites.set(id, invite);
    invite.onCancel(() => {
      this.invites.delete(id);
      this.rpc.notify('invite.cancel', id);
    });
    return id;
  }

  /** The worker is gone: every call it had ends here (BYE, or `rejection` if unanswered). */
  abandon(rejection: Rejection, byeReason: string): Promise<unknown> {
    for (const invite of this.invites.values()) invite.reject(rejection);
    this.invites.clear();
    for (const call of this.outgoing.values()) call.cancel();
    this.outgoing.clear();
    this.referrals.clear();
    const byes = [...this.dialogs.values()].map((dialog) => dialog.bye(byeReason));
    this.dialogs.clear();
    return Promise.allSettled(byes);
  }

  /** Relays a dialog's events to the worker under `id`, until it ends. */
  private watch(id: string, dialog: SipDialog): void {
    this.dialogs.set(id, dialog);
    void dialog.confirmed.then(({ sdp }) => this.rpc.notify('dialog.confirmed', { id, sdp }));
    dialog.onEnd((cause) => {
      this.dialogs.delete(id);
      // A REFER whose call ended before its final NOTIFY ends with its dialog.
      for (const [referId, referral] of this.referrals) {
        if (referral.dialogId === id) this.referrals.delete(referId);
      }
      this.rpc.notify('dialog.end', { id, cause });
    });
    dialog.onSessionChange(async (change) => {
      const changeId = this.nextChange++;
      void change.ack.then((sdp) => this.rpc.notify('dialog.ack', { id, changeId, sdp }));
      return this.rpc
        .request<SessionReply>('dialog.change', {
          id,
          changeId,
          method: change.method,
          offer: change.offer,
        })
        .catch((): SessionReply => ({ status: 500, reason: 'Server Internal Error' }));
    });
    dialog.onInfoDtmf((digit, durationMs) =>
      this.rpc.notify('dialog.dtmf', { id, digit, durationMs }),
    );
    dialog.onRefer((refer) => {
      const referId = `m${this.nextId++}`;
      this.referrals.set(referId, { dialogId: id, refer });
      this.rpc.notify('dialog.refer', {
        dialogId: id,
        referId,
        referTo: refer.referTo,
        referredBy: refer.referredBy,
      });
    });
  }

  private place(id: string, request: PlaceCallArg['request']): void {
    const call = this.engine.invite(request);
    this.outgoing.set(id, call);
    call.onProvisional((status, sdp) => this.rpc.notify('out.provisional', { id, status, sdp }));
    void call.result.then((result) => {
      this.outgoing.delete(id);
      if (!result.ok) {
        const { status, reason } = result;
        return this.rpc.notify('out.result', {
          id,
          callId: call.callId,
          ok: false,
          status,
          reason,
        });
      }
      const dialogId = `m${this.nextId++}`;
      this.watch(dialogId, result.dialog);
      this.rpc.notify('out.result', {
        id,
        callId: call.callId,
        ok: true,
        status: result.status,
        dialogId,
        sdp: result.sdp,
      });
    });
  }
}
