/**
 * The agent side's audio for the caller, in the link format and at the link rate: what the agent
 * sent waits in a playout queue (marks, clear) and leaves one 20 ms frame at a time on the
 * caller leg's tick, whatever kind of leg that is. The pacer decides when: talkspurts aligned to
 * the agent's own pace, a late frame's slot held open briefly (PlayoutPacer). During early media
 * the frames are a ringback tone instead.
 *
 * The leg only pulls frames (`next`) and asks the pacer's questions; it never sees the agent.
 */
import { g711Decode } from '../codecs/g711.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../link/protocol.js';
import { PlayoutPacer } from '../media/playout-pacer.js';
import { PlayoutQueue } from '../media/playout-queue.js';
import { Ringback } from '../media/ringback.js';

export interface AgentPlayoutOptions {
  linkFormat: LinkFormat;
  playoutMaxSeconds: number;
  /**
   * How long the agent's first audio after silence waits before it is sent, so a stream that
   * arrives in real time with some jitter plays without gaps; 0 sends it on the next tick.
   */
  playoutDelayMs: number;
}

export class AgentPlayout {
  readonly linkRate: number;
  readonly linkFormat: LinkFormat;
  readonly queue: PlayoutQueue;
  /** When the agent's audio leaves for the caller. */
  readonly pacer: PlayoutPacer;
  /** Early media: the caller hears ringback instead of the (not yet connected) agent. */
  ringback = false;
  /** Whether the last frame pulled had none of the agent's audio (and no ringback either). */
  silentFrame = false;
  /** Told of each mark once the audio before it has been taken for the caller. */
  onMark: ((name: string) => void) | undefined;
  private ringbackTone: Ringback | undefined;
  /** The frame handed to the leg on each pull, reused. */
  private readonly frame: Int16Array;
  /** The agent's G.711 frame decoded, on its way into the queue. */
  private agentPcm = new Int16Array(0);

  constructor(options: AgentPlayoutOptions) {
    this.linkFormat = options.linkFormat;
    this.linkRate = LINK_FORMAT_RATE[options.linkFormat];
    this.queue = new PlayoutQueue(
      Math.round(options.playoutMaxSeconds * this.linkRate),
      this.linkRate,
    );
    this.frame = new Int16Array(this.linkRate / 50);
    this.pacer = new PlayoutPacer(this.queue, options.playoutDelayMs, this.frame.length);
  }

  /** Audio from the agent, in the link format, queued for the caller; `nowMs` on the clock. */
  push(frame: Buffer, nowMs = 0): void {
    this.pacer.onAudio(nowMs);
    if (this.linkFormat === 'ulaw' || this.linkFormat === 'alaw') {
      // Decoded into a scratch buffer the queue copies from: no allocation per frame.
      if (this.agentPcm.length < frame.length) this.agentPcm = new Int16Array(frame.length);
      const pcm = this.agentPcm.subarray(0, frame.length);
      g711Decode(this.linkFormat, frame, pcm);
      this.queue.pushPcm16le(Buffer.from(pcm.buffer, 0, pcm.byteLength), nowMs);
    } else this.queue.pushPcm16le(frame, nowMs);
  }

  /** Milliseconds until the agent's new talkspurt may start at tick `atMs` (PlayoutPacer). */
  talkspurtWaitMs(atMs: number): number {
    return this.ringback ? 0 : this.pacer.talkspurtWaitMs(atMs);
  }

  /**
   * Whether to hold the slot of tick `atMs` open for the agent's late audio, at real time
   * `nowMs` (PlayoutPacer).
   */
  holdForLateAudio(atMs: number, nowMs = atMs): boolean {
    return !this.ringback && this.pacer.holdForLateAudio(atMs, nowMs);
  }

  /**
   * The next 20 ms for the caller at the link rate (silence when nothing is queued); marks whose
   * audio is now taken are told to `onMark`. The frame is reused by the next pull.
   */
  next(nowMs = 0): Int16Array {
    if (this.ringback) {
      this.ringbackTone ??= new Ringback(this.linkRate);
      this.ringbackTone.fill(this.frame);
      this.silentFrame = false;
      return this.frame;
    }
    const pulled = this.queue.pull(this.frame, this.onMark, nowMs);
    this.pacer.onPulled(pulled);
    this.silentFrame = pulled === 0;
    return this.frame;
  }

  /** After a frame went out at `atMs`: milliseconds to the next tick (PlayoutPacer). */
  nextTickMs(atMs: number, periodMs: number): number {
    return this.pacer.nextTickMs(atMs, periodMs);
  }
}
