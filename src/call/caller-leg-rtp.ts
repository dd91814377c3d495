/**
 * The caller leg of a SIP call: one RTP stream on a leased port (or a browser's WebRTC
 * transport), as offer/answer set it up.
 *
 * Caller → agent side: RTP → jitter buffer (released by due time on a second tick of the leg) →
 * decode (+ resample) → link frame. Agent side → caller: on the leg's tick on the media clock
 * (its phase aligned to the agent's talkspurts) a frame of the peer's playout → (resample +)
 * encode → RTP. RFC 4733 digits both ways, RFC 3389 comfort noise while the agent is silent,
 * RTCP reports, and the caller's loss and jitter.
 */
import type { Logger } from 'pino';
import type { LinkFormat } from '../link/protocol.js';
import { DtmfReceiver, DtmfSender } from '../media/dtmf.js';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import type { PortPool } from '../media/port-pool.js';
import { RtcpReporter } from '../media/rtcp-reporter.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import { RtpSession, type RtpPath, type RtpReceiver } from '../media/rtp-session.js';
import type { Negotiated } from '../codecs/negotiate.js';
import type { CallerLeg, LegPeer, LegQuality } from './caller-leg.js';
import { MediaChain } from './media-chain.js';
import type { MediaPlan, SrtpPlan } from './session-description.js';
import { SrtpReceiver, SrtpSender } from '../media/srtp.js';

const TICKS_PER_SECOND = 50;
/** The CN level sent during the agent's silence, in −dBov: a quiet hiss, not a dead line. */
const COMFORT_NOISE_LEVEL = 70;
/** RFC 3550's minimum report interval. */
const RTCP_INTERVAL_SECONDS = 5;
const RTCP_FIRST_SECONDS = 2;
/** Room in the RTP send buffer for the largest frame: L16 at 48 kHz, 20 ms. */
const MAX_PAYLOAD_BYTES = 1920;

export interface RtpLegDeps {
  clock: MediaClock;
  ports: PortPool;
  /** Where the stream's packets travel: a leased port pair, or a WebRTC peer. */
  path: RtpPath;
  /** The address put in SDP and RTCP's CNAME. */
  mediaAddress: string;
  strictSource: boolean;
  linkFormat: LinkFormat;
  jitterMinMs: number;
  jitterMaxMs: number;
  log: Logger;
}

/** A leg's settings from its call's (which carry more), on `path`, logging to `log`. */
export function rtpLegDeps(
  call: Omit<RtpLegDeps, 'path' | 'log'>,
  path: RtpPath,
  log: Logger,
): RtpLegDeps {
  const { clock, ports, mediaAddress, strictSource, linkFormat, jitterMinMs, jitterMaxMs } = call;
  return {
    clock,
    ports,
    mediaAddress,
    strictSource,
    linkFormat,
    jitterMinMs,
    jitterMaxMs,
    path,
    log,
  };
}

export class RtpCallerLeg implements CallerLeg, Tickable, RtpReceiver {
  private readonly media: MediaChain;
  private readonly rtp: RtpSession;
  private negotiated: Negotiated | undefined;
  private dtmfIn: DtmfReceiver | undefined;
  private dtmfOut: DtmfSender | undefined;
  private eventTimestamp = 0;
  private rtcp: RtcpReporter | undefined;
  private ticks = 0;
  /** Ticks since the agent's audio stopped, while CN is negotiated. */
  private silentTicks = 0;
  /** Start of the silence count: the leg's start, or the end of a hold. */
  private heardCheck = 0;
  private started = false;
  private closed = false;
  /** The SRTP keys in force, as one string ('' for plain RTP). */
  private srtpKeys = '';

  constructor(
    private readonly deps: RtpLegDeps,
    private readonly peer: LegPeer,
  ) {
    this.media = new MediaChain({
      linkFormat: deps.linkFormat,
      jitterMinMs: deps.jitterMinMs,
      jitterMaxMs: deps.jitterMaxMs,
    });
    // Late offer: nothing to send to until the ACK brings the answer; the session waits idle.
    this.rtp = new RtpSession(
      deps.path,
      {
        remoteAddress: '0.0.0.0',
        remotePort: 9,
        payloadType: 0,
        samplesPerFrame: 160,
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
        strictSource: deps.strictSource,
      },
      this,
    );
  }

  get localPort(): number {
    return this.deps.path.port;
  }

  get codec(): string | undefined {
    const codec = this.negotiated?.codec;
    return codec && `${codec.name}/${codec.clockRate}`;
  }

  describe(): string {
    return this.media.describe();
  }

  /** Points the stream at what the latest offer/answer decided. */
  applyPlan(plan: MediaPlan): void {
    const rtp = this.rtp;
    const codec = plan.negotiated.codec;
    if (this.negotiated && this.negotiated.codec.name !== codec.name) {
      this.deps.log.info({ from: this.negotiated.codec.name, to: codec.name }, 'codec changed');
    }
    this.negotiated = plan.negotiated;
    this.media.setCodec(plan.negotiated.description);
    const events = plan.negotiated.telephoneEvent;
    if (events && events.clockRate !== this.dtmfIn?.clockRate) {
      this.dtmfIn = new DtmfReceiver(events.clockRate, (digit) => this.peer.onDtmf(digit));
      this.dtmfOut = new DtmfSender(events.clockRate / 50);
    } else if (!events) this.dtmfIn = this.dtmfOut = undefined;
    rtp.setPayloadType(codec.payloadType, this.media.current!.rtpSamplesPerFrame);
    rtp.setRemote(plan.remoteAddress, plan.remotePort);
    rtp.rtcpMux = plan.rtcpMux;
    this.applySrtp(plan.srtp);
    if (this.rtcp?.clockRate !== codec.clockRate) {
      this.rtcp = new RtcpReporter(rtp, codec.clockRate, `telgate@${this.deps.mediaAddress}`);
    }
    if (rtp.sending !== plan.send) this.deps.log.info({ onHold: !plan.send }, 'hold state changed');
    rtp.sending = plan.send;
  }

