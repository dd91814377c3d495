/**
 * One Call per INVITE, its control: negotiates, provisions the agent side, answers, follows the
 * SIP dialog (re-INVITEs, REFER, BYE), runs the call's timers and the agent's transfers, and
 * closes everything it opened exactly once, whoever ends the call.
 *
 * The call's audio is two parts it owns: the caller leg (caller-leg-rtp.ts: RTP, jitter buffer,
 * codecs, RFC 4733, RTCP) and the agent side (agent-side.ts: the link, playout, marks, clear,
 * DTMF and quality messages). The leg knows the agent side only as its LegPeer.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { LinkEvents, LinkSession } from '../link/link-session.js';
import type { LinkFormat, TransferMode } from '../link/protocol.js';
import type { MediaClock } from '../media/media-clock.js';
import type { PortPool } from '../media/port-pool.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
import { flowOf } from '../routing/resolve.js';
import { isWebSocket } from '../sip/uri.js';
import { transferPolicyOf } from '../routing/transfer-policy.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type {
  DialogEndCause,
  IncomingInvite,
  IncomingRefer,
  OutgoingCall,
  OutgoingInviteRequest,
  SessionChange,
  SessionReply,
  SipDialog,
} from '../sip/engine.js';
import { parseNameAddr } from '../sip/uri.js';
import { agentSideFor, ProvisioningTimeout, type AgentSide } from './agent-side.js';
import { expiredTimer, type LiveCall } from './live-call.js';
import { RtpCallerLeg, rtpLegDeps } from './caller-leg-rtp.js';
import { udpPath, type RtpPath } from '../media/rtp-session.js';
import {
  isWebRtcOffer,
  plainOfferOf,
  WebRtcPeer,
  type WebRtcOptions,
} from '../media/webrtc-peer.js';
import { SessionDescription, type OfferResult } from './session-description.js';
import { TransferController, type DeviceTarget, type EgressRoute } from './transfer.js';
import type { CallerIdentity } from './caller-identity.js';
import type { TraceContext } from './trace-context.js';
import { byeReason, rejectionFor, type EndCause, type RefusalCause } from './failure.js';
import type { CallQuality } from '../link/protocol.js';

if (os.endianness() !== 'LE')
  throw new Error('telgate moves slin audio as native Int16: little-endian hosts only');

export interface CallDeps {
  clock: MediaClock;
  ports: PortPool;
  mediaAddress: string;
  strictSource: boolean;
  playoutMaxSeconds: number;
  jitterMinMs: number;
  jitterMaxMs: number;
  playoutDelayMs: number;
  /** Answer CN when offered, and send it while the agent is silent (media.comfortNoise). */
  comfortNoise: boolean;
  /** The agent link's audio format for this call (provider's native rate or the endpoint's pin). */
  linkFormat: LinkFormat;
  logger: Logger;
  /** The call's W3C trace context (the INVITE's traceparent continued, or a new trace). */
  trace: TraceContext;
  onAnswered(call: Call): void;
  /** The agent's transfer completed: the caller went to `target`. */
  onTransferred(call: Call, target: string, mode: TransferMode, sipStatus?: number): void;
  /** Timers and early media (`calls` in the config). */
  calls: TelgateConfig['calls'];
  /** Where the agent's transfers leave, when the endpoint has an egress base number. */
  egress: EgressRoute | undefined;
  /** Places an outgoing call (a REFER's target). */
  placeCall(request: OutgoingInviteRequest): OutgoingCall;
  /** What telgate vouches for about the caller, and the number it dialed. */
  identity: CallerIdentity;
  dialed: string;
  /** The registered device a transfer target names, if it is one agents may transfer to. */
  findDevice(target: string): Promise<DeviceTarget | undefined>;
  /** WebRTC media for a browser's offer (on the main thread only: see media/webrtc-peer.ts). */
  webrtc?: WebRtcOptions;
  /** Opens the agent link; `bytesPerMs` sizes the audio it holds while resuming. */
  openLink(events: LinkEvents, bytesPerMs: number): LinkSession;
}

