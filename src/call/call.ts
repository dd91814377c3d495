/**
 * One Call per INVITE: negotiates, provisions the agent link, answers, bridges RTP and the
 * WebSocket both ways, and closes everything it opened exactly once, whoever ends the call.
 *
 * Caller → agent: RTP → jitter buffer (released by due time on a second tick of the call) →
 * decode (+ resample) → link frame → WebSocket.
 * Agent → caller: WebSocket → playout queue → the call's tick on the media clock (its phase
 * aligned to the agent's talkspurts) → (resample +) encode → RTP.
 * The conversions live in MediaChain.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { Negotiated } from '../codecs/negotiate.js';
import type { LinkEvents, LinkSession } from '../link/link-session.js';
import type { LinkFormat } from '../link/protocol.js';
import { MediaChain } from './media-chain.js';
import type { AgentMessage, CallQuality, TransferMode } from '../link/protocol.js';
import { DtmfReceiver, DtmfSender } from '../media/dtmf.js';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import { RtcpReporter } from '../media/rtcp-reporter.js';
import type { PortPool } from '../media/port-pool.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import { RtpSession, type RtpReceiver } from '../media/rtp-session.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
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
import { SessionDescription, type MediaPlan } from './session-description.js';
import type { OutboundLeg } from './leg.js';
import { TransferController, type EgressRoute } from './transfer.js';
import type { TraceContext } from './trace-context.js';
import { byeReason, rejectionFor, type EndCause, type RefusalCause } from './failure.js';

const TICKS_PER_SECOND = 50;
/** The CN level sent during the agent's silence, in −dBov: a quiet hiss, not a dead line. */
const COMFORT_NOISE_LEVEL = 70;
/** RFC 3550's minimum report interval. */
const RTCP_INTERVAL_SECONDS = 5;
const RTCP_FIRST_SECONDS = 2;

class ProvisioningTimeout extends Error {
  constructor(ms: number) {
    super(`no agent session within ${ms} ms`);
  }
}

if (os.endianness() !== 'LE')
  throw new Error('telgate moves slin audio as native Int16: little-endian hosts only');

/** Room in the RTP send buffer for the largest frame: L16 at 48 kHz, 20 ms. */
const MAX_PAYLOAD_BYTES = 1920;

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
  /** Opens the agent link; `bytesPerMs` sizes the audio it holds while resuming. */
  openLink(events: LinkEvents, bytesPerMs: number): LinkSession;
}

/** How a call closed, with the Reason header telgate sent (its refusal or BYE), if any. */
export type CallOutcome = ({ refused: RefusalCause; status: number } | { ended: EndCause }) & {
  reason?: string;
};

