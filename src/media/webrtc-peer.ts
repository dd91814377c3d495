/**
 * One browser call's WebRTC transport: ICE, DTLS-SRTP, rtcp-mux and BUNDLE, answering the
 * browser's offer, and the call's RTP and RTCP in the clear on either side of it. Codecs,
 * jitter buffer, DTMF and RTCP reports stay telgate's (the same RtpSession as a SIP call's, on
 * this peer as its path).
 *
 * The library is libdatachannel through node-datachannel 0.33, chosen by measurement
 * (`npm run bench:webrtc-libraries`, 2 vCPUs, 2026-12-07): answering 8 Chromium peers that
 * each send Opus and get it echoed back, it cost 12 709 µs of CPU per peer-second against
 * werift 0.24's 23 312 (pure TypeScript; 1.83×, medians of 3 interleaved rounds), both with
 * the echo flowing to every page. Its callbacks abort the process when they run on a worker
 * thread, so WebRTC calls run on the main thread. It does full ICE (not lite), gathering only
 * on `bindAddress` within the configured port range; the answer's candidates name the
 * advertised address when one is set (a server behind 1:1 NAT).
 */
import type { PeerConnection, Track } from 'node-datachannel';
import type { RtpPath } from './rtp-session.js';

/** Loaded on the first WebRTC call: worker threads, which never take one, never load it. */
async function library(): Promise<typeof import('node-datachannel')> {
  return (await import('node-datachannel')).default;
}

export interface WebRtcOptions {
  bindAddress: string;
  /** Written into the answer's candidates instead of the bind address. */
  advertisedAddress?: string;
  portMin: number;
  portMax: number;
  /** Gathering longer than this fails the answer. */
  gatheringTimeoutMs?: number;
}

/** Whether an SDP offer is a WebRTC one (DTLS-SRTP with ICE), not plain or SDES RTP. */
export function isWebRtcOffer(sdp: string): boolean {
  return /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF? /im.test(sdp) && /^a=fingerprint:/im.test(sdp);
}

/**
 * The offer as telgate's SDP negotiation reads it: RTP/AVP on the same payload types, so the
 * codec choice is the same as for a SIP caller's offer.
 */
export function plainOfferOf(sdp: string): string {
  return sdp.replace(/^(m=audio \d+ )UDP\/TLS\/RTP\/SAVPF?( )/im, '$1RTP/AVP$2');
}

let peerCount = 0;

/** A peer connection gathering host candidates on the bind address, in the port range. */
async function connection(kind: string, options: WebRtcOptions): Promise<PeerConnection> {
  const { PeerConnection } = await library();
  return new PeerConnection(`${kind}-${++peerCount}`, {
    iceServers: [],
    bindAddress: options.bindAddress,
    portRangeBegin: options.portMin,
    portRangeEnd: options.portMax,
  });
}

export class WebRtcPeer implements RtpPath {
  readonly port = 0;
  /** The far end is the DTLS transport: SDP addresses do not move it. */
  readonly remote = { address: 'webrtc', port: 9 };
  /** Named in the answer: browsers drop RTP from an SSRC the answer does not announce. */
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0 || 1;
  private track: Track | undefined;
  private onRtp: ((packet: Buffer, address: string, port: number) => void) | undefined;
  private closedHandlers: Array<(why: string) => void> = [];
  private closed = false;

  private constructor(private readonly pc: PeerConnection) {}

  /**
   * Answers `offer` keeping only `payloadTypes` (in that order) with telgate's own fmtp lines,
   * once ICE gathering is done (the answer carries its candidates: no trickle).
   */
  static async answer(
    offer: string,
    payloadTypes: Array<{ payloadType: number; fmtp?: string }>,
    options: WebRtcOptions,
  ): Promise<{ peer: WebRtcPeer; sdp: string }> {
    const peer = new WebRtcPeer(await connection('call', options));
    try {
      const sdp = await peer.negotiate(offer, options.gatheringTimeoutMs ?? 5000);
      return { peer, sdp: shapeAnswer(sdp, payloadTypes, peer.ssrc, options) };
    } catch (err) {
      peer.close();
      throw err;
    }
  }

  /**
   * An offer to a browser (a transfer to a device registered over WebSocket): one audio section
   * with `codecs` in telgate's order and its SSRC, once gathering is done. The browser's answer
   * goes to accept().
   */
  static async offer(
    codecs: Array<{ payloadType: number; name: string; clockRate: number; fmtp?: string }>,
    options: WebRtcOptions,
  ): Promise<{ peer: WebRtcPeer; sdp: string }> {
    const { Audio } = await library();
    const pc = await connection('leg', options);
    const peer = new WebRtcPeer(pc);
    try {
      const audio = new Audio('0', 'SendRecv');
      for (const c of codecs) {
        const channels = c.name.toLowerCase() === 'opus' ? '/2' : '';
        const rtpmap = `${c.name}/${c.clockRate}${channels}`;
        if (c.fmtp) audio.addAudioCodec(c.payloadType, rtpmap, c.fmtp);
        else audio.addAudioCodec(c.payloadType, rtpmap);
      }
      audio.addSSRC(peer.ssrc, 'telgate');
      peer.attach(pc.addTrack(audio));
      const sdp = await peer.gather(options.gatheringTimeoutMs ?? 5000, () =>
        pc.setLocalDescription('offer'),
      );
      return { peer, sdp: shapeAnswer(sdp, codecs, peer.ssrc, options, false) };
    } catch (err) {
      peer.close();
      throw err;
    }
  }