/** How a call closed, with the Reason header telgate sent (its refusal or BYE), if any. */
export type CallOutcome = ({ refused: RefusalCause; status: number } | { ended: EndCause }) & {
  reason?: string;
};

export class Call implements LiveCall {
  private leg: RtpCallerLeg | undefined;
  /** A browser's call: the WebRTC answer (ICE, DTLS) that the INVITE gets. */
  private webrtcAnswer: string | undefined;
  private readonly agent: AgentSide;
  private dialog: SipDialog | undefined;
  private readonly sdp: SessionDescription;
  private transferring = false;
  private readonly transfer: TransferController;
  private closed = false;
  private readonly log: Logger;
  readonly startedAt = Date.now();
  answeredAt = 0;

  constructor(
    private readonly invite: IncomingInvite,
    private readonly endpoint: CallEndpointConfig,
    private readonly deps: CallDeps,
    private readonly onClosed: (call: Call, outcome: CallOutcome) => void,
  ) {
    this.log = deps.logger.child({
      callId: invite.callId,
      endpointId: endpoint.id,
      traceId: deps.trace.traceId,
      spanId: deps.trace.spanId,
    });
    this.agent = agentSideFor(deps, this.log, {
      onHangup: (reason) => void this.end('agent-hangup', reason),
      onTransfer: (request) => {
        if (request.type === 'transfer') {
          if (!this.closed) void this.transfer.start(request);
        } else if (request.type === 'transfer.complete') this.transfer.complete();
        else this.transfer.cancel();
      },
      onLinkLost: (detail) => void this.end('link-lost', detail),
      onSecond: () => this.checkTimers(),
    });
    this.sdp = new SessionDescription(
      endpoint.codecs,
      deps.mediaAddress,
      this.agent.linkRate,
      passThroughCodec(deps.linkFormat),
      deps.comfortNoise,
      {
        encryption: endpoint.encryption,
        suites: endpoint.ciphers,
        keysAllowed: invite.source.transport === 'tls',
      },
    );
    invite.onCancel(() => this.refuse('cancelled', undefined, [], false));
    const transfer = endpoint.transfer;
    this.transfer = new TransferController({
      log: this.log,
      policy: transferPolicyOf(endpoint),
      egress: deps.egress,
      findDevice: deps.findDevice,
      callerUri: parseNameAddr(invite.from)?.uri ?? 'sip:anonymous@anonymous.invalid',
      identity: deps.identity,
      dialed: deps.dialed,
      agentListens: transfer?.agentListens ?? false,
      legDeps: {
        clock: deps.clock,
        ports: deps.ports,
        mediaAddress: deps.mediaAddress,
        linkFormat: deps.linkFormat,
        codecs: endpoint.codecs,
        logger: this.log,
        placeCall: deps.placeCall,
        ...(deps.webrtc && { webrtc: deps.webrtc }),
      },
      callerDialog: () => this.dialog,
      report: (message) => {
        if (message.type === 'transfer.progress' && message.state === 'completed') {
          deps.onTransferred(this, message.target, message.mode, message.sipStatus);
        }
        this.agent.send(message);
      },
      ringback: (on) => (this.agent.playout.ringback = on),
      bridge: (leg) => {
        this.agent.bridge(leg, transfer?.agentListens ?? false);
        leg.dialog?.onEnd((cause) => {
          if (cause === 'remote-bye') void this.end('transfer-target-hangup');
        });
      },
      consult: (leg) => this.agent.consult(leg),
      handedOver: () => void this.end('transferred'),
    });
  }

  get callId(): string {
    return this.invite.callId;
  }

  /** Times the agent's WebSocket was resumed after a drop. */
  get linkResumes(): number {
    return this.agent.resumes;
  }

  get mediaPort(): number | undefined {
    return this.leg?.localPort;
  }

  /** The agent session's id, once the link is open. */
  get sessionId(): string | undefined {
    return this.agent.sessionId;
  }