export class Call implements Tickable, RtpReceiver {
  private rtp: RtpSession | undefined;
  private link: LinkSession | undefined;
  private dialog: SipDialog | undefined;
  private readonly sdp: SessionDescription;
  private transferring = false;
  private negotiated: Negotiated | undefined;
  private readonly media: MediaChain;
  /** RFC 4733 both ways, when the caller offered telephone-event. */
  private dtmfIn: DtmfReceiver | undefined;
  private dtmfOut: DtmfSender | undefined;
  private eventTimestamp = 0;
  private dueMarks: string[] = [];
  private rtcp: RtcpReporter | undefined;
  private readonly transfer: TransferController;
  /** Set once a bridged transfer joined the caller to another leg: the agent is out. */
  private bridgedTo: OutboundLeg | undefined;
  /** A warm transfer's target while the agent consults it: the caller waits in silence. */
  private consulting: OutboundLeg | undefined;
  private ticks = 0;
  /** Caller frames the link had dropped at the last check (slow agent). */
  private droppedReported = 0;
  /** Ticks since the agent's audio stopped, while CN is negotiated. */
  private silentTicks = 0;
  /** Start of the media timeout's count: the answer, or the end of a hold. */
  private lastRtpCheck = 0;
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
    this.media = new MediaChain({
      linkFormat: deps.linkFormat,
      playoutMaxSeconds: deps.playoutMaxSeconds,
      jitterMinMs: deps.jitterMinMs,
      jitterMaxMs: deps.jitterMaxMs,
      playoutDelayMs: deps.playoutDelayMs,
    });
    this.sdp = new SessionDescription(
      endpoint.codecs,
      deps.mediaAddress,
      this.media.linkRate,
      this.media.passThroughCodec,
      deps.comfortNoise,
    );
    invite.onCancel(() => this.refuse('cancelled', undefined, [], false));
    const transfer = endpoint.kind === 'phone' ? endpoint.transfer : undefined;
    this.transfer = new TransferController({
      log: this.log,
      policy: {
        allow: transfer?.allow ?? [],
        deny: transfer?.deny ?? [],
        allowInternational: transfer?.allowInternational,
        allowPremium: transfer?.allowPremium,
      },
      egress: deps.egress,
      callerUri: parseNameAddr(invite.from)?.uri ?? 'sip:anonymous@anonymous.invalid',
      agentListens: transfer?.agentListens ?? false,
      legDeps: {
        clock: deps.clock,
        ports: deps.ports,
        mediaAddress: deps.mediaAddress,
        linkFormat: deps.linkFormat,
        codecs: endpoint.codecs,
        logger: this.log,
        placeCall: deps.placeCall,
      },
      callerDialog: () => this.dialog,
      report: (message) => {
        if (message.type === 'transfer.progress' && message.state === 'completed') {
          deps.onTransferred(this, message.target, message.mode, message.sipStatus);
        }
        this.link?.send(message);
      },
      ringback: (on) => (this.media.ringback = on),
      bridge: (leg) => this.bridge(leg, transfer?.agentListens ?? false),
      consult: (leg) => this.consult(leg),
      handedOver: () => void this.end('transferred'),
    });
  }

  get callId(): string {
    return this.invite.callId;
  }

  /** Times the agent's WebSocket was resumed after a drop. */
  get linkResumes(): number {
    return this.link?.resumes ?? 0;
  }

  /** The agent session's id, once the link is open. */
  get sessionId(): string | undefined {
    return this.link?.sessionId || undefined;
  }

  /** The negotiated caller codec (`PCMU/8000`) and the link format, once answered. */
  get audio(): { codec: string; linkFormat: string } | undefined {
    const codec = this.negotiated?.codec;
    return (
      codec && { codec: `${codec.name}/${codec.clockRate}`, linkFormat: this.media.linkFormat }
    );
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
    const first = lateOffer ? undefined : this.sdp.answer(this.invite.sdp);
    if (first && !first.ok) {
      const warning = first.rejection.headers?.find((h) => h[0] === 'warning');
      const cause = warning?.[1].startsWith('305') ? 'no-common-codec' : 'bad-sdp';
      return this.refuse(cause, undefined, warning ? [warning] : []);
    }

    const lease = await this.deps.ports.acquire();
    if (!lease) return this.refuse('no-media-port');
    if (this.closed) {
      this.deps.ports.release(lease);
      return;
    }
    this.sdp.port = lease.port;
    // Late offer: nothing to send to until the ACK brings the answer; the session waits idle.
    const plan = first?.plan;
    this.rtp = new RtpSession(
      this.deps.ports,
      lease,
      {
        remoteAddress: plan?.remoteAddress ?? '0.0.0.0',
        remotePort: plan?.remotePort ?? 9,
        payloadType: plan?.negotiated.codec.payloadType ?? 0,
        samplesPerFrame: 160,
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
        strictSource: this.deps.strictSource,
      },
      this,
    );
    if (plan) this.applyPlan(plan);

    // While the agent is provisioned the caller hears ringing: 180, or 183 with a ringback
    // tone as early media when configured (and the INVITE had an offer to answer).
    const early = this.deps.calls.earlyMedia && first?.ok ? first.sdp : undefined;
    this.invite.ringing(early);
    if (early) {
      this.media.ringback = true;
      this.deps.clock.add(this);
      this.deps.clock.add(this.callerRelease);
    }
    const link = this.deps.openLink(
      {
        onAudio: (frame) => {
          if (this.consulting) this.consulting.play(frame);
          else if (!this.bridgedTo) this.media.fromAgent(frame, this.deps.clock.elapsedMs());
        },
        onMessage: (message) => this.onAgentMessage(message),
        onClose: (code, reason) =>
          void this.end('link-lost', `WebSocket closed ${code} ${reason}`.trim()),
        onInterrupted: (code, reason) =>
          this.log.warn({ code, reason }, 'agent link dropped: resuming'),
        onResumed: (heldMs, attempts) => this.log.info({ heldMs, attempts }, 'agent link resumed'),
      },
      (this.media.linkRate / 1000) * (this.media.linkFormat.startsWith('slin') ? 2 : 1),
    );
    this.link = link;
    const timeout = this.deps.calls.provisioningTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        link.open({
          endpointId: this.endpoint.id,
          mode: 'voice_conversation',
          callId: this.invite.callId,
          from: this.invite.from,
          to: this.invite.to,
          traceId: this.deps.trace.traceId,
          parentSpanId: this.deps.trace.spanId,
        }),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new ProvisioningTimeout(timeout)), timeout);
        }),
      ]);
    } catch (err) {
      if (err instanceof ProvisioningTimeout)
        return this.refuse('provisioning-timeout', err.message);
      return this.refuse('link-unavailable', (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) return;
    this.media.ringback = false;

    const local = lateOffer ? this.sdp.offer() : this.sdp.answer(this.invite.sdp);
    const dialog = this.invite.answer(
      typeof local === 'string' ? local : local.ok ? local.sdp : '',
    );
    this.attachDialog(dialog);
    this.answeredAt = Date.now();
    if (lateOffer) {
      const { sdp } = await dialog.confirmed;
      const answered = sdp ? this.sdp.applyAnswer(sdp) : undefined;
      if (this.closed) return;
      if (!answered) return void this.end('no-usable-answer');
      this.applyPlan(answered);
    }
    const codec = this.negotiated!.codec;
    link.send({
      type: 'session.start',
      sessionId: link.sessionId,
      callId: this.invite.callId,
      endpointId: this.endpoint.id,
      from: this.invite.from,
      to: this.invite.to,
      audio: {
        format: this.media.linkFormat,
        sampleRate: this.media.linkRate,
        channels: 1,
        frameMs: 20,
      },
      codec: `${codec.name}/${codec.clockRate}`,
      chain: this.media.describe(),
    });
    this.deps.clock.add(this);
    this.deps.clock.add(this.callerRelease);
    this.lastRtpCheck = Date.now();
    this.deps.onAnswered(this);
    this.log.info(
      {
        codec: codec.name,
        chain: this.media.describe(),
        rtpPort: lease.port,
        lateOffer,
      },
      'call answered',
    );
  }

  /** Points the RTP session at what the latest offer/answer decided. */
  private applyPlan(plan: MediaPlan): void {
    const rtp = this.rtp;
    if (!rtp) return;
    const codec = plan.negotiated.codec;
    if (this.negotiated && this.negotiated.codec.name !== codec.name) {
      this.log.info({ from: this.negotiated.codec.name, to: codec.name }, 'codec changed');
    }
    this.negotiated = plan.negotiated;
    this.media.setCodec(plan.negotiated.description);
    const events = plan.negotiated.telephoneEvent;
    if (events && events.clockRate !== this.dtmfIn?.clockRate) {
      this.dtmfIn = new DtmfReceiver(events.clockRate, (digit) => {
        this.log.info({ digit: digit.digit, durationMs: digit.durationMs }, 'DTMF from the caller');
        this.link?.send({ type: 'dtmf', ...digit });
      });
      this.dtmfOut = new DtmfSender(events.clockRate / 50);
    } else if (!events) this.dtmfIn = this.dtmfOut = undefined;
    rtp.setPayloadType(codec.payloadType, this.media.current!.rtpSamplesPerFrame);
    rtp.setRemote(plan.remoteAddress, plan.remotePort);
    rtp.rtcpMux = plan.rtcpMux;
    if (this.rtcp?.clockRate !== codec.clockRate) {
      this.rtcp = new RtcpReporter(rtp, codec.clockRate, `telgate@${this.deps.mediaAddress}`);
    }
    if (rtp.sending !== plan.send) this.log.info({ onHold: !plan.send }, 'hold state changed');
    rtp.sending = plan.send;
  }

  /** Makes `dialog` the call's dialog: its end, session changes and REFERs drive the call. */
  private attachDialog(dialog: SipDialog): void {
    this.dialog = dialog;
    dialog.onEnd((cause) => {
      if (this.dialog === dialog) this.onDialogEnd(cause);
    });
    dialog.onSessionChange((change) => this.onSessionChange(change));
    dialog.onRefer((refer) => void this.onRefer(refer));
  }

  /** re-INVITE or UPDATE: hold, resume, a codec change or a new address. */
  private async onSessionChange(change: SessionChange): Promise<SessionReply> {
    if (!change.offer) {
      const offer = this.sdp.offer();
      void change.ack.then((answer) => {
        const plan = answer ? this.sdp.applyAnswer(answer) : undefined;
        if (plan) this.applyPlan(plan);
      });
      return { sdp: offer };
    }
    const result = this.sdp.answer(change.offer);
    if (!result.ok) return result.rejection;
    this.applyPlan(result.plan);
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
      const leg = this.deps.placeCall({
        uri: refer.referTo.split('?')[0],
        from: parseNameAddr(this.invite.to)?.uri ?? 'sip:telgate@invalid',
        sdp: this.sdp.offer(),
        transport: this.invite.source.transport,
        headers: refer.referredBy ? [['referred-by', `<${refer.referredBy}>`]] : [],
      });
      leg.onProvisional((status) => void notifier.notify(status));
      const result = await leg.result;
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
      this.applyPlan(plan);
      this.attachDialog(result.dialog);
      await notifier.notify(200);
      this.log.info({ newCallId: leg.callId }, 'transferred: the agent now talks to the target');
      await old?.bye();
    } finally {
      this.transferring = false;
    }
  }

  onRtp(header: RtpHeader, payload: Buffer): void {
    const negotiated = this.negotiated;
    if (!this.link || !negotiated) return;
    if (header.payloadType === negotiated.codec.payloadType) {
      this.rtcp?.onRtp(header.ssrc, header.sequence, header.timestamp);
      this.media.pushCaller(header, payload, this.sendToAgent, this.deps.clock.elapsedMs());
    } else if (header.payloadType === negotiated.telephoneEvent?.payloadType) {
      this.dtmfIn?.onPacket(header.timestamp, payload);
    } else if (header.payloadType === negotiated.comfortNoise?.payloadType) {
      // The caller's silence (RFC 3389): part of the stream, not loss. The agent hears silence;
      // the caller's next audio has the marker bit and starts the jitter buffer over.
      this.rtcp?.onRtp(header.ssrc, header.sequence, header.timestamp);
    }
  }

  onRtcp(packet: Buffer): void {
    this.rtcp?.onRtcp(packet);
  }

  onTick(atMs: number): number | void {
    const rtp = this.rtp;
    if (!rtp) return;
    // This frame's slot is still open for the agent's late audio (not a tick of its own).
    if (!this.closed && !this.dtmfOut?.busy && this.media.holdForLateAudio(atMs)) return 1;
    if (++this.ticks % TICKS_PER_SECOND === 0 && this.answeredAt) this.everySecond(rtp);
    if (this.closed) return;
    this.media.tickCaller(this.sendToAgent);
    const event = this.dtmfOut?.next();
    if (event) {
      // The digit takes this frame's slot; the agent's audio waits in its queue meanwhile.
      if (event.starts) this.eventTimestamp = rtp.nextTimestamp;
      const type = this.negotiated!.telephoneEvent!.payloadType;
      return rtp.sendInSlot(type, event.payload, event.marker, this.eventTimestamp);
    }
    const wait = Math.ceil(this.media.talkspurtWaitMs(atMs));
    if (wait > 0) {
      // The agent's talkspurt starts at its own pace: no packet now, the next one comes `wait`
      // ms later than usual (its timestamp says so), and the ticks keep that phase.
      rtp.skipMs(wait);
      return wait;
    }
    const clock = this.deps.clock;
    const length = this.media.toCaller(rtp.payloadBuffer, this.markPlayed, clock.elapsedMs());
    const comfortNoise = this.negotiated?.comfortNoise;
    if (comfortNoise && this.media.silentFrame) {
      // RFC 3389: the agent is silent, so a CN packet at the start of the silence and once a
      // second after, nothing between (the timestamps run on; the next audio has the marker).
      if (this.silentTicks++ % TICKS_PER_SECOND === 0) {
        rtp.sendComfortNoise(comfortNoise.payloadType, COMFORT_NOISE_LEVEL);
      } else rtp.skipMs(clock.periodMs);
    } else {
      this.silentTicks = 0;
      if (length) rtp.send(length);
    }
    // Marks are acknowledged once the audio before them is on its way to the caller.
    for (const name of this.dueMarks) this.link?.send({ type: 'mark', name, status: 'played' });
    this.dueMarks.length = 0;
    return this.media.pacer.nextTickMs(atMs, clock.periodMs);
  }

  private readonly markPlayed = (name: string) => void this.dueMarks.push(name);
  /** The caller's packets, each released to the agent once it has waited the jitter target. */
  private readonly callerRelease: Tickable = {
    onTick: () =>
      this.closed
        ? undefined
        : this.media.releaseDue(this.deps.clock.elapsedMs(), this.sendToAgent),
  };
  /** Where the caller's audio goes: the agent, or a bridged transfer's leg. */
  private sendToAgent = (frame: Buffer) => this.link?.sendAudio(frame);

  /** Call timers and the periodic quality report, checked on the call's tick. */
  private everySecond(rtp: RtpSession): void {
    const now = Date.now();
    const calls = this.deps.calls;
    if (now - this.answeredAt >= calls.maxDurationSeconds * 1000) {
      return void this.end('max-duration', `${calls.maxDurationSeconds} s`);
    }
    // Held calls (telgate not sending) may carry no RTP: their silence is not a failure.
    if (!rtp.sending) this.lastRtpCheck = now;
    const lastHeard = Math.max(rtp.counters.lastPacketAt, this.lastRtpCheck);
    if (now - lastHeard >= calls.mediaTimeoutSeconds * 1000) {
      return void this.end('media-timeout', `none for ${calls.mediaTimeoutSeconds} s`);
    }
    const seconds = this.ticks / TICKS_PER_SECOND;
    // The first report early (RFC 3550 §6.2 halves the first interval), then every interval.
    if (seconds % RTCP_INTERVAL_SECONDS === RTCP_FIRST_SECONDS) this.rtcp?.send();
    if (seconds % calls.qualityIntervalSeconds === 0) {
      this.link?.send({ type: 'call.quality', quality: this.quality() });
    }
    const dropped = this.link?.framesDropped ?? 0;
    if (dropped > 0 && this.droppedReported === 0) {
      // Once per call: the total is in the quality reports and the call's end.
      this.log.warn({ dropped }, 'agent reads too slowly: caller audio to it is being dropped');
    }
    this.droppedReported = dropped;
  }

  /** What the caller's stream looks like: loss, jitter, concealment, and RTCP's view. */
  quality(): CallQuality {
    const reception = this.rtcp?.reception;
    const jitter = this.media.jitter?.stats;
    const remote = this.rtcp?.remoteView();
    const expected = (reception?.received ?? 0) + (reception?.lost ?? 0);
    const round = (v: number) => Math.round(v * 10) / 10;
    return {
      packetsReceived: reception?.received ?? 0,
      packetsLost: reception?.lost ?? 0,
      lossPercent: expected ? round((100 * (reception?.lost ?? 0)) / expected) : 0,
      jitterMs: round(reception?.jitterMs ?? 0),
      late: jitter?.late ?? 0,
      concealedMs: this.media.concealedFrames * 20,
      recoveredMs: this.media.recoveredFrames * 20,
      jitterBufferMs: jitter?.targetMs ?? 0,
      framesDroppedToAgent: this.link?.framesDropped ?? 0,
      ...(remote && {
        remoteLossPercent: round(remote.fractionLost * 100),
        remoteJitterMs: round(remote.jitterMs),
        rttMs: remote.rttMs === undefined ? undefined : round(remote.rttMs),
      }),
    };
  }

  private sendDtmf(digits: string, durationMs: number): void {
    if (!this.dtmfOut) {
      this.log.warn(
        { digits },
        'agent asked for DTMF, but the caller did not offer telephone-event',
      );
      return;
    }
    this.log.info({ digits, durationMs }, 'DTMF to the caller');
    this.dtmfOut.send(digits, durationMs);
  }

  private onAgentMessage(message: AgentMessage): void {
    switch (message.type) {
      case 'hangup':
        return void this.end('agent-hangup', message.reason);
      case 'mark':
        return this.media.playout.mark(message.name);
      case 'clear': {
        const report = this.media.playout.clear();
        this.link?.send({ type: 'playback.cleared', ...report });
        for (const name of report.marks) this.link?.send({ type: 'mark', name, status: 'cleared' });
        return;
      }
      case 'dtmf.send':
        return this.sendDtmf(message.digits, message.durationMs);
      case 'transfer':
        if (this.bridgedTo || this.closed) return;
        return void this.transfer.start(message);
      case 'transfer.complete':
        return this.transfer.complete();
      case 'transfer.cancel':
        return this.transfer.cancel();
    }
  }

  /**
   * Warm transfer: the agent and the target hear each other while the caller waits in silence
   * (its audio goes nowhere); `null` puts the caller back with the agent.
   */
  private consult(leg: OutboundLeg | null): void {
    this.consulting = leg ?? undefined;
    this.media.playout.clear();
    if (leg) {
      leg.sink = (frame) => this.link?.sendAudio(frame);
      this.sendToAgent = () => undefined;
    } else this.sendToAgent = (frame) => this.link?.sendAudio(frame);
    this.log.info(
      { consulting: !!leg },
      leg ? 'agent consults the transfer target' : 'consultation over',
    );
  }

  /**
   * A bridged transfer was answered: the caller and the new leg hear each other through
   * telgate; the agent's queued audio is dropped and its session ends, unless it listens on.
   */
  private bridge(leg: OutboundLeg, agentListens: boolean): void {
    this.consulting = undefined;
    this.bridgedTo = leg;
    this.media.playout.clear();
    leg.sink = (frame) => this.media.fromAgent(frame, this.deps.clock.elapsedMs());
    this.sendToAgent = agentListens
      ? (frame) => {
          leg.play(frame);
          this.link?.sendAudio(frame);
        }
      : (frame) => leg.play(frame);
    leg.dialog?.onEnd((cause) => {
      if (cause === 'remote-bye') void this.end('transfer-target-hangup');
    });
    if (!agentListens) this.link?.close({ type: 'session.end', reason: 'transferred' });
    this.log.info({ agentListens }, 'caller bridged to the transfer target');
  }

  private onDialogEnd(cause: DialogEndCause): void {
    if (cause === 'remote-bye') void this.end('caller-hangup');
    else if (cause === 'local-bye') return;
    else if (cause === 'no-ack') void this.end('no-ack');
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
    const counters = this.rtp?.counters;
    this.log.info(
      {
        cause,
        detail,
        durationMs: Date.now() - this.answeredAt,
        rtp: counters,
        playoutUnderruns: this.media.playout.underruns,
        quality: this.quality(),
        linkResumes: this.link?.resumes ?? 0,
      },
      'call ended',
    );
    this.onClosed(this, { ended: cause, reason });
    return bye;
  }

  private release(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.closed = true;
    void this.transfer.close('Q.850 ;cause=16 ;text="the call ended"');
    this.deps.clock.remove(this);
    this.deps.clock.remove(this.callerRelease);
    this.rtp?.close();
    this.media.close();
    this.link?.close(finalMessage);
  }
}