  /** The browser's answer to offer(). */
  accept(answer: string): void {
    this.pc.setRemoteDescription(answer, 'answer');
  }

  private attach(track: Track): void {
    this.track = track;
    track.onMessage((packet) => this.onRtp?.(packet, this.remote.address, this.remote.port));
    track.onClosed(() => this.fail('media track closed'));
  }

  private negotiate(offer: string, timeoutMs: number): Promise<string> {
    this.pc.onTrack((track) => this.attach(track));
    return this.gather(timeoutMs, () => this.pc.setRemoteDescription(offer, 'offer'));
  }

  /** Runs `start`, then resolves with the local description once ICE gathering is complete. */
  private gather(timeoutMs: number, start: () => void): Promise<string> {
    const pc = this.pc;
    pc.onStateChange((state) => {
      if (state === 'failed' || state === 'closed') this.fail(`peer connection ${state}`);
    });
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ICE gathering timed out')), timeoutMs);
      pc.onGatheringStateChange((state) => {
        if (state !== 'complete') return;
        clearTimeout(timer);
        const local = pc.localDescription();
        if (local) resolve(local.sdp);
        else reject(new Error('no local description'));
      });
      try {
        start();
      } catch (err) {
        clearTimeout(timer);
        reject(new Error(`the WebRTC description was refused: ${(err as Error).message}`));
      }
    });
  }

  /** Tells `handler` once when the connection fails or closes (not when close() ends it). */
  onClosed(handler: (why: string) => void): void {
    this.closedHandlers.push(handler);
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.closed = true;
    const handlers = this.closedHandlers;
    this.closedHandlers = [];
    for (const handler of handlers) handler(why);
  }

  listen(onRtp: (packet: Buffer, address: string, port: number) => void): void {
    // RTCP arrives muxed on the track: RtpSession tells it from RTP by payload type.
    this.onRtp = onRtp;
  }

  sendRtp(packet: Buffer): void {
    if (this.track?.isOpen()) this.track.sendMessageBinary(packet);
  }

  sendRtcp(packet: Buffer): void {
    this.sendRtp(packet);
  }

  release(): void {
    this.close();
  }

  close(): void {
    this.closed = true;
    this.closedHandlers = [];
    this.onRtp = undefined;
    try {
      this.track?.close();
      this.pc.close();
    } catch {
      // already closed by the far end
    }
  }
}

/**
 * libdatachannel's answer, its audio section cut to the payload types telgate negotiated (with
 * its fmtp lines), telgate's SSRC announced, and candidates rewritten to the advertised address.
 */
function shapeAnswer(
  sdp: string,
  payloadTypes: Array<{ payloadType: number; fmtp?: string }>,
  ssrc: number,
  options: WebRtcOptions,
  announceSsrc = true,
): string {
  const keep = new Set(payloadTypes.map((p) => p.payloadType));
  const fmtpOf = new Map(payloadTypes.map((p) => [p.payloadType, p.fmtp]));
  const out: string[] = [];
  let inAudio = false;
  for (const line of sdp.split(/\r?\n/)) {
    if (!line) continue;
    if (line.startsWith('m=')) {
      inAudio = line.startsWith('m=audio');
      if (inAudio) {
        const [m, port, proto] = line.split(' ');
        out.push(`${m} ${port} ${proto} ${payloadTypes.map((p) => p.payloadType).join(' ')}`);
        continue;
      }
    }
    if (inAudio) {
      const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(line);
      if (pt && !keep.has(Number(pt[1]))) continue;
      if (line.startsWith('a=ssrc:') && announceSsrc) continue;
      if (pt && line.startsWith('a=fmtp:')) continue; // telgate's own, below
      if (line.startsWith('a=rtpmap:')) {
        out.push(line);
        const fmtp = fmtpOf.get(Number(pt![1]));
        if (fmtp) out.push(`a=fmtp:${pt![1]} ${fmtp}`);
        continue;
      }
    }
    if (line.startsWith('a=candidate:') && options.advertisedAddress) {
      out.push(line.split(options.bindAddress).join(options.advertisedAddress));
      continue;
    }
    out.push(line);
  }
  const mid = out.findIndex((l) => l.startsWith('a=mid:'));
  if (mid >= 0 && announceSsrc) {
    out.splice(mid + 1, 0, `a=ssrc:${ssrc} cname:telgate`);
  }
  return out.join('\r\n') + '\r\n';
}
