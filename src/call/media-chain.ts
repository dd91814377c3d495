/**
 * The audio path between one call's SIP codec and its agent link format, both ways, with at
 * most one resample per direction:
 *   caller → agent: RTP payload → jitter buffer → codec decode (or concealment of a lost
 *     packet) → 20 ms frames → resample to the link rate → link format, sent as soon as the
 *     buffer releases them: when it holds more than its target, or (releaseDue, on the
 *     clock) when a packet has been held its target delay, counted from the earliest arrival
 *     the stream has shown lately, so a late next packet does not hold back the one before
 *     it; concealed on the clock when overdue;
 *   agent → caller: a 20 ms frame at the link rate (from the agent side's playout) → resample →
 *     codec encode.
 * A µ-law link with a PCMU caller (or A-law with PCMA) passes the caller's payload through.
 *
 * Loss: a lost packet whose successor is already in the jitter buffer is rebuilt from the
 * successor's forward error correction where the codec has it (Opus in-band FEC). Otherwise it
 * is concealed: the codec's own PLC where it has one (Opus); else the last frame again at
 * half the level each time, up to MAX_REPEATS, then silence. Once the caller's stream has
 * started the agent gets 20 ms of audio for every 20 ms, so its audio is exactly 20 ms per
 * frame in media time whatever the network did.
 */
// Imported rather than global: V8 looks a global up on every read in a worker thread (perf).
import { Buffer } from 'node:buffer';
import { createCodec, type Codec, type CodecDescription } from '../codecs/codec.js';
import { g711Encode } from '../codecs/g711.js';
import { Resampler, type SampleRate } from '../codecs/resampler.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../link/protocol.js';
import { JitterBuffer, type JitterPacket } from '../media/jitter-buffer.js';
import { ReleaseSchedule } from '../media/release-schedule.js';

export interface MediaChainOptions {
  linkFormat: LinkFormat;
  jitterMinMs: number;
  jitterMaxMs: number;
}

const FRAME_MS = 20;
/** Concealed frames in a row before a codec without PLC falls silent. */
const MAX_REPEATS = 3;
/** The same for a codec's own PLC, which fades by itself. */
const MAX_PLC_FRAMES = 10;

export class MediaChain {
  readonly linkRate: number;
  readonly linkFormat: LinkFormat;
  jitter: JitterBuffer | undefined;
  /** The caller's audio at the codec rate (pass-through: its bytes), decoded ahead of ticks. */
  private pending = new Int16Array(0);
  private pendingLength = 0;
  private callerStarted = false;
  /** When the last frame went to the agent (ms), to notice an overdue packet. */
  private lastEmitAt = 0;
  /** When each of the caller's packets is due to go to the agent. */
  private schedule: ReleaseSchedule | undefined;
  /** The last frame heard, and how many concealed frames followed it. */
  private lastFrame = new Int16Array(0);
  private concealedInRow = 0;
  concealedFrames = 0;
  /** Lost frames rebuilt from the next packet's forward error correction instead. */
  recoveredFrames = 0;
  private codec: Codec | undefined;
  private toLink: Resampler | undefined;
  private fromLink: Resampler | undefined;
  private decoded = new Int16Array(0);
  private resampled = new Int16Array(0);
  /** Reused per packet: the caller's audio at the link rate, before it becomes link bytes. */
  private linkOut = new Int16Array(0);
  /** Views made once rather than per frame (pendingHead, bytesOf). */
  private head = new Int16Array(0);
  private pcmBytes: Uint8Array = new Uint8Array(0);
  private pcmBytesOf: Int16Array | undefined;

  constructor(private readonly options: MediaChainOptions) {
    this.linkFormat = options.linkFormat;
    this.linkRate = LINK_FORMAT_RATE[options.linkFormat];
  }

  /** The SIP codec whose bytes this link format carries unchanged, if any. */
  get passThroughCodec(): 'PCMU' | 'PCMA' | undefined {
    return this.linkFormat === 'ulaw' ? 'PCMU' : this.linkFormat === 'alaw' ? 'PCMA' : undefined;
  }

  get current(): Codec | undefined {
    return this.codec;
  }

  /** Switches to a codec (at start, or on a codec change); resamplers follow its rate. */
  setCodec(description: CodecDescription): void {
    const same =
      this.codec?.name === description.name && this.codec.clockRate === description.clockRate;
    if (same) return;
    const codec = createCodec(description);
    this.codec?.close?.();
    this.codec = codec;
    const rate = codec.audioRate as SampleRate;
    const link = this.linkRate as SampleRate;
    this.toLink = rate === link ? undefined : new Resampler(rate, link);
    this.fromLink = rate === link ? undefined : new Resampler(link, rate);
    this.decoded = new Int16Array(codec.frameSamples * 6);
    this.resampled = new Int16Array(codec.frameSamples);
    this.pending = new Int16Array(codec.frameSamples * 8);
    this.pendingLength = 0;
    this.lastFrame = new Int16Array(codec.frameSamples);
    this.schedule = new ReleaseSchedule(codec.clockRate);
    this.jitter = new JitterBuffer({
      minMs: this.options.jitterMinMs,
      maxMs: this.options.jitterMaxMs,
      clockRate: codec.clockRate,
    });
  }

