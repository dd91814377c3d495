/**
 * A provider call's control: a call whose caller leg is a provider's media stream (Twilio and
 * the like) rather than a SIP dialog. It provisions the agent side exactly as a SIP call does,
 * starts the leg once the agent is there, runs the call's timers, and ends everything it opened
 * exactly once: the caller hanging up ends the stream (the provider says so, or closes the
 * socket); the agent hanging up, a lost link or a timer end it at the provider (its REST API)
 * and close the stream.
 *
 * Transfers are the provider's business (its own call control): an agent's transfer request is
 * refused with a progress message saying so.
 */
import type { Logger } from 'pino';
import type { LinkEvents, LinkSession } from '../link/link-session.js';
import type { CallQuality, LinkFormat } from '../link/protocol.js';
import type { MediaClock } from '../media/media-clock.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import { agentSideFor, type AgentSide } from './agent-side.js';
import { StreamCallerLeg, type StreamAudio, type StreamWire } from './caller-leg-stream.js';
import type { CallOutcome } from './call.js';
import type { EndCause } from './failure.js';
import { expiredTimer, type LiveCall } from './live-call.js';
import type { TraceContext } from './trace-context.js';

export interface StreamCallFacts {
  /** The provider's name and its id of the call (Twilio's CallSid). */
  provider: string;
  providerCallId: string;
  /** The agent's name: the endpoint id of its session. */
  agent: string;
  /** The stream's audio. */
  audio: StreamAudio;
  from: string;
  to: string;
  /** The call's trace (its events'; a placed call's status reports share it). */
  trace: TraceContext;
}

export interface StreamCallDeps {
  clock: MediaClock;
  linkFormat: LinkFormat;
  playoutMaxSeconds: number;
  playoutDelayMs: number;
  calls: TelgateConfig['calls'];
  logger: Logger;
  openLink(events: LinkEvents, bytesPerMs: number): LinkSession;
  /** Ends the call at the provider (the caller's phone hangs up). */
  hangUp(): Promise<void>;
  /** Closes the stream's socket. */
  closeStream(): void;
  onAnswered(call: StreamCall): void;
}

export class StreamCall implements LiveCall {
  private readonly agent: AgentSide;
  private readonly leg: StreamCallerLeg;
  private readonly log: Logger;
  private closed = false;
  answeredAt = 0;

  constructor(
    private readonly facts: StreamCallFacts,
    wire: StreamWire,
    private readonly deps: StreamCallDeps,
    private readonly onClosed: (call: StreamCall, outcome: CallOutcome) => void,
  ) {
    this.log = deps.logger.child({
      callId: this.callId,
      provider: facts.provider,
      endpointId: facts.agent,
    });
    this.agent = agentSideFor(deps, this.log, {
      onHangup: (reason) => void this.end('agent-hangup', reason),
      onTransfer: (request) =>
        this.agent.refuseTransfer(
          request,
          `a ${facts.provider} call is transferred by ${facts.provider}, not telgate`,
        ),
      onLinkLost: (detail) => void this.end('link-lost', detail),
      onSecond: () => this.checkTimers(),
    });
    this.leg = new StreamCallerLeg(
      { clock: deps.clock, linkFormat: deps.linkFormat, audio: facts.audio, log: this.log },
      this.agent,
      wire,
    );
    this.agent.attach(this.leg);
  }

  get provider(): string {
    return this.facts.provider;
  }

  /** The provider's call id, prefixed with the provider: unique beside SIP Call-IDs. */
  get callId(): string {
    return `${this.facts.provider}:${this.facts.providerCallId}`;
  }

  get sessionId(): string | undefined {
    return this.agent.sessionId;
  }

  get audio(): { codec: string; linkFormat: string } | undefined {
    return this.answeredAt
      ? { codec: this.leg.codec, linkFormat: this.agent.linkFormat }
      : undefined;
  }

  readonly mediaPort = undefined;

  get linkResumes(): number {
    return this.agent.resumes;
  }

  quality(): CallQuality {
    return this.agent.quality();
  }

  /** The caller's audio from the stream (µ-law, 8 kHz). */
  onAudio(ulaw: Buffer): void {
    this.leg.onAudio(ulaw);
  }

  onDigit(digit: string): void {
    this.leg.onDigit(digit);
  }

  /** The provider played a mark out. */
  onMark(name: string): void {
    this.leg.onMarkPlayed(name);
  }

  /** The stream ended (the provider's stop, or its socket closed): the caller is gone. */
  onStreamEnd(): void {
    void this.end('caller-hangup');
  }

  async start(): Promise<void> {
    const facts = this.facts;
    try {
      await this.agent.openWithin(
        {
          endpointId: facts.agent,
          mode: 'voice_conversation',
          callId: this.callId,
          from: facts.from,
          to: facts.to,
        },
        this.deps.calls.provisioningTimeoutMs,
      );
    } catch (err) {
      return this.refuse((err as Error).message);
    }
    if (this.closed) return;
    this.answeredAt = Date.now();
    this.agent.startSession({
      callId: this.callId,
      endpointId: facts.agent,
      from: facts.from,
      to: facts.to,
    });
    this.leg.start();
    this.deps.onAnswered(this);
    this.log.info({ chain: this.leg.describe() }, 'provider call connected to its agent');
  }

  end(cause: EndCause, detail?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.answeredAt) {
      this.refuse(detail ?? cause);
      return Promise.resolve();
    }
    this.release({ type: 'session.end', reason: cause });
    this.log.info(
      {
        cause,
        detail,
        durationMs: Date.now() - this.answeredAt,
        stream: this.leg.counters(),
        quality: this.quality(),
      },
      'call ended',
    );
    this.onClosed(this, { ended: cause });
    return cause === 'caller-hangup' ? Promise.resolve() : this.hangUpAtProvider();
  }

  /** No agent: the provider's call is hung up (a stream call has no refusal status). */
  private refuse(detail: string): void {
    if (this.closed) return;
    this.log.warn({ detail }, 'provider call refused: no agent');
    this.release({ type: 'session.end', reason: 'link-unavailable' });
    this.onClosed(this, { refused: 'link-unavailable', status: 503, reason: detail });
    void this.hangUpAtProvider();
  }

  private async hangUpAtProvider(): Promise<void> {
    try {
      await this.deps.hangUp();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'hang-up at the provider failed');
    } finally {
      this.deps.closeStream();
    }
  }

  private checkTimers(): void {
    if (!this.answeredAt || this.closed) return;
    const now = Date.now();
    const expired = expiredTimer(this.answeredAt, this.leg.silentForMs(now), this.deps.calls, now);
    if (expired) void this.end(expired.cause, expired.detail);
  }

  private release(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.closed = true;
    this.leg.close();
    this.agent.close(finalMessage);
  }
}
