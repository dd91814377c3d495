/**
 * Audio waiting to be played to the caller, as 16-bit samples in a ring buffer, with the
 * agent's items and marks laid over it. The agent sends faster than real time; the call's tick on
 * the media clock takes one frame at a time. Bounded: what does not fit is dropped and counted.
 *
 * Positions are counted in samples since the call began: each item (one audio message from the
 * agent) covers a span, each mark sits at the position where the audio before it ends. A mark
 * is due once that position has been pulled for sending, never when it was queued; clear()
 * drops everything queued and says how much of each unfinished item was played.
 *
 * Latency trim: when a real-time stream underruns (its audio arrives a little late, after a
 * pull found the queue dry), everything after it plays later by that much, for good. Each such
 * underrun earns TRIM_CREDIT_FRAMES of trim; while the agent streams in real time (as much in
 * as out, over a second) and the queue never held less than a frame after a pull in that
 * second, one frame is skipped per second, as long as credit remains. So the delay telgate
 * added comes back out once the stream is calm, and a lead the agent keeps on purpose (it
 * never ran dry) or audio sent ahead of time (TTS bursts: far more in than out) is never
 * trimmed.
 */

export interface ClearedItem {
  item: number;
  durationMs: number;
  playedMs: number;
}

export interface ClearReport {
  /** Played of the audio queued since the queue was last empty (the current utterance). */
  playedMs: number;
  droppedMs: number;
  items: ClearedItem[];
  marks: string[];
}

interface Span {
  item: number;
  start: number;
  end: number;
}

/** Marks kept at most: an agent flooding marks gets the oldest reported as cleared. */
const MAX_MARKS = 1000;
/** Pulls (20 ms each) over which the latency trim judges the stream. */
const TRIM_WINDOW_PULLS = 50;
/** Frames of trim earned by one underrun: the late audio's delay, a frame or a little more. */
const TRIM_CREDIT_FRAMES = 2;
const MAX_TRIM_CREDIT = 10;

export class PlayoutQueue {
  private readonly ring: Int16Array;
  private head = 0;
  private length = 0;
  /** Samples ever queued and ever pulled as audio. */
  private queuedTotal = 0;
  private playedTotal = 0;
  private utteranceStart = 0;
  private items: Span[] = [];
  private marks: Array<{ name: string; at: number }> = [];
  private nextItem = 1;
  droppedSamples = 0;
  underruns = 0;
  /** Samples skipped to bring a real-time stream's delay down. */
  trimmedSamples = 0;
  private windowPulls = 0;
  private windowMin = Infinity;
  private windowIn = 0;
  private windowOut = 0;
  /** Pulls in a row that found less than a frame (idle since ever, at first), and the trim earned. */
  private starvedPulls = Infinity;
  private trimCredit = 0;

  constructor(
    capacitySamples: number,
    private readonly sampleRate = 8000,
  ) {
    this.ring = new Int16Array(capacitySamples);
  }

  get queuedSamples(): number {
    return this.length;
  }

  /** Appends little-endian 16-bit PCM bytes as one item (an odd trailing byte is ignored). */
  pushPcm16le(bytes: Buffer): void {
    const samples = bytes.length >> 1;
    const room = this.ring.length - this.length;
    const take = Math.min(samples, room);
    this.droppedSamples += samples - take;
    if (take === 0) return;
    if (this.length === 0) {
      this.utteranceStart = this.playedTotal;
      // Audio into a queue that ran dry a pull or two ago: late audio of a running stream.
      if (this.starvedPulls >= 1 && this.starvedPulls <= 2) {
        this.trimCredit = Math.min(MAX_TRIM_CREDIT, this.trimCredit + TRIM_CREDIT_FRAMES);
      }
    }
    let tail = (this.head + this.length) % this.ring.length;
    const first = Math.min(take, this.ring.length - tail);
    if (bytes.byteOffset % 2 === 0) {
      const view = new Int16Array(bytes.buffer, bytes.byteOffset, take);
      this.ring.set(view.subarray(0, first), tail);
      this.ring.set(view.subarray(first), 0);
    } else {
      for (let i = 0; i < take; i++) {
        this.ring[tail] = bytes.readInt16LE(i << 1);
        if (++tail === this.ring.length) tail = 0;
      }
    }
    this.items.push({
      item: this.nextItem++,
      start: this.queuedTotal,
      end: this.queuedTotal + take,
    });
    this.length += take;
    this.queuedTotal += take;
    this.windowIn += take;
  }

  /** A mark after everything queued so far. */
  mark(name: string): void {
    if (this.marks.length >= MAX_MARKS) this.marks.shift();
    this.marks.push({ name, at: this.queuedTotal });
  }

  /**
   * Fills `out` from the queue, padding with silence on underrun; returns the samples that
   * were audio. Marks whose audio has now been pulled are passed to `onMark`, in order.
   */
  pull(out: Int16Array, onMark?: (name: string) => void): number {
    const take = Math.min(out.length, this.length);
    const first = Math.min(take, this.ring.length - this.head);
    out.set(this.ring.subarray(this.head, this.head + first));
    if (take > first) out.set(this.ring.subarray(0, take - first), first);
    this.head = (this.head + take) % this.ring.length;
    this.length -= take;
    this.playedTotal += take;
    if (take < out.length) {
      out.fill(0, take);
      if (take === 0) this.underruns++;
      this.starvedPulls++;
    } else this.starvedPulls = 0;
    this.judgeDelay(out.length, take);
    while (this.items.length && this.items[0].end <= this.playedTotal) this.items.shift();
    while (this.marks.length && this.marks[0].at <= this.playedTotal) {
      onMark?.(this.marks.shift()!.name);
    }
    return take;
  }

  /** The latency trim (see the module comment); `frame` samples skipped at most per window. */
  private judgeDelay(frame: number, pulled: number): void {
    this.windowMin = Math.min(this.windowMin, this.length);
    this.windowOut += pulled;
    if (++this.windowPulls < TRIM_WINDOW_PULLS) return;
    const realTime =
      this.windowOut > 0 && Math.abs(this.windowIn - this.windowOut) <= this.windowOut / 10;
    if (realTime && this.windowMin >= frame && this.trimCredit > 0) {
      this.trimCredit--;
      const skip = Math.min(frame, this.length);
      this.head = (this.head + skip) % this.ring.length;
      this.length -= skip;
      this.playedTotal += skip; // skipped audio counts as gone by, for items and marks
      this.trimmedSamples += skip;
    }
    this.windowPulls = 0;
    this.windowMin = Infinity;
    this.windowIn = 0;
    this.windowOut = 0;
  }

  /** Drops everything queued (barge-in) and reports what was played of it. */
  clear(): ClearReport {
    const ms = (samples: number) => Math.round((samples * 1000) / this.sampleRate);
    const report: ClearReport = {
      playedMs: ms(this.length || this.items.length ? this.playedTotal - this.utteranceStart : 0),
      droppedMs: ms(this.length),
      items: this.items.map((span) => ({
        item: span.item,
        durationMs: ms(span.end - span.start),
        playedMs: ms(Math.max(0, this.playedTotal - span.start)),
      })),
      marks: this.marks.map((m) => m.name),
    };
    this.head = 0;
    this.length = 0;
    this.items = [];
    this.marks = [];
    this.starvedPulls = Infinity; // what comes next is a new utterance, not late audio
    // What was queued and not played never will be: positions continue from what was played.
    this.queuedTotal = this.playedTotal;
    return report;
  }
}