  /** Frees the codec's native state; the chain is not used after. */
  close(): void {
    this.codec?.close?.();
  }

  /** The chain as logged and sent to the agent, e.g. `PCMU/8000 → slin16, resample 8000→16000`. */
  describe(): string {
    const codec = this.codec;
    if (!codec) return 'none';
    const head = `${codec.name}/${codec.clockRate} → ${this.linkFormat}`;
    if (this.passThrough) return `${head}, pass-through`;
    return this.toLink
      ? `${head}, resample ${codec.audioRate}→${this.linkRate}`
      : `${head}, no resample`;
  }

  private get passThrough(): boolean {
    const name = this.codec?.name;
    return (
      (name === 'PCMU' && this.linkFormat === 'ulaw') ||
      (name === 'PCMA' && this.linkFormat === 'alaw')
    );
  }

  /**
   * One RTP packet of the caller's audio, into the jitter buffer; whatever it releases goes to
   * `send` at once (the buffer keeps its target delay, and no more: no wait for the clock).
   */
  pushCaller(
    header: { ssrc: number; sequence: number; timestamp: number; marker: boolean },
    payload: Buffer,
    send: (frame: Buffer) => void,
    nowMs?: number,
  ): void {
    const jitter = this.jitter;
    if (!jitter) return;
    const resets = jitter.stats.resets;
    jitter.push(header.ssrc, header.sequence, header.timestamp, header.marker, payload);
    if (nowMs !== undefined) {
      this.schedule?.noteArrival(header.timestamp, nowMs, jitter.stats.resets > resets);
    }
    while (jitter.ready) this.take(jitter.read());
    // A packet that comes after its due time leaves at once: the clock does not wait for it.
    if (nowMs !== undefined) this.takeIfDue(nowMs);
    this.emitFrames(send, Date.now());
  }

  /**
   * On the clock: releases the next held packet once it has waited the buffer's target (a
   * millisecond early at most, as ticks come in whole milliseconds). Returns the milliseconds
   * until the following one is due; when it is due already and not here, its arrival releases
   * it (pushCaller), so the clock does not poll for it.
   */
  releaseDue(nowMs: number, send: (frame: Buffer) => void): number {
    const jitter = this.jitter;
    const schedule = this.schedule;
    if (!jitter || schedule?.next === undefined) return FRAME_MS;
    if (this.takeIfDue(nowMs)) this.emitFrames(send, Date.now());
    const following = schedule.next;
    if (following === undefined) return FRAME_MS;
    const wait = Math.floor(schedule.dueAt(following, jitter.stats.targetMs) - nowMs);
    if (wait >= 1) return Math.min(FRAME_MS, wait);
    if (jitter.depthMs > 0) return 1;
    // Overdue and not here: its arrival releases it; the tick comes back when the packet after
    // it is due, so that one is not held past its time.
    return Math.min(FRAME_MS, Math.max(1, wait + jitter.packetDurationMs));
  }

  /** Takes the next packet (or conceals it, when later ones are here) if it is due at `nowMs`. */
  private takeIfDue(nowMs: number): boolean {
    const jitter = this.jitter!;
    const schedule = this.schedule;
    if (schedule?.next === undefined || jitter.depthMs <= 0) return false;
    if (nowMs < schedule.dueAt(schedule.next, jitter.stats.targetMs) - 1) return false;
    this.take(jitter.read());
    return true;
  }

  /**
   * On the clock: when the caller's stream has started and its next packet is overdue by more
   * than the buffer's target, conceal one frame, so the agent still gets 20 ms per 20 ms.
   */
  tickCaller(send: (frame: Buffer) => void): void {
    const jitter = this.jitter;
    const codec = this.codec;
    if (!jitter || !codec || !this.callerStarted) return;
    const now = Date.now();
    if (now - this.lastEmitAt < FRAME_MS + jitter.stats.targetMs + FRAME_MS) return;
    while (this.pendingLength < codec.frameSamples) {
      const read = jitter.read();
      if (read === 'empty') {
        this.conceal(codec.frameSamples - this.pendingLength);
        break;
      }
      this.take(read);
    }
    this.emitFrames(send, this.lastEmitAt + FRAME_MS);
  }

  /** A packet (decoded) or a lost one (concealed) into the pending audio. */
  private take(read: JitterPacket | 'lost' | 'empty'): void {
    if (read === 'empty') return;
    this.callerStarted = true;
    const ticks = (this.jitter!.packetDurationMs * this.codec!.clockRate) / 1000;
    this.schedule?.released(read === 'lost' ? 'lost' : read.timestamp, ticks);
    if (read !== 'lost') return this.decodeInto(read.payload);
    const next = this.codec!.recover ? this.jitter!.peek() : undefined;
    if (next) this.recover(next.payload);
    else this.conceal(this.codec!.frameSamples);
  }