  /** The negotiated caller codec (`PCMU/8000`) and the link format, once answered. */
  get audio(): { codec: string; linkFormat: string } | undefined {
    const codec = this.leg?.codec;
    return codec ? { codec, linkFormat: this.agent.linkFormat } : undefined;
  }

  async start(): Promise<void> {
    try {
      await this.setUp();
    } catch (err) {
      this.log.error({ err }, 'call set-up failed');
      this.refuse('internal');
    }
  }

  private async setUp(): Promise<void> {
    const lateOffer = !this.invite.sdp.trim();
    const webrtc = !lateOffer && isWebRtcOffer(this.invite.sdp);
    const offer = webrtc ? plainOfferOf(this.invite.sdp) : this.invite.sdp;
    const first = lateOffer ? undefined : this.sdp.answer(offer);
    if (first && !first.ok) {
      const warning = first.rejection.headers?.find((h) => h[0] === 'warning');
      const cause = warning?.[1].startsWith('305') ? 'no-common-codec' : 'bad-sdp';
      return this.refuse(cause, undefined, warning ? [warning] : []);
    }
    const path = webrtc && first?.ok ? await this.webRtcPath(first) : await this.udpPath();
    if (!path) return;
    const leg = new RtpCallerLeg(rtpLegDeps(this.deps, path, this.log), this.agent);
    this.leg = leg;
    this.agent.attach(leg);
    if (first) leg.applyPlan(first.plan);

    // While the agent is provisioned the caller hears ringing: 180, or 183 with a ringback
    // tone as early media when configured (and the INVITE had an offer to answer).
    const early =
      this.deps.calls.earlyMedia && first?.ok ? (this.webrtcAnswer ?? first.sdp) : undefined;
    this.invite.ringing(early);
    if (early) {
      this.agent.playout.ringback = true;
      leg.start();
    }
    try {
      await this.agent.openWithin(
        {
          endpointId: this.endpoint.id,
          mode: 'voice_conversation',
          callId: this.invite.callId,
          from: this.invite.from,
          to: this.invite.to,
          traceId: this.deps.trace.traceId,
          parentSpanId: this.deps.trace.spanId,
          ...(flowOf(this.endpoint) && { flow: flowOf(this.endpoint) }),
        },
        this.deps.calls.provisioningTimeoutMs,
      );
    } catch (err) {
      if (err instanceof ProvisioningTimeout)
        return this.refuse('provisioning-timeout', err.message);
      return this.refuse('link-unavailable', (err as Error).message);
    }
    if (this.closed) return;
    this.agent.playout.ringback = false;

    const local = lateOffer ? this.sdp.offer() : this.sdp.answer(offer);
    const dialog = this.invite.answer(
      this.webrtcAnswer ?? (typeof local === 'string' ? local : local.ok ? local.sdp : ''),
    );
    this.attachDialog(dialog);
    this.answeredAt = Date.now();
    if (lateOffer) {
      const { sdp } = await dialog.confirmed;
      const answered = sdp ? this.sdp.applyAnswer(sdp) : undefined;
      if (this.closed) return;
      if (!answered) return void this.end('no-usable-answer');
      leg.applyPlan(answered);
    }
    this.agent.startSession({
      callId: this.invite.callId,
      endpointId: this.endpoint.id,
      from: this.invite.from,
      to: this.invite.to,
      caller: {
        ...(this.deps.identity.asserted && { asserted: this.deps.identity.asserted }),
        ...(this.deps.identity.verstat && { verstat: this.deps.identity.verstat }),
        identityHeader: this.deps.identity.signed,
        privacy: this.deps.identity.privacy,
      },
    });
    leg.start();
    this.deps.onAnswered(this);
    this.log.info(
      { codec: leg.codec, chain: leg.describe(), rtpPort: path.port, lateOffer, webrtc },
      'call answered',
    );
  }

  /** A leased port pair for the call's RTP, or none (the call refused or already ended). */
  private async udpPath(): Promise<RtpPath | undefined> {
    const lease = await this.deps.ports.acquire();
    if (!lease) return void this.refuse('no-media-port');
    if (this.closed) {
      this.deps.ports.release(lease);
      return undefined;
    }
    this.sdp.port = lease.port;
    return udpPath(this.deps.ports, lease);
  }

