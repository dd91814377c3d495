/**
 * Audio waiting to be played to the caller, as 16-bit samples in a ring buffer, with the
 * agent's items and marks laid over it. The agent sends faster than real time; the call's tick on
 * the media clock takes one frame at a time. Bounded: what does not fit is dropped and counted.
 * The ring starts at INITIAL_SECONDS and doubles as the agent queues more, up to the bound: a
 * minute of 24 kHz audio is 2.9 MB, which most calls never need and 300 calls cannot all hold.
 *
 * Positions are counted in samples since the call began: each item (one audio message from the
 * agent) covers a span, each mark sits at the position where the audio before it ends. A mark
 * is due once that position has been pulled for sending, never when it was queued; clear()
 * drops everything queued and says how much of each unfinished item was played.
 *
 * Waiting time: each item remembers when it arrived; a full pull notes how long the audio that
 * completed the frame waited. When half a second of pulls was a real-time stream (as much in as
 * out), its shortest and longest waits are reported once (takeWaits): audio the agent sends
 * ahead of time (TTS bursts: far more in than out) is the agent's choice and is never judged.
 * The caller's side uses the report to keep the stream's delay where it should be (skip(),
 * phase steps).
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

/** How long the audio of a window of pulls waited, at least and at most. */
export interface Waits {
  minMs: number;
  maxMs: number;
}

interface Span {
  item: number;
  start: number;
  end: number;
  /** When it arrived (the caller's clock, ms). */
  arrivedAt: number;
}

/**
 * The ring's first size; it grows (doubling) up to the queue's capacity. Half a second holds a
 * streaming agent's lead; a faster-than-real-time one grows it once or twice.
 */
const INITIAL_SECONDS = 0.5;
/** Marks kept at most: an agent flooding marks gets the oldest reported as cleared. */
const MAX_MARKS = 1000;
/** Pulls (20 ms each) over which the waits of a stream are judged. */
const WINDOW_PULLS = 25;
/** The first window of a new stream is shorter: a bad start is seen (and mended) early. */
const FIRST_WINDOW_PULLS = 10;

export class PlayoutQueue {
  private ring: Int16Array;
  /** The ring's memory as bytes (native little-endian, as the agent's PCM is). */
  private ringBytes: Uint8Array;
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
  private windowLength = WINDOW_PULLS;
  private windowIn = 0;
  private windowOut = 0;
  private windowMinWait = Infinity;
  private windowMaxWait = -Infinity;
  private waits: Waits | undefined;

  constructor(
    private readonly capacitySamples: number,
    private readonly sampleRate = 8000,
  ) {
    this.ring = new Int16Array(Math.min(capacitySamples, sampleRate * INITIAL_SECONDS));
    this.ringBytes = new Uint8Array(this.ring.buffer);
  }

  /** Samples the ring holds now (it grows up to the capacity). */
  get allocatedSamples(): number {
    return this.ring.length;
  }

  get queuedSamples(): number {
    return this.length;
  }

