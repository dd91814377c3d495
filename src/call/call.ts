/**
 * One Call per INVITE: negotiates, provisions the agent link, answers, bridges RTP and the
 * WebSocket both ways, and closes everything it opened exactly once, whoever ends the call.
 *
 * Caller → agent: RTP → G.711 decode → slin frame → WebSocket (per packet, no queue).
 * Agent → caller: WebSocket → playout queue → shared 20 ms clock → G.711 encode → RTP.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { g711Decode, g711Encode, type G711Law } from '../codecs/g711.js';
import { negotiate, type Negotiated } from '../codecs/negotiate.js';
import { answerDirection, buildAnswer, parseAudioOffer, SdpError } from '../codecs/sdp.js';
import type { LinkSession } from '../link/link-session.js';
import type { AgentMessage } from '../link/protocol.js';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import { PlayoutQueue } from '../media/playout-queue.js';
import type { PortPool } from '../media/port-pool.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import { RtpSession, type RtpReceiver } from '../media/rtp-session.js';
import type { EndpointConfig } from '../routing/config-schema.js';
import type { DialogEndCause, IncomingInvite, SipDialog } from '../sip/engine.js';
import { byeReason, rejectionFor, type EndCause, type RefusalCause } from './failure.js';

if (os.endianness() !== 'LE')
  throw new Error('telgate moves slin audio as native Int16: little-endian hosts only');

const SAMPLE_RATE = 8000;
const FRAME_SAMPLES = 160; // 20 ms at 8 kHz

export interface CallDeps {
  clock: MediaClock;
  ports: PortPool;
  mediaAddress: string;
  strictSource: boolean;
  playoutMaxSeconds: number;
  logger: Logger;
  onAnswered(call: Call): void;
  openLink(callbacks: {
    onAudio(frame: Buffer): void;
    onMessage(message: AgentMessage): void;
    onClose(code: number, reason: string): void;
  }): LinkSession;
}

export type CallOutcome = { refused: RefusalCause; status: number } | { ended: EndCause };

export class Call implements Tickable, RtpReceiver {
  private rtp: RtpSession | undefined;
  private link: LinkSession | undefined;
  private dialog: SipDialog | undefined;
  private law: G711Law = 'ulaw';
  private negotiated: Negotiated | undefined;
  private readonly playout: PlayoutQueue;
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  private closed = false;
  private readonly log: Logger;
  readonly startedAt = Date.now();
  answeredAt = 0;

  constructor(
    private readonly invite: IncomingInvite,
    private readonly endpoint: EndpointConfig,
    private readonly deps: CallDeps,
    private readonly onClosed: (call: Call, outcome: CallOutcome) => void,
  ) {
    this.log = deps.logger.child({ callId: invite.callId, endpointId: endpoint.id });
    this.playout = new PlayoutQueue(Math.round(deps.playoutMaxSeconds * SAMPLE_RATE));
    invite.onCancel(() => this.refuse('cancelled', undefined, [], false));
  }

  get callId(): string {
    return this.invite.callId;
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
    if (!this.invite.sdp) return this.refuse('no-sdp');
    let offer;
    try {
      offer = parseAudioOffer(this.invite.sdp);
    } catch (err) {
      if (err instanceof SdpError)
        return this.refuse('bad-sdp', err.message, [['warning', `399 telgate "${err.message}"`]]);
      throw err;
    }
    const choice = negotiate(offer, this.endpoint.codecs);
    if (!choice.ok) {
      const warning = `305 telgate "Incompatible media format: offered ${choice.offered.join(' ') || 'nothing'}; supported ${choice.supported.join(' ')}"`;
      return this.refuse('no-common-codec', undefined, [['warning', warning]]);
    }
    this.negotiated = choice.value;
    this.law = choice.value.codec.name === 'PCMU' ? 'ulaw' : 'alaw';

    const lease = await this.deps.ports.acquire();
    if (!lease) return this.refuse('no-media-port');
    if (this.closed) {
      this.deps.ports.release(lease);
      return;
    }
    this.rtp = new RtpSession(
      this.deps.ports,
      lease,
      {
        remoteAddress: offer.address,
        remotePort: offer.port,
        payloadType: choice.value.codec.payloadType,
        samplesPerFrame: FRAME_SAMPLES,
        maxPayloadBytes: FRAME_SAMPLES,
        strictSource: this.deps.strictSource,
      },
      this,
    );

    this.invite.ringing();
    const link = this.deps.openLink({
      onAudio: (frame) => this.playout.pushPcm16le(frame),
      onMessage: (message) => this.onAgentMessage(message),
      onClose: (code, reason) =>
        void this.end('link-lost', `WebSocket closed ${code} ${reason}`.trim()),
    });
    this.link = link;
    try {
      await link.open({
        endpointId: this.endpoint.id,
        mode: 'voice_conversation',
        callId: this.invite.callId,
        from: this.invite.from,
        to: this.invite.to,
      });
    } catch (err) {
      return this.refuse('link-unavailable', (err as Error).message);
    }
    if (this.closed) return;

    const codec = choice.value.codec;
    const answer = buildAnswer({
      address: this.deps.mediaAddress,
      port: lease.port,
      sessionId: Math.floor(Date.now() / 1000),
      codecs: choice.value.telephoneEvent
        ? [codec, { ...choice.value.telephoneEvent, fmtp: '0-15' }]
        : [codec],
      ptime: choice.value.ptime,
      direction: answerDirection(offer.direction),
    });
    this.dialog = this.invite.answer(answer);
    this.answeredAt = Date.now();
    this.dialog.onEnd((cause) => this.onDialogEnd(cause));
    link.send({
      type: 'session.start',
      sessionId: link.sessionId,
      callId: this.invite.callId,
      endpointId: this.endpoint.id,
      from: this.invite.from,
      to: this.invite.to,
      audio: { format: 'slin', sampleRate: SAMPLE_RATE, channels: 1, frameMs: 20 },
      codec: `${codec.name}/${codec.clockRate}`,
    });
    this.deps.clock.add(this);
    this.deps.onAnswered(this);
    this.log.info(
      { codec: codec.name, chain: `${codec.name}/8000 → slin, no resample`, rtpPort: lease.port },
      'call answered',
    );
  }

  onRtp(header: RtpHeader, payload: Buffer): void {
    if (!this.link || header.payloadType !== this.negotiated?.codec.payloadType) return;
    const out = Buffer.allocUnsafe(payload.length * 2);
    g711Decode(this.law, payload, new Int16Array(out.buffer, out.byteOffset, payload.length));
    this.link.sendAudio(out);
  }

  onTick(): void {
    const rtp = this.rtp;
    if (!rtp) return;
    this.playout.pull(this.frame);
    rtp.send(g711Encode(this.law, this.frame, rtp.payloadBuffer));
  }

  private onAgentMessage(message: AgentMessage): void {
    if (message.type === 'hangup') void this.end('agent-hangup', message.reason);
  }

  private onDialogEnd(cause: DialogEndCause): void {
    if (cause === 'remote-bye') void this.end('caller-hangup');
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
    this.onClosed(this, { refused: cause, status: rejection.status });
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
    const bye =
      cause === 'caller-hangup' || cause === 'no-ack'
        ? Promise.resolve()
        : dialog.bye(byeReason(cause, detail));
    const counters = this.rtp?.counters;
    this.log.info(
      {
        cause,
        detail,
        durationMs: Date.now() - this.answeredAt,
        rtp: counters,
        playoutUnderruns: this.playout.underruns,
      },
      'call ended',
    );
    this.onClosed(this, { ended: cause });
    return bye;
  }

  private release(finalMessage: Parameters<LinkSession['close']>[0]): void {
    this.closed = true;
    this.deps.clock.remove(this);
    this.rtp?.close();
    this.link?.close(finalMessage);
  }
}
