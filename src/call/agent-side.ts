/**
 * The agent side of one call: the link session to the voice agent, the playout of its audio to
 * the caller (marks, clear), DTMF both ways as link messages, and the periodic quality report.
 * It speaks to the caller only through a CallerLeg, so every kind of leg gets the same agent.
 *
 * During a transfer it also routes audio: while the agent consults a warm transfer's target the
 * agent and the target hear each other and the caller's audio goes nowhere; once a bridged
 * transfer is answered the caller and the target hear each other (and the agent, if it listens
 * on, hears the caller). Whatever the agent asks that is the call's business (hang up, transfer)
 * goes to the call's control through AgentSideEvents.
 */
import type { Logger } from 'pino';
import type { LinkEvents, LinkSession } from '../link/link-session.js';
import type {
  AgentMessage,
  CallerFacts,
  CallQuality,
  CreateSessionRequest,
  GatewayMessage,
  LinkFormat,
} from '../link/protocol.js';
import type { ReceivedDigit } from '../media/dtmf.js';
import type { MediaClock } from '../media/media-clock.js';
import { AgentPlayout } from './agent-playout.js';
import { NO_QUALITY, type CallerLeg, type LegPeer } from './caller-leg.js';
import type { OutboundLeg } from './leg.js';

/** The agent's transfer requests, for the call's control. */
export type TransferRequest = Extract<
  AgentMessage,
  { type: 'transfer' | 'transfer.complete' | 'transfer.cancel' }
>;

export interface AgentSideEvents {
  onHangup(reason: string | undefined): void;
  onTransfer(request: TransferRequest): void;
  /** The link is gone for good. */
  onLinkLost(detail: string): void;
  /** Once a second of the leg's clock: the call's timers. */
  onSecond(): void;
}

export interface AgentSideDeps {
  clock: MediaClock;
  linkFormat: LinkFormat;
  playoutMaxSeconds: number;
  playoutDelayMs: number;
  /** Seconds between `call.quality` reports. */
  qualityIntervalSeconds: number;
  log: Logger;
  /** Opens the agent link; `bytesPerMs` sizes the audio it holds while resuming. */
  openLink(events: LinkEvents, bytesPerMs: number): LinkSession;
}

/** The call's settings an agent side is made from, the same for every kind of call. */
export interface AgentSideSettings {
  clock: MediaClock;
  linkFormat: LinkFormat;
  playoutMaxSeconds: number;
  playoutDelayMs: number;
  calls: { qualityIntervalSeconds: number };
  openLink: AgentSideDeps['openLink'];
}

export class ProvisioningTimeout extends Error {
  constructor(ms: number) {
    super(`no agent session within ${ms} ms`);
  }
}

/** The agent side of a call with `settings`, logging to the call's `log`. */
export function agentSideFor(
  settings: AgentSideSettings,
  log: Logger,
  events: AgentSideEvents,
): AgentSide {
  return new AgentSide(
    {
      clock: settings.clock,
      linkFormat: settings.linkFormat,
      playoutMaxSeconds: settings.playoutMaxSeconds,
      playoutDelayMs: settings.playoutDelayMs,
      qualityIntervalSeconds: settings.calls.qualityIntervalSeconds,
      log,
      openLink: settings.openLink,
    },
    events,
  );
}

export class AgentSide implements LegPeer {
  readonly playout: AgentPlayout;
  private link: LinkSession | undefined;
  private leg: CallerLeg | undefined;
  /** A warm transfer's target while the agent consults it: the caller waits in silence. */
  private consulting: OutboundLeg | undefined;
  /** Set once a bridged transfer joined the caller to another leg: the agent is out. */
  private bridgedTo: OutboundLeg | undefined;
  /** Where the caller's audio goes: the agent, a bridged transfer's leg, or nowhere. */
  private route: (frame: Buffer) => void = (frame) => this.link?.sendAudio(frame);
  private seconds = 0;
  /** Caller frames the link had dropped at the last check (slow agent). */
  private droppedReported = 0;

  constructor(
    private readonly deps: AgentSideDeps,
    private readonly events: AgentSideEvents,
  ) {
    this.playout = new AgentPlayout({
      linkFormat: deps.linkFormat,
      playoutMaxSeconds: deps.playoutMaxSeconds,
      playoutDelayMs: deps.playoutDelayMs,
    });
    this.playout.onMark = (name) => {
      if (!this.leg?.forwardMark?.(name)) this.onMarkDone(name, 'played');
    };
  }

  get linkFormat(): LinkFormat {
    return this.playout.linkFormat;
  }

  get linkRate(): number {
    return this.playout.linkRate;
  }

  /** The agent session's id, once the link is open. */
  get sessionId(): string | undefined {
    return this.link?.sessionId || undefined;
  }

  /** Times the agent's WebSocket was resumed after a drop. */
  get resumes(): number {
    return this.link?.resumes ?? 0;
  }

  /** The caller's leg: where DTMF from the agent goes and whose quality is reported. */
  attach(leg: CallerLeg): void {
    this.leg = leg;
  }

  /** Provisions the agent's session and opens its socket. */
  open(request: CreateSessionRequest): Promise<void> {
    const bytesPerMs = (this.linkRate / 1000) * (this.linkFormat.startsWith('slin') ? 2 : 1);
    const link = this.deps.openLink(
      {
        onAudio: (frame) => this.fromAgent(frame),
        onMessage: (message) => this.onAgentMessage(message),
        onClose: (code, reason) =>
          this.events.onLinkLost(`WebSocket closed ${code} ${reason}`.trim()),
        onInterrupted: (code, reason) =>
          this.deps.log.warn({ code, reason }, 'agent link dropped: resuming'),
        onResumed: (heldMs, attempts) =>
          this.deps.log.info({ heldMs, attempts }, 'agent link resumed'),
      },
      bytesPerMs,
    );
    this.link = link;
    return link.open(request);
  }

