/**
 * A call telgate places itself through an endpoint's egress trunk (POST /api/calls for a
 * base-number endpoint): the agent first (a call no agent can take is not placed), then an
 * INVITE from the egress base number to the called number with the trunk's credentials; once
 * the callee answers, its RTP leg is the call's caller leg and the agent's session starts, as
 * for an inbound call. The callee's refusal (busy, no answer, the trunk's error) ends it unanswered
 * with that status. The trunk's call cap counts it for its whole life.
 */
import type { Logger } from 'pino';
import type { LinkSession } from '../link/link-session.js';
import type { CallQuality } from '../link/protocol.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
import type { DialogEndCause, OutgoingCall, SipDialog } from '../sip/engine.js';
import { agentSideFor, ProvisioningTimeout, type AgentSide } from './agent-side.js';
import type { CallOutcome } from './call.js';
import type { CallBasics } from './call-config.js';
import { RtpCallerLeg, rtpLegDeps } from './caller-leg-rtp.js';
import { udpPath } from '../media/rtp-session.js';
import { byeReason, rejectionFor, type EndCause, type RefusalCause } from './failure.js';
import { expiredTimer, type LiveCall } from './live-call.js';
import { SessionDescription } from './session-description.js';
import type { EgressRoute } from './transfer.js';

/** What the call is: its SIP Call-ID (chosen before it leaves), whom it calls, and how. */
export interface PlacedSipCallFacts {
  callId: string;
  /** The called number, E.164. */
  to: string;
  endpoint: CallEndpointConfig;
  egress: EgressRoute;
  /** How long it may ring before it is cancelled. */
  ringTimeoutMs: number;
}

export type PlacedSipCallDeps = CallBasics & {
  onAnswered(call: PlacedSipCall): void;
};

export class PlacedSipCall implements LiveCall {
  private readonly agent: AgentSide;
  private readonly sdp: SessionDescription;
  private readonly log: Logger;
  private leg: RtpCallerLeg | undefined;
  private outgoing: OutgoingCall | undefined;
  private dialog: SipDialog | undefined;
  private slot: { release(): void } | undefined;
  private closed = false;
  answeredAt = 0;

  constructor(
    private readonly facts: PlacedSipCallFacts,
    private readonly deps: PlacedSipCallDeps,
    private readonly onClosed: (call: PlacedSipCall, outcome: CallOutcome) => void,
  ) {
    this.log = deps.logger.child({
      callId: facts.callId,
      endpointId: facts.endpoint.id,
      traceId: deps.trace.traceId,
      spanId: deps.trace.spanId,
    });
    this.agent = agentSideFor(deps, this.log, {
      onHangup: (reason) => void this.end('agent-hangup', reason),
      // A placed call has no caller to hand over: its agent's transfers are refused.
      onTransfer: (request) =>
        this.agent.refuseTransfer(request, 'a call telgate placed is not transferred'),
      onLinkLost: (detail) => void this.end('link-lost', detail),
      onSecond: () => this.checkTimers(),
    });
    this.sdp = new SessionDescription(
      facts.endpoint.codecs,
      deps.mediaAddress,
      this.agent.linkRate,
      undefined,
      deps.comfortNoise,
      {
        encryption: facts.endpoint.encryption,
        suites: facts.endpoint.ciphers,
        keysAllowed: facts.egress.transport === 'tls',
      },
    );
  }

  get callId(): string {
    return this.facts.callId;
  }

  get sessionId(): string | undefined {
    return this.agent.sessionId;
  }

  get mediaPort(): number | undefined {
    return this.leg?.localPort;
  }

  get linkResumes(): number {
    return this.agent.resumes;
  }

  get audio(): { codec: string; linkFormat: string } | undefined {
    const codec = this.answeredAt ? this.leg?.codec : undefined;
    return codec ? { codec, linkFormat: this.agent.linkFormat } : undefined;
  }

  quality(): CallQuality {
    return this.agent.quality();
  }

  /** The caller ID the callee sees, and the called party's URI at the trunk. */
  private get addresses(): { from: string; uri: string } {
    const { egress, to } = this.facts;
    return {
      from: `sip:${egress.number}@${egress.host}`,
      uri: `sip:${to}@${egress.host}:${egress.port}${egress.transport === 'tls' ? ';transport=tls' : ''}`,
    };
  }

  async start(): Promise<void> {
    try {
      await this.setUp();
    } catch (err) {
      this.log.error({ err }, 'placed call failed');
      this.refuse('internal', (err as Error).message);
    }
  }

