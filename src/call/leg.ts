/**
 * An outgoing call leg telgate bridges itself (a bridged transfer): its own SIP dialog, RTP
 * port and media chain. Its audio is exchanged with the caller's leg in the link's format, so
 * each side transcodes only to and from that common format (and not at all when both speak
 * the same codec at the link rate).
 */
import type { Logger } from 'pino';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import type { PortPool } from '../media/port-pool.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import { RtpSession, udpPath, type RtpPath, type RtpReceiver } from '../media/rtp-session.js';
import { plainOfferOf, WebRtcPeer, type WebRtcOptions } from '../media/webrtc-peer.js';
import { parseAudioOffer } from '../codecs/sdp.js';
import type { LinkFormat } from '../link/protocol.js';
import type { SipCodecName } from '../codecs/negotiate.js';
import type { OutgoingCall, OutgoingInviteRequest, SipDialog } from '../sip/engine.js';
import { AgentPlayout } from './agent-playout.js';
import { MediaChain } from './media-chain.js';
import { SessionDescription, type MediaSecurity } from './session-description.js';
import { SrtpReceiver, SrtpSender } from '../media/srtp.js';

const MAX_PAYLOAD_BYTES = 1920;
/** Encoding names as browsers' SDP writes them (parseAudioOffer upper-cases them). */
const RTPMAP_NAMES: Record<string, string> = { OPUS: 'opus', 'TELEPHONE-EVENT': 'telephone-event' };

export type LegResult = { ok: true } | { ok: false; status: number; reason: string };

export interface LegDeps {
  /** WebRTC for legs to browsers: only where calls run on the main thread. */
  webrtc?: WebRtcOptions;
  clock: MediaClock;
  ports: PortPool;
  mediaAddress: string;
  linkFormat: LinkFormat;
  codecs: readonly SipCodecName[];
  logger: Logger;
  placeCall(request: OutgoingInviteRequest): OutgoingCall;
}

export class OutboundLeg implements Tickable, RtpReceiver {
  readonly media: MediaChain;
  /** What this leg's far end hears: the caller's audio, or the agent's while it consults. */
  private readonly playout: AgentPlayout;
  private readonly sdp: SessionDescription;
  private rtp: RtpSession | undefined;
  private call: OutgoingCall | undefined;
  dialog: SipDialog | undefined;
  private payloadType = -1;
  /** A browser's leg: its WebRTC peer (the RTP session's path). */
  private peer: WebRtcPeer | undefined;
  private closed = false;
  /** Where this leg's audio goes (the caller's leg), in the link format. */
  sink: (frame: Buffer) => void = () => undefined;

  constructor(
    private readonly deps: LegDeps,
    /** SRTP for this leg (a device that requires it, reached over TLS). */
    security?: MediaSecurity,
    /** A browser (a device registered over WebSocket): WebRTC media, offered by telgate. */
    private readonly webrtc?: WebRtcOptions,
  ) {
    this.media = new MediaChain({ linkFormat: deps.linkFormat, jitterMinMs: 20, jitterMaxMs: 200 });
    this.playout = new AgentPlayout({
      linkFormat: deps.linkFormat,
      playoutMaxSeconds: 2,
      // The agent's voice to a consulted target: played on the next tick, no alignment.
      playoutDelayMs: 0,
    });
    this.sdp = new SessionDescription(
      deps.codecs,
      deps.mediaAddress,
      this.media.linkRate,
      this.media.passThroughCodec,
      false,
      security,
    );
  }