  /**
   * Appends little-endian 16-bit PCM bytes as one item (an odd trailing byte is ignored),
   * arrived at `nowMs`.
   */
  pushPcm16le(bytes: Buffer, nowMs = 0): void {
    const samples = bytes.length >> 1;
    if (this.length + samples > this.ring.length) this.grow(this.length + samples);
    const room = this.ring.length - this.length;
    const take = Math.min(samples, room);
    this.droppedSamples += samples - take;
    if (take === 0) return;
    if (this.length === 0) this.utteranceStart = this.playedTotal;
    let tail = (this.head + this.length) % this.ring.length;
    const first = Math.min(take, this.ring.length - tail);
    if (first === take && take << 1 === bytes.length) {
      // The usual frame: whole, and not across the ring's end. Copied as bytes: no view to make.
      this.ringBytes.set(bytes, tail << 1);
    } else if (bytes.byteOffset % 2 === 0) {
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
      arrivedAt: nowMs,
    });
    this.length += take;
    this.queuedTotal += take;
    this.windowIn += take;
  }

  /** A larger ring (doubling, up to the capacity), the queued audio moved to its start. */
  private grow(needed: number): void {
    let size = this.ring.length;
    while (size < needed && size < this.capacitySamples) size *= 2;
    size = Math.min(size, this.capacitySamples);
    if (size === this.ring.length) return;
    const next = new Int16Array(size);
    const first = Math.min(this.length, this.ring.length - this.head);
    next.set(this.ring.subarray(this.head, this.head + first));
    next.set(this.ring.subarray(0, this.length - first), first);
    this.ring = next;
    this.ringBytes = new Uint8Array(next.buffer);
    this.head = 0;
  }

  /**
   * The shortest and longest waits of the window just judged, once, when it was a real-time
   * stream; undefined otherwise.
   */
  takeWaits(): Waits | undefined {
    const waits = this.waits;
    this.waits = undefined;
    return waits;
  }

  /** A mark after everything queued so far. */
  mark(name: string): void {
    if (this.marks.length >= MAX_MARKS) this.marks.shift();
    this.marks.push({ name, at: this.queuedTotal });
  }

  /**
   * Fills `out` from the queue, padding with silence on underrun; returns the samples that
   * were audio. Marks whose audio has now been pulled are passed to `onMark`, in order; `nowMs`
   * (the clock of pushPcm16le) times the wait.
   */
  pull(out: Int16Array, onMark?: (name: string) => void, nowMs = 0): number {
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
    } else {
      // The item holding the frame's last sample (the first not yet over): its wait is the frame's.
      let i = 0;
      while (i < this.items.length && this.items[i].end < this.playedTotal) i++;
      if (i < this.items.length) this.noteWait(nowMs - this.items[i].arrivedAt);
    }
    this.judgeWindow(take, out.length);
    while (this.items.length && this.items[0].end <= this.playedTotal) this.items.shift();
    while (this.marks.length && this.marks[0].at <= this.playedTotal) {
      onMark?.(this.marks.shift()!.name);
    }
    return take;
  }

  private noteWait(ms: number): void {
    this.windowMinWait = Math.min(this.windowMinWait, ms);
    this.windowMaxWait = Math.max(this.windowMaxWait, ms);
  }

  /** Closes a window of pulls: its shortest wait is reported if it was a real-time stream. */
  private judgeWindow(pulled: number, frame: number): void {
    this.windowOut += pulled;
    if (++this.windowPulls < this.windowLength) return;
    this.windowLength = WINDOW_PULLS;
    // As much in as out: within a tenth, or two frames in a short window (arrivals and pulls
    // need not line up).
    const slack = Math.max(this.windowOut / 10, 2 * frame);
    const realTime = this.windowOut > 0 && Math.abs(this.windowIn - this.windowOut) <= slack;
    const judged = realTime && this.windowMinWait < Infinity;
    this.waits = judged ? { minMs: this.windowMinWait, maxMs: this.windowMaxWait } : undefined;
    this.resetWindow();
  }

  private resetWindow(): void {
    this.windowPulls = 0;
    this.windowIn = 0;
    this.windowOut = 0;
    this.windowMinWait = Infinity;
    this.windowMaxWait = -Infinity;
  }

  /** Starts a new window of judgement, a short one: a new stream starts. */
  newStream(): void {
    this.resetWindow();
    this.nextWindow(FIRST_WINDOW_PULLS);
  }

  /** The current window ends after `pulls` pulls (the next ones are of the usual length). */
  nextWindow(pulls: number): void {
    this.windowLength = pulls;
  }

  /** Skips up to `samples` of queued audio (delay the stream does not need); returns how many. */
  skip(samples: number): number {
    const skipped = Math.min(samples, this.length);
    this.head = (this.head + skipped) % this.ring.length;
    this.length -= skipped;
    this.playedTotal += skipped; // skipped audio counts as gone by, for items and marks
    this.trimmedSamples += skipped;
    return skipped;
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
    // What was queued and not played never will be: positions continue from what was played.
    this.queuedTotal = this.playedTotal;
    return report;
  }
}