  /** SRTP as the plan says: new transforms only when a key changed (a re-INVITE may keep them). */
  private applySrtp(srtp: SrtpPlan | undefined): void {
    const keys = srtp
      ? [srtp.local.suite, srtp.local.masterKey, srtp.remote.masterKey, srtp.remote.masterSalt]
          .map((part) => (typeof part === 'string' ? part : part.toString('hex')))
          .join('|')
      : '';
    if (keys === this.srtpKeys) return;
    this.srtpKeys = keys;
    if (!srtp) return this.rtp.setSrtp(undefined);
    const { local, remote } = srtp;
    this.rtp.setSrtp({
      sender: new SrtpSender(local.suite, local),
      receiver: new SrtpReceiver(remote.suite, remote),
    });
    this.deps.log.info({ suite: local.suite }, 'SRTP on');
  }

  start(): void {
    if (this.closed) return;
    if (!this.started) this.heardCheck = Date.now();
    this.started = true;
    this.deps.clock.add(this);
    this.deps.clock.add(this.callerRelease);
  }

  onRtp(header: RtpHeader, payload: Buffer): void {
    const negotiated = this.negotiated;
    if (!this.started || !negotiated) return;
    if (header.payloadType === negotiated.codec.payloadType) {
      this.rtcp?.onRtp(header.ssrc, header.sequence, header.timestamp);
      this.media.pushCaller(header, payload, this.toPeer, this.deps.clock.elapsedMs());
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
    const playout = this.peer.playout;
    const clock = this.deps.clock;
    // Read once per tick: the hold below and the marks taken with this frame use it.
    const nowMs = clock.elapsedMs();
    // This frame's slot is still open for the agent's late audio (not a tick of its own). A
    // tick the clock runs late asks again after the present, once the sockets have been read.
    const nowWholeMs = Math.floor(nowMs);
    if (!this.closed && !this.dtmfOut?.busy && playout.holdForLateAudio(atMs, nowWholeMs)) {
      return Math.max(1, nowWholeMs - atMs + 1);
    }
    if (++this.ticks % TICKS_PER_SECOND === 0) this.everySecond();
    if (this.closed) return;
    this.media.tickCaller(this.toPeer);
    const event = this.dtmfOut?.next();
    if (event) {
      // The digit takes this frame's slot; the agent's audio waits in its queue meanwhile.
      if (event.starts) this.eventTimestamp = rtp.nextTimestamp;
      const type = this.negotiated!.telephoneEvent!.payloadType;
      return rtp.sendInSlot(type, event.payload, event.marker, this.eventTimestamp);
    }
    const wait = Math.ceil(playout.talkspurtWaitMs(atMs));
    if (wait > 0) {
      // The agent's talkspurt starts at its own pace: no packet now, the next one comes `wait`
      // ms later than usual (its timestamp says so), and the ticks keep that phase.
      rtp.skipMs(wait);
      return wait;
    }
    // Marks are acknowledged as their audio is taken for this frame, which leaves in this tick.
    const frame = playout.next(nowMs);
    const length = this.media.encode(frame, rtp.payloadBuffer);
    const comfortNoise = this.negotiated?.comfortNoise;
    if (comfortNoise && playout.silentFrame) {
      // RFC 3389: the agent is silent, so a CN packet at the start of the silence and once a
      // second after, nothing between (the timestamps run on; the next audio has the marker).
      if (this.silentTicks++ % TICKS_PER_SECOND === 0) {
        rtp.sendComfortNoise(comfortNoise.payloadType, COMFORT_NOISE_LEVEL);
      } else rtp.skipMs(clock.periodMs);
    } else {
      this.silentTicks = 0;
      if (length) rtp.send(length);
    }
    return playout.nextTickMs(atMs, clock.periodMs);
  }

  /** The caller's packets, each released to the peer once it has waited the jitter target. */
  private readonly callerRelease: Tickable = {
    onTick: () =>
      this.closed ? undefined : this.media.releaseDue(this.deps.clock.elapsedMs(), this.toPeer),
  };

  private readonly toPeer = (frame: Buffer) => this.peer.fromCaller(frame);

  private everySecond(): void {
    const seconds = this.ticks / TICKS_PER_SECOND;
    // The first report early (RFC 3550 §6.2 halves the first interval), then every interval.
    if (seconds % RTCP_INTERVAL_SECONDS === RTCP_FIRST_SECONDS) this.rtcp?.send();
    this.peer.onSecond();
  }

  sendDtmf(digits: string, durationMs: number): boolean {
    if (!this.dtmfOut) return false;
    this.dtmfOut.send(digits, durationMs);
    return true;
  }

  silentForMs(now: number): number {
    // Held calls (telgate not sending) may carry no RTP: their silence is not a failure.
    if (!this.rtp.sending) this.heardCheck = now;
    return now - Math.max(this.rtp.counters.lastPacketAt, this.heardCheck);
  }

  quality(): LegQuality {
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
      ...(remote && {
        remoteLossPercent: round(remote.fractionLost * 100),
        remoteJitterMs: round(remote.jitterMs),
        rttMs: remote.rttMs === undefined ? undefined : round(remote.rttMs),
      }),
    };
  }

  counters(): object {
    const drops = this.rtp.srtpDrops;
    return drops ? { ...this.rtp.counters, srtpDrops: { ...drops } } : this.rtp.counters;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.clock.remove(this);
    this.deps.clock.remove(this.callerRelease);
    this.rtp.close();
    this.media.close();
  }
}
