/**
 * The caller leg of a provider call: the caller's audio arrives over the provider's media stream
 * (a WebSocket the provider opened) as µ-law or 16-bit PCM at the stream's rate; the provider's
 * wire module (e.g. provider-twilio.ts) reads and writes the messages, this leg only sees audio,
 * digits and the end.
 *
 * Caller → agent: decode → (resample once) → whole 20 ms link frames, as the audio arrives (a
 * stream over TCP arrives in order: no jitter buffer). Agent → caller: on the leg's tick on the
 * media clock, every 20 ms, a frame of the agent side's playout → (resample) → encode → the
 * stream's chunk, sent when full; nothing while the agent is silent (the provider plays
 * silence itself).
 * The provider holds what it is sent and plays it in real time: pacing at 20 ms keeps its
 * buffer short; a mark goes to the provider behind its audio and is played when the provider
 * echoes it; a clear reaches the provider's buffer too, and clears the marks it held.
 */
import type { Logger } from 'pino';
import { g711Decode, g711Encode } from '../codecs/g711.js';
import { Resampler, type SampleRate } from '../codecs/resampler.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../link/protocol.js';
import type { MediaClock, Tickable } from '../media/media-clock.js';
import { NO_LEG_QUALITY, type CallerLeg, type LegPeer, type LegQuality } from './caller-leg.js';

const FRAME_MS = 20;
const TICKS_PER_SECOND = 1000 / FRAME_MS;

/** The audio a provider's stream carries, both ways. */
export interface StreamAudio {
  /** µ-law, or 16-bit little-endian PCM. */
  encoding: 'ulaw' | 'pcm16';
  rate: 8000 | 16000 | 24000;
  /** Audio per message to the provider: 20 ms, or more where the provider wants larger chunks. */
  chunkMs: number;
}

/** The provider's side of the socket, as the leg uses it. */
export interface StreamWire {
  /** A chunk of audio for the caller, in the stream's format; the leg reuses it after the call. */
  sendAudio(audio: Buffer): void;
  /** Drops what the provider still holds for the caller. */
  clear(): void;
  /** A mark after the audio sent so far, which the provider echoes once that has played. */
  mark(name: string): void;
}

export interface StreamLegDeps {
  clock: MediaClock;
  linkFormat: LinkFormat;
  audio: StreamAudio;
  log: Logger;
}

export class StreamCallerLeg implements CallerLeg, Tickable {
  private readonly linkRate: number;
  /** Samples per 20 ms at the stream's rate. */
  private readonly frame: number;
  private readonly toLink: Resampler | undefined;
  private readonly fromLink: Resampler | undefined;
  /** The caller's audio not yet a whole link frame, at the stream's rate. */
  private pending: Int16Array;
  private pendingLength = 0;
  private readonly decoded: Int16Array;
  private readonly toCaller: Int16Array;
  /** The chunk being filled for the provider, and how many bytes of it are. */
  private readonly chunk: Buffer;
  private chunkLength = 0;
  private ticks = 0;
  private started = false;
  private closed = false;
  private lastHeardAt = 0;
  private heardCheck = 0;
  private received = 0;
  private sent = 0;
  /** Marks passed on to the provider and not yet echoed. */
  private readonly marks = new Set<string>();

  constructor(
    private readonly deps: StreamLegDeps,
    private readonly peer: LegPeer,
    private readonly wire: StreamWire,
  ) {
    const { rate, encoding, chunkMs } = deps.audio;
    this.linkRate = LINK_FORMAT_RATE[deps.linkFormat];
    this.frame = rate / TICKS_PER_SECOND;
    const link = this.linkRate as SampleRate;
    this.toLink = link === rate ? undefined : new Resampler(rate, link);
    this.fromLink = link === rate ? undefined : new Resampler(link, rate);
    this.pending = new Int16Array(this.frame * 4);
    this.decoded = new Int16Array(this.frame);
    this.toCaller = new Int16Array(this.frame);
    const bytesPerFrame = this.frame * (encoding === 'ulaw' ? 1 : 2);
    this.chunk = Buffer.alloc(bytesPerFrame * Math.max(1, Math.round(chunkMs / FRAME_MS)));
  }

  get codec(): string {
    const { encoding, rate } = this.deps.audio;
    return encoding === 'ulaw' ? `PCMU/${rate}` : `L16/${rate}`;
  }

  describe(): string {
    const resample = this.toLink ? `, resample ${this.deps.audio.rate}→${this.linkRate}` : '';
    return `stream ${this.codec} → ${this.deps.linkFormat}${resample}`;
  }

  start(): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.heardCheck = Date.now();
    this.deps.clock.add(this);
  }

  /** The caller's audio from the stream, in its format, any length (an odd last byte is lost). */
  onAudio(audio: Buffer): void {
    if (this.closed) return;
    this.received++;
    this.lastHeardAt = Date.now();
    const ulaw = this.deps.audio.encoding === 'ulaw';
    const bytesPerSample = ulaw ? 1 : 2;
    const step = this.frame * bytesPerSample;
    for (let at = 0; at + bytesPerSample <= audio.length; at += step) {
      const part = audio.subarray(at, Math.min(audio.length, at + step));
      let n = 0;
      if (ulaw) n = g711Decode('ulaw', part, this.decoded);
      else for (; n * 2 + 1 < part.length; n++) this.decoded[n] = part.readInt16LE(n * 2);
      this.append(this.decoded.subarray(0, n));
    }
    while (this.pendingLength >= this.frame) {
      this.peer.fromCaller(this.linkFrame(this.pending.subarray(0, this.frame)));
      this.pending.copyWithin(0, this.frame, this.pendingLength);
      this.pendingLength -= this.frame;
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
    // The agent is silent: what is gathered goes now, then nothing (the provider plays silence).
    if (playout.silentFrame) return this.flush();
    const pcm = this.fromLink ? this.fromLink.process(frame, this.toCaller) : frame;
    const out = this.chunk.subarray(this.chunkLength);
    if (this.deps.audio.encoding === 'ulaw') this.chunkLength += g711Encode('ulaw', pcm, out);
    else {
      for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i], i * 2);
      this.chunkLength += pcm.length * 2;
    }
    if (this.chunkLength >= this.chunk.length) this.flush();
  }

  private flush(): void {
    if (!this.chunkLength) return;
    this.sent++;
    this.wire.sendAudio(this.chunk.subarray(0, this.chunkLength));
    this.chunkLength = 0;
  }

  /** The agent cleared: the provider drops what it holds, and the marks it held are cleared. */
  clear(): void {
    if (this.closed) return;
    this.chunkLength = 0;
    this.wire.clear();
    for (const name of this.marks) this.peer.onMarkDone(name, 'cleared');
    this.marks.clear();
  }

  /** The mark goes to the provider after the audio before it; played once the provider says. */
  forwardMark(name: string): boolean {
    if (this.closed) return false;
    this.flush();
    this.marks.add(name);
    this.wire.mark(name);
    return true;
  }

  /** The provider played a mark out. */
  onMarkPlayed(name: string): void {
    if (this.marks.delete(name)) this.peer.onMarkDone(name, 'played');
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

  /** One 20 ms frame at the stream's rate as link-format bytes (a fresh buffer: the peer keeps it). */
  private linkFrame(pcm: Int16Array): Buffer {
    const link = this.toLink ? this.toLink.process(pcm) : pcm;
    const format = this.deps.linkFormat;
    if (format === 'ulaw' || format === 'alaw') {
      const out = Buffer.allocUnsafe(link.length);
      g711Encode(format, link, out);
      return out;
    }
    // A copy: without resampling `link` is a view of the pending audio, which moves on.
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