  /** open(), failing with ProvisioningTimeout past `timeoutMs`. */
  async openWithin(request: CreateSessionRequest, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.open(request),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new ProvisioningTimeout(timeoutMs)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The call is up: tells the agent its facts, the link audio and the leg's codec chain. */
  startSession(call: {
    callId: string;
    endpointId: string;
    from: string;
    to: string;
    caller?: CallerFacts;
  }): void {
    this.send({
      type: 'session.start',
      sessionId: this.sessionId ?? '',
      ...call,
      audio: { format: this.linkFormat, sampleRate: this.linkRate, channels: 1, frameMs: 20 },
      codec: this.leg?.codec ?? '',
      chain: this.leg?.describe() ?? '',
    });
  }

  /** Tells the agent its transfer request cannot be done on this call, and why. */
  refuseTransfer(request: TransferRequest, reason: string): void {
    if (request.type !== 'transfer') return;
    this.send({
      type: 'transfer.progress',
      target: request.target,
      mode: request.mode ?? 'refer',
      state: 'failed',
      reason,
    });
  }

  onMarkDone(name: string, status: 'played' | 'cleared'): void {
    this.send({ type: 'mark', name, status });
  }

  send(message: GatewayMessage): void {
    this.link?.send(message);
  }

  fromCaller(frame: Buffer): void {
    this.route(frame);
  }

  private fromAgent(frame: Buffer): void {
    if (this.consulting) this.consulting.play(frame);
    else if (!this.bridgedTo) this.playout.push(frame, this.deps.clock.elapsedMs());
  }

  onDtmf(digit: ReceivedDigit): void {
    this.deps.log.info(
      { digit: digit.digit, durationMs: digit.durationMs },
      'DTMF from the caller',
    );
    this.send({ type: 'dtmf', ...digit });
  }

  onSecond(): void {
    this.events.onSecond();
    if (++this.seconds % this.deps.qualityIntervalSeconds === 0) {
      this.send({ type: 'call.quality', quality: this.quality() });
    }
    const dropped = this.link?.framesDropped ?? 0;
    if (dropped > 0 && this.droppedReported === 0) {
      // Once per call: the total is in the quality reports and the call's end.
      this.deps.log.warn(
        { dropped },
        'agent reads too slowly: caller audio to it is being dropped',
      );
    }
    this.droppedReported = dropped;
  }

  /** The caller's stream as its leg sees it, and what the link dropped. */
  quality(): CallQuality {
    const leg = this.leg?.quality() ?? NO_QUALITY;
    return { ...leg, framesDroppedToAgent: this.link?.framesDropped ?? 0 };
  }

  private onAgentMessage(message: AgentMessage): void {
    switch (message.type) {
      case 'hangup':
        return this.events.onHangup(message.reason);
      case 'mark':
        return this.playout.queue.mark(message.name);
      case 'clear': {
        const report = this.playout.queue.clear();
        this.leg?.clear?.();
        this.send({ type: 'playback.cleared', ...report });
        for (const name of report.marks) this.send({ type: 'mark', name, status: 'cleared' });
        return;
      }
      case 'dtmf.send':
        return this.sendDtmf(message.digits, message.durationMs);
      case 'transfer':
        if (this.bridgedTo) return;
        return this.events.onTransfer(message);
      case 'transfer.complete':
      case 'transfer.cancel':
        return this.events.onTransfer(message);
    }
  }

  private sendDtmf(digits: string, durationMs: number): void {
    if (!this.leg?.sendDtmf(digits, durationMs)) {
      this.deps.log.warn(
        { digits },
        'agent asked for DTMF, but the caller did not offer telephone-event',
      );
      return;
    }
    this.deps.log.info({ digits, durationMs }, 'DTMF to the caller');
  }

  /**
   * Warm transfer: the agent and the target hear each other while the caller waits in silence
   * (its audio goes nowhere); `null` puts the caller back with the agent.
   */
  consult(leg: OutboundLeg | null): void {
    this.consulting = leg ?? undefined;
    this.playout.queue.clear();
    if (leg) {
      leg.sink = (frame) => this.link?.sendAudio(frame);
      this.route = () => undefined;
    } else this.route = (frame) => this.link?.sendAudio(frame);
    this.deps.log.info(
      { consulting: !!leg },
      leg ? 'agent consults the transfer target' : 'consultation over',
    );
  }

  /**
   * A bridged transfer was answered: the caller and the new leg hear each other through
   * telgate; the agent's queued audio is dropped and its session ends, unless it listens on.
   */
  bridge(leg: OutboundLeg, agentListens: boolean): void {
    this.consulting = undefined;
    this.bridgedTo = leg;
    this.playout.queue.clear();
    leg.sink = (frame) => this.playout.push(frame, this.deps.clock.elapsedMs());
    this.route = agentListens
      ? (frame) => {
          leg.play(frame);
          this.link?.sendAudio(frame);
        }
      : (frame) => leg.play(frame);
    if (!agentListens) this.link?.close({ type: 'session.end', reason: 'transferred' });
    this.deps.log.info({ agentListens }, 'caller bridged to the transfer target');
  }

  /** Ends the link with `finalMessage`; the leg is the call's to close. */
  close(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.link?.close(finalMessage);
  }
}