  /** Every whole 20 ms of pending audio, as link-format bytes. */
  private emitFrames(send: (frame: Buffer) => void, at: number): void {
    const frame = this.codec?.frameSamples ?? Infinity;
    while (this.pendingLength >= frame) {
      send(this.linkBytesOf(this.pendingHead(frame)));
      this.pending.copyWithin(0, frame, this.pendingLength);
      this.pendingLength -= frame;
      this.lastEmitAt = at;
    }
  }

  /** The first `samples` of the pending audio: a view kept until the pending buffer changes. */
  private pendingHead(samples: number): Int16Array {
    const head = this.head;
    if (head.buffer === this.pending.buffer && head.length === samples) return head;
    return (this.head = this.pending.subarray(0, samples));
  }

  private linkBytesOf(pcm: Int16Array): Buffer {
    if (this.passThrough) {
      // The pending "samples" are the caller's G.711 bytes: one copy back into bytes.
      const bytes = Buffer.allocUnsafe(pcm.length);
      for (let i = 0; i < pcm.length; i++) bytes[i] = pcm[i];
      return bytes;
    }
    let linkPcm: Int16Array = pcm;
    if (this.toLink) {
      const needed = this.toLink.outputLength(pcm.length);
      if (this.linkOut.length < needed) this.linkOut = new Int16Array(needed);
      const out = this.linkOut.length === needed ? this.linkOut : this.linkOut.subarray(0, needed);
      linkPcm = this.toLink.process(pcm, out);
    }
    return this.toLinkBytes(linkPcm);
  }

  private decodeInto(payload: Buffer): void {
    const codec = this.codec!;
    this.concealedInRow = 0;
    if (this.decoded.length < payload.length * 2) this.decoded = new Int16Array(payload.length * 2);
    if (this.passThrough) {
      this.decoded.set(payload); // the G.711 bytes themselves, one per slot
      return this.append(this.decoded.subarray(0, payload.length));
    }
    const samples = codec.decode(payload, this.decoded);
    this.append(this.decoded.subarray(0, samples));
    if (samples >= this.lastFrame.length) {
      this.lastFrame.set(this.decoded.subarray(samples - this.lastFrame.length, samples));
    }
  }

  /** A lost packet rebuilt from the FEC of `next`, the packet after it (Codec.recover). */
  private recover(next: Buffer): void {
    const made = this.codec!.recover!(next, this.decoded);
    if (made === 0) return this.conceal(this.codec!.frameSamples);
    this.recoveredFrames++;
    this.concealedInRow = 0;
    this.append(this.decoded.subarray(0, made));
  }

  /** `samples` of concealment: the codec's PLC, the last frame fading, or silence. */
  private conceal(samples: number): void {
    const codec = this.codec!;
    this.concealedFrames++;
    const row = ++this.concealedInRow;
    const fill = this.decoded.subarray(0, samples);
    if (this.passThrough) {
      fill.fill(this.linkFormat === 'ulaw' ? 0xff : 0xd5); // the laws' silence codes
    } else if (codec.conceal && row <= MAX_PLC_FRAMES) {
      const made = codec.conceal(this.decoded);
      if (made >= samples) return this.append(this.decoded.subarray(0, made));
      fill.fill(0, made);
    } else if (row <= MAX_REPEATS) {
      const gain = 0.5 ** row;
      for (let i = 0; i < samples; i++) fill[i] = this.lastFrame[i % this.lastFrame.length] * gain;
    } else fill.fill(0);
    this.append(fill);
  }

  private append(samples: Int16Array): void {
    if (this.pending.length < this.pendingLength + samples.length) {
      const grown = new Int16Array((this.pendingLength + samples.length) * 2);
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(samples, this.pendingLength);
    this.pendingLength += samples.length;
  }

  private toLinkBytes(pcm: Int16Array): Buffer {
    if (this.linkFormat === 'ulaw' || this.linkFormat === 'alaw') {
      const out = Buffer.allocUnsafe(pcm.length);
      g711Encode(this.linkFormat, pcm, out);
      return out;
    }
    // slin is native little-endian Int16 (the process refuses big-endian hosts). Copied through
    // a byte view: into Buffer's pool, not a new ArrayBuffer per frame (4× the time, measured).
    const out = Buffer.allocUnsafe(pcm.byteLength);
    out.set(this.bytesOf(pcm));
    return out;
  }

  /** `pcm` as bytes; the view is kept while `pcm` is the same array (pendingHead, linkOut). */
  private bytesOf(pcm: Int16Array): Uint8Array {
    const bytes = this.pcmBytes;
    if (this.pcmBytesOf === pcm) return bytes;
    this.pcmBytesOf = pcm;
    return (this.pcmBytes = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  /** One 20 ms frame at the link rate (the agent side's), encoded into `out`; returns its length. */
  encode(linkPcm: Int16Array, out: Buffer): number {
    const codec = this.codec;
    if (!codec) return 0;
    const pcm = this.fromLink ? this.fromLink.process(linkPcm, this.resampled) : linkPcm;
    return codec.encode(pcm, out);
  }
}
