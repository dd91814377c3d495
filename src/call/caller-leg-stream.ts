/**
 * The caller leg of a provider call: the caller's audio arrives over the provider's media stream
 * (a WebSocket the provider opened) as 8 kHz µ-law, whatever the provider's own framing; the
 * provider's wire module (e.g. provider-twilio-stream.ts) reads and writes the messages, this
 * leg only sees audio, digits and the end.
 *
 * Caller → agent: µ-law → PCM → (resample once) → whole 20 ms link frames, as the audio
 * arrives (a stream over TCP arrives in order: no jitter buffer). Agent → caller: on the leg's
 * tick on the media clock, every 20 ms, a frame of the agent side's playout → (resample) →
 * µ-law → the wire; nothing while the agent is silent (the provider plays silence itself).
 * The provider holds what it is sent and plays it in real time, so pacing at 20 ms keeps its
 * buffer short, marks are acknowledged as their audio is sent, and a clear reaches the
 * provider's buffer too.
 */
import type { Logger } from 'pino';
import { g711Decode, g711Encode } from '../codecs/g711.js';
import { Resampler, type SampleRate } from '../codecs/resampler.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../link/protocol.js';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import { NO_LEG_QUALITY, type CallerLeg, type LegPeer, type LegQuality } from './caller-leg.js';

const FRAME_MS = 20;
const TICKS_PER_SECOND = 1000 / FRAME_MS;
/** The provider's audio: 8 kHz µ-law, 160 bytes per 20 ms. */
const STREAM_RATE = 8000;
const STREAM_FRAME = STREAM_RATE / TICKS_PER_SECOND;

/** The provider's side of the socket, as the leg uses it. */
export interface StreamWire {
  /** 20 ms of µ-law for the caller. */
  sendAudio(ulaw: Buffer): void;
  /** Drops what the provider still holds for the caller. */
  clear(): void;
}

export interface StreamLegDeps {
  clock: MediaClock;
  linkFormat: LinkFormat;
  log: Logger;
}

export class StreamCallerLeg implements CallerLeg, Tickable {
  private readonly linkRate: number;
  private readonly toLink: Resampler | undefined;
  private readonly fromLink: Resampler | undefined;
  /** The caller's audio not yet a whole link frame, as 8 kHz PCM. */
  private pending = new Int16Array(STREAM_FRAME * 4);
  private pendingLength = 0;
  private readonly decoded = new Int16Array(STREAM_FRAME);
  private readonly toCaller = new Int16Array(STREAM_FRAME);
  private readonly ulawOut = Buffer.alloc(STREAM_FRAME);
  private ticks = 0;
  private started = false;
  private closed = false;
  private lastHeardAt = 0;
  private heardCheck = 0;
  private received = 0;
  private sent = 0;

  constructor(
    private readonly deps: StreamLegDeps,
    private readonly peer: LegPeer,
    private readonly wire: StreamWire,
  ) {
    this.linkRate = LINK_FORMAT_RATE[deps.linkFormat];
    const rate = this.linkRate as SampleRate;
    this.toLink = rate === STREAM_RATE ? undefined : new Resampler(STREAM_RATE, rate);
    this.fromLink = rate === STREAM_RATE ? undefined : new Resampler(rate, STREAM_RATE);
  }

  readonly codec = 'PCMU/8000';

  describe(): string {
    const link = this.deps.linkFormat;
    const resample = this.toLink ? `, resample ${STREAM_RATE}→${this.linkRate}` : '';
    return `stream PCMU/8000 → ${link}${resample}`;
  }

  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.heardCheck = Date.now();
    this.deps.clock.add(this);
  }

  /** The caller's audio from the stream, µ-law at 8 kHz, any length. */
  onAudio(ulaw: Buffer): void {
    if (this.closed) return;
    this.received++;
    this.lastHeardAt = Date.now();
    for (let at = 0; at < ulaw.length; at += STREAM_FRAME) {
      const part = ulaw.subarray(at, Math.min(ulaw.length, at + STREAM_FRAME));
      const n = g711Decode('ulaw', part, this.decoded);
      this.append(this.decoded.subarray(0, n));
    }
    while (this.pendingLength >= STREAM_FRAME) {
      this.peer.fromCaller(this.linkFrame(this.pending.subarray(0, STREAM_FRAME)));
      this.pending.copyWithin(0, STREAM_FRAME, this.pendingLength);
      this.pendingLength -= STREAM_FRAME;
    }
  }

  /** A digit the provider reported. */
  onDigit(digit: string): void {
    if (!this.closed) this.peer.onDtmf({ digit, durationMs: 0 });
  }

  onTick(): void {
    if (this.closed) return;
    if (++this.ticks % TICKS_PER_SECOND === 0) this.peer.onSecond();
    if (this.closed) return;
    const playout = this.peer.playout;
    const frame = playout.next(this.deps.clock.elapsedMs());
    if (playout.silentFrame) return;
    const pcm = this.fromLink ? this.fromLink.process(frame, this.toCaller) : frame;
    const n = g711Encode('ulaw', pcm, this.ulawOut);
    this.sent++;
    this.wire.sendAudio(this.ulawOut.subarray(0, n));
  }

  clear(): void {
    if (!this.closed) this.wire.clear();
  }

  /** Providers carry no digits towards the caller on their streams. */
  sendDtmf(): boolean {
    return false;
  }

  silentForMs(now: number): number {
    return now - Math.max(this.lastHeardAt, this.heardCheck);
  }

  /** A stream over TCP loses nothing and has no jitter buffer: what arrived is the figure. */
  quality(): LegQuality {
    return { ...NO_LEG_QUALITY, packetsReceived: this.received };
  }

  counters(): object {
    return { messagesIn: this.received, framesOut: this.sent };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deps.clock.remove(this);
  }

  /** One 20 ms frame of 8 kHz PCM as link-format bytes (a fresh buffer: the peer keeps it). */
  private linkFrame(pcm: Int16Array): Buffer {
    const format = this.deps.linkFormat;
    if (format === 'ulaw' || format === 'alaw') {
      const out = Buffer.allocUnsafe(pcm.length);
      g711Encode(format, pcm, out);
      return out;
    }
    const link = this.toLink ? this.toLink.process(pcm) : pcm;
    // A copy: without resampling `pcm` is a view of the pending audio, which moves on.
    return Buffer.from(Buffer.from(link.buffer, link.byteOffset, link.byteLength));
  }

  private append(samples: Int16Array): void {
    if (this.pendingLength + samples.length > this.pending.length) {
      const grown = new Int16Array((this.pendingLength + samples.length) * 2);
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(samples, this.pendingLength);
    this.pendingLength += samples.length;
  }
}