  private async setUp(): Promise<void> {
    const { egress, endpoint } = this.facts;
    this.slot = await egress.acquireSlot();
    if (!this.slot) return this.refuse('over-cap', 'the egress trunk is at its call cap');
    if (this.closed) return this.releaseSlot();
    const { from, uri } = this.addresses;
    try {
      await this.agent.openWithin(
        {
          endpointId: endpoint.id,
          mode: 'voice_conversation',
          callId: this.callId,
          from,
          to: uri,
          traceId: this.deps.trace.traceId,
          parentSpanId: this.deps.trace.spanId,
        },
        this.deps.calls.provisioningTimeoutMs,
      );
    } catch (err) {
      const cause =
        err instanceof ProvisioningTimeout ? 'provisioning-timeout' : 'link-unavailable';
      return this.refuse(cause, (err as Error).message);
    }
    if (this.closed) return;
    const lease = await this.deps.ports.acquire();
    if (this.closed) {
      if (lease) this.deps.ports.release(lease); // ended while the port was being leased
      return;
    }
    if (!lease) return this.refuse('no-media-port');
    this.sdp.port = lease.port;
    const leg = new RtpCallerLeg(
      rtpLegDeps(this.deps, udpPath(this.deps.ports, lease), this.log),
      this.agent,
    );
    this.leg = leg;
    this.agent.attach(leg);
    this.log.info({ uri, from }, 'placing a call through the egress trunk');
    const outgoing = this.deps.placeCall({
      callId: this.callId,
      uri,
      from,
      sdp: this.sdp.offer(),
      transport: egress.transport,
      credentials: egress.credentials,
    });
    this.outgoing = outgoing;
    const timer = setTimeout(() => outgoing.cancel(), this.facts.ringTimeoutMs);
    const result = await outgoing.result.finally(() => clearTimeout(timer));
    if (!result.ok) {
      const reason = result.status === 487 && !this.closed ? 'no answer' : result.reason;
      return this.refuse('callee-refused', reason, result.status);
    }
    this.attachDialog(result.dialog);
    if (this.closed) return void result.dialog.bye(byeReason('shutdown'));
    const plan = this.sdp.applyAnswer(result.sdp);
    this.answeredAt = Date.now();
    if (!plan) return void this.end('no-usable-answer');
    leg.applyPlan(plan);
    this.agent.startSession({ callId: this.callId, endpointId: endpoint.id, from, to: uri });
    leg.start();
    this.deps.onAnswered(this);
    this.log.info(
      { codec: leg.codec, chain: leg.describe(), rtpPort: lease.port },
      'call answered',
    );
  }

  private attachDialog(dialog: SipDialog): void {
    this.dialog = dialog;
    dialog.onEnd((cause: DialogEndCause) => {
      if (cause === 'remote-bye') void this.end('caller-hangup');
      else if (cause !== 'local-bye') void this.end('shutdown');
    });
  }

  private checkTimers(): void {
    if (!this.answeredAt || this.closed) return;
    const now = Date.now();
    const silent = this.leg?.silentForMs(now) ?? 0;
    const expired = expiredTimer(this.answeredAt, silent, this.deps.calls, now);
    if (expired) void this.end(expired.cause, expired.detail);
  }

  /** Ends the call: BYE once answered, CANCEL while it rings. */
  end(cause: EndCause, detail?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    const dialog = this.dialog;
    if (!dialog) {
      this.outgoing?.cancel();
      this.refuse('cancelled', detail ?? cause, 487);
      return Promise.resolve();
    }
    this.release({ type: 'session.end', reason: cause });
    const reason = cause === 'caller-hangup' ? undefined : byeReason(cause, detail);
    this.log.info(
      { cause, detail, durationMs: Date.now() - this.answeredAt, rtp: this.leg?.counters() },
      'call ended',
    );
    this.onClosed(this, { ended: cause, reason });
    return reason === undefined ? Promise.resolve() : dialog.bye(reason);
  }

  /** Never answered: the reason is the callee's (or telgate's) refusal. */
  private refuse(cause: RefusalCause, detail?: string, status?: number): void {
    if (this.closed) return;
    const rejection = rejectionFor(cause, detail, [], status);
    this.log.info({ cause, status: rejection.status, detail }, 'placed call not answered');
    this.release({ type: 'session.end', reason: cause, sipStatus: rejection.status });
    const reason = rejection.headers?.find((h) => h[0] === 'reason')?.[1];
    this.onClosed(this, { refused: cause, status: rejection.status, reason });
  }

  private release(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.closed = true;
    this.leg?.close();
    this.agent.close(finalMessage);
    this.releaseSlot();
  }

  private releaseSlot(): void {
    this.slot?.release();
    this.slot = undefined;
  }
}