  /**
   * Places the call; `onProgress` hears each provisional status. Resolves when it is answered
   * (and its media set up), refused, cancelled or timed out.
   */
  async place(
    request: Omit<OutgoingInviteRequest, 'sdp'>,
    onProgress: (status: number) => void,
    timeoutMs: number,
  ): Promise<LegResult> {
    const media = await this.mediaPath();
    if ('refused' in media) return media.refused;
    this.rtp = new RtpSession(
      media.path,
      {
        remoteAddress: '0.0.0.0',
        remotePort: 9,
        payloadType: 0,
        samplesPerFrame: 160,
        maxPayloadBytes: MAX_PAYLOAD_BYTES,
      },
      this,
    );
    const call = this.deps.placeCall({ ...request, sdp: media.offer });
    this.call = call;
    call.onProvisional((status) => onProgress(status));
    const timer = setTimeout(() => call.cancel(), timeoutMs);
    const result = await call.result.finally(() => clearTimeout(timer));
    if (!result.ok) {
      const reason = result.status === 487 && !this.closed ? 'no answer' : result.reason;
      return { ok: false, status: result.status, reason };
    }
    this.dialog = result.dialog;
    if (this.closed) {
      void result.dialog.bye();
      return { ok: false, status: 487, reason: 'cancelled' };
    }
    if (this.peer) {
      try {
        this.peer.accept(result.sdp);
      } catch (err) {
        void result.dialog.bye('Q.850 ;cause=88 ;text="the WebRTC answer was refused"');
        return { ok: false, status: 488, reason: (err as Error).message };
      }
    }
    const plan = this.sdp.applyAnswer(this.peer ? plainOfferOf(result.sdp) : result.sdp);
    if (!plan) {
      void result.dialog.bye('Q.850 ;cause=88 ;text="no usable SDP answer"');
      return { ok: false, status: 488, reason: 'no usable SDP answer' };
    }
    this.media.setCodec(plan.negotiated.description);
    this.payloadType = plan.negotiated.codec.payloadType;
    this.rtp.setPayloadType(
      plan.negotiated.codec.payloadType,
      this.media.current!.rtpSamplesPerFrame,
    );
    this.rtp.setRemote(plan.remoteAddress, plan.remotePort);
    this.rtp.rtcpMux = plan.rtcpMux;
    if (plan.srtp) {
      const { local, remote } = plan.srtp;
      this.rtp.setSrtp({
        sender: new SrtpSender(local.suite, local),
        receiver: new SrtpReceiver(remote.suite, remote),
      });
      this.deps.logger.info({ suite: local.suite }, 'SRTP on the transfer leg');
    }
    this.deps.clock.add(this);
    return { ok: true };
  }

  /**
   * Where the leg's RTP travels, and the offer that says so: a leased port and telgate's plain
   * offer, or for a browser a WebRTC peer offering the same codecs (less L16, which browsers
   * lack).
   */
  private async mediaPath(): Promise<
    { path: RtpPath; offer: string } | { refused: LegResult & { ok: false } }
  > {
    if (this.webrtc) {
      this.sdp.port = 9;
      const plain = this.sdp.offer();
      const codecs = parseAudioOffer(plain)
        .codecs.filter((c) => c.name !== 'L16')
        .map((c) => ({ ...c, name: RTPMAP_NAMES[c.name] ?? c.name }));
      try {
        const { peer, sdp } = await WebRtcPeer.offer(codecs, this.webrtc);
        if (this.closed) {
          peer.close();
          return { refused: { ok: false, status: 487, reason: 'cancelled' } };
        }
        this.peer = peer;
        return { path: peer, offer: sdp };
      } catch (err) {
        return { refused: { ok: false, status: 500, reason: (err as Error).message } };
      }
    }
    const lease = await this.deps.ports.acquire();
    if (!lease) return { refused: { ok: false, status: 503, reason: 'no free media port' } };
    if (this.closed) {
      this.deps.ports.release(lease);
      return { refused: { ok: false, status: 487, reason: 'cancelled' } };
    }
    this.sdp.port = lease.port;
    return { path: udpPath(this.deps.ports, lease), offer: this.sdp.offer() };
  }

  /** Audio for the far end of this leg, in the link format. */
  play(frame: Buffer): void {
    this.playout.push(frame);
  }

  onRtp(header: RtpHeader, payload: Buffer): void {
    if (header.payloadType !== this.payloadType) return;
    this.media.pushCaller(header, payload, this.sink);
  }

  onTick(): void {
    const rtp = this.rtp;
    if (!rtp || this.closed) return;
    this.media.tickCaller(this.sink);
    const length = this.media.encode(this.playout.next(), rtp.payloadBuffer);
    if (length) rtp.send(length);
  }

  /** Ends the leg: cancels it while it rings, BYE once answered; frees its port. */
  close(reason?: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.deps.clock.remove(this);
    this.rtp?.close();
    this.media.close();
    if (this.dialog) return this.dialog.bye(reason);
    this.call?.cancel();
    return Promise.resolve();
  }
}