  /**
   * A browser's call: a WebRTC peer answering its offer with the codecs negotiated as for any
   * caller. Its answer is the call's; the peer failing ends the call.
   */
  private async webRtcPath(
    first: Extract<OfferResult, { ok: true }>,
  ): Promise<RtpPath | undefined> {
    if (!this.deps.webrtc || !isWebSocket(this.invite.source.transport)) {
      return void this.refuse('bad-sdp', 'WebRTC media is not available here', [
        ['warning', '399 telgate "WebRTC offers are taken only over SIP over WebSocket"'],
      ]);
    }
    // Browsers offer port 9 on 0.0.0.0 (the candidates say where): not a hold.
    const direction = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(this.invite.sdp)?.[1];
    first.plan.send =
      direction === undefined || direction === 'sendrecv' || direction === 'recvonly';
    try {
      const { peer, sdp } = await WebRtcPeer.answer(
        this.invite.sdp,
        answeredFormats(first.sdp),
        this.deps.webrtc,
      );
      if (this.closed) {
        peer.close();
        return undefined;
      }
      this.webrtcAnswer = sdp;
      peer.onClosed((why) => void this.end('media-failed', why));
      return peer;
    } catch (err) {
      return void this.refuse('bad-sdp', (err as Error).message, [
        ['warning', `399 telgate "${(err as Error).message}"`],
      ]);
    }
  }

  /** Makes `dialog` the call's dialog: its end, session changes and REFERs drive the call. */
  private attachDialog(dialog: SipDialog): void {
    this.dialog = dialog;
    dialog.onEnd((cause) => {
      if (this.dialog === dialog) this.onDialogEnd(cause);
    });
    dialog.onSessionChange((change) => this.onSessionChange(change));
    dialog.onRefer((refer) => void this.onRefer(refer));
    dialog.onInfoDtmf((digit, durationMs) => this.agent.onDtmf({ digit, durationMs }));
  }

  /** re-INVITE or UPDATE: hold, resume, a codec change or a new address. */
  private async onSessionChange(change: SessionChange): Promise<SessionReply> {
    if (!change.offer) {
      const offer = this.sdp.offer();
      void change.ack.then((answer) => {
        const plan = answer ? this.sdp.applyAnswer(answer) : undefined;
        if (plan) this.leg?.applyPlan(plan);
      });
      return { sdp: offer };
    }
    const result = this.sdp.answer(change.offer);
    if (!result.ok) return result.rejection;
    this.leg?.applyPlan(result.plan);
    return { sdp: result.sdp };
  }

  /**
   * REFER from the far side (RFC 3515): telgate, the transferee, calls the Refer-To target,
   * reports progress in NOTIFYs, and on success moves the agent's audio onto the new leg and
   * ends the old one.
   */
  private async onRefer(refer: IncomingRefer): Promise<void> {
    if (this.transferring || this.closed) {
      return refer.reject({ status: 491, reason: 'Transfer Already In Progress' });
    }
    this.transferring = true;
    const notifier = refer.accept();
    this.log.info({ referTo: refer.referTo }, 'transfer requested by REFER');
    try {
      const outgoing = this.deps.placeCall({
        uri: refer.referTo.split('?')[0],
        from: parseNameAddr(this.invite.to)?.uri ?? 'sip:telgate@invalid',
        sdp: this.sdp.offer(),
        transport: this.invite.source.transport,
        headers: refer.referredBy ? [['referred-by', `<${refer.referredBy}>`]] : [],
      });
      outgoing.onProvisional((status) => void notifier.notify(status));
      const result = await outgoing.result;
      if (!result.ok) {
        this.log.info({ status: result.status }, 'transfer target refused');
        return void (await notifier.notify(result.status, result.reason));
      }
      const plan = this.sdp.applyAnswer(result.sdp);
      if (!plan || this.closed) {
        void result.dialog.bye();
        if (!this.closed) await notifier.notify(488);
        return;
      }
      const old = this.dialog;
      this.leg?.applyPlan(plan);
      this.attachDialog(result.dialog);
      await notifier.notify(200);
      this.log.info(
        { newCallId: outgoing.callId },
        'transferred: the agent now talks to the target',
      );
      await old?.bye();
    } finally {
      this.transferring = false;
    }
  }

  /** Call timers, checked once a second on the leg's clock. */
  private checkTimers(): void {
    if (!this.answeredAt || this.closed) return;
    const now = Date.now();
    const expired = expiredTimer(
      this.answeredAt,
      this.leg?.silentForMs(now) ?? 0,
      this.deps.calls,
      now,
    );
    if (expired) void this.end(expired.cause, expired.detail);
  }

  /** What the caller's stream looks like: loss, jitter, concealment, and RTCP's view. */
  quality(): CallQuality {
    return this.agent.quality();
  }

  private onDialogEnd(cause: DialogEndCause): void {
    if (cause === 'remote-bye') void this.end('caller-hangup');
    else if (cause === 'local-bye') return;
    else if (cause === 'no-ack') void this.end('no-ack');
    else if (cause === 'engine-lost') void this.end('sip-engine-lost');
    else void this.end('shutdown');
  }

  /** Refuses the INVITE (if still unanswered) and releases everything. */
  private refuse(
    cause: RefusalCause,
    detail?: string,
    extra: Array<[string, string]> = [],
    answerInvite = true,
  ): void {
    if (this.closed) return;
    const rejection = rejectionFor(cause, detail, extra);
    if (answerInvite) this.invite.reject(rejection);
    this.log.info({ cause, status: rejection.status, detail }, 'call refused');
    this.release({ type: 'session.end', reason: cause, sipStatus: rejection.status });
    const reason = rejection.headers?.find((h) => h[0] === 'reason')?.[1];
    this.onClosed(this, { refused: cause, status: rejection.status, reason });
  }

  /**
   * Ends an answered call: BYE unless the caller already hung up, then releases everything.
   * Resolves when the BYE transaction is over (at once when no BYE is due).
   */
  end(cause: EndCause, detail?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.dialog) {
      // Not answered yet: the link failed or the agent hung up during set-up.
      this.refuse('link-unavailable', detail ?? cause);
      return Promise.resolve();
    }
    const dialog = this.dialog;
    this.release({ type: 'session.end', reason: cause });
    const reason =
      cause === 'caller-hangup' || cause === 'no-ack' ? undefined : byeReason(cause, detail);
    const bye = reason === undefined ? Promise.resolve() : dialog.bye(reason);
    this.log.info(
      {
        cause,
        detail,
        durationMs: Date.now() - this.answeredAt,
        rtp: this.leg?.counters(),
        playoutUnderruns: this.agent.playout.queue.underruns,
        quality: this.quality(),
        linkResumes: this.agent.resumes,
      },
      'call ended',
    );
    this.onClosed(this, { ended: cause, reason });
    return bye;
  }

  private release(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.closed = true;
    void this.transfer.close('Q.850 ;cause=16 ;text="the call ended"');
    this.leg?.close();
    this.agent.close(finalMessage);
  }
}

/** The SIP codec whose bytes a link format carries unchanged, if any. */
function passThroughCodec(format: LinkFormat): 'PCMU' | 'PCMA' | undefined {
  return format === 'ulaw' ? 'PCMU' : format === 'alaw' ? 'PCMA' : undefined;
}

/** The payload types of an answer telgate made, in order, each with its fmtp. */
function answeredFormats(sdp: string): Array<{ payloadType: number; fmtp?: string }> {
  const m = /^m=audio \d+ \S+ ([\d ]+)\r?$/m.exec(sdp);
  return (m?.[1].trim().split(/\s+/) ?? []).map((pt) => ({
    payloadType: Number(pt),
    fmtp: new RegExp(`^a=fmtp:${pt} ([^\r\n]+)`, 'm').exec(sdp)?.[1].trim(),
  }));
}
