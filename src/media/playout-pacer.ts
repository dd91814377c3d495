/**
 * When the agent's audio leaves for the caller: the pacing laid over one call's playout queue
 * and its tick on the media clock.
 *
 * Talkspurt: the first audio after silence leaves `delayMs` after it arrived (the tick is
 * postponed to then; the RTP timestamp counts the pause). Running stream: the agent's earliest
 * audio should wait `delayMs` and no longer, so audio up to that much later than the earliest
 * is still in time. Every window of pulls (see PlayoutQueue.takeWaits) tells how long audio
 * waited: a frame or more too long, and even the latest audio a frame early, and whole frames
 * are skipped at once (one short glitch, as a jitter buffer bringing its delay down makes;
 * whole frames stay aligned with the agent's own); less, and the tick moves up to MAX_STEP_MS
 * sooner (never more than the latest audio had to spare) or later, with the next verdict after
 * 100 ms while the delay is off by more, and by FINE_STEP_MS once it is within that. RTP
 * timestamps do not move on a step, so a receiver sees a little jitter and no glitch.
 * Underruns, stalls and a slow start all leave audio waiting longer than it needs to, for good:
 * this is what brings it back.
 *
 * Late audio: when the stream is playing and its next frame is not here at its slot, the slot
 * is held open up to LATE_AUDIO_GRACE_MS of real time (the tick asks again every millisecond),
 * then the frame goes at once and the next tick comes back to the stream's phase; only after
 * that does silence take its place. The grace counts from when the hold began, not from the
 * slot: after a stall of the thread the clock runs the missed ticks before the sockets are read,
 * and the audio that is late only because it is still unread must not be given up for silence
 * (a silent frame in its place leaves the stream a frame behind, which a later verdict then
 * skips: two frames lost for one late one). A hold longer than a frame finds the stream's next
 * slot passed too: that frame goes straight after, on its own slot, so the stream keeps its
 * phase rather than playing a frame behind.
 */
import type { PlayoutQueue } from './playout-queue.js';

const FRAME_MS = 20;
/**
 * How long a frame of the agent's running stream is waited for, from when its slot's tick first
 * found it missing, before silence takes its place (after which everything later would play a
 * frame later). 10 ms lost frames at 200 calls on a busy 2-vCPU host, where a call worker can
 * wait that long for a core; 30 did not (bench/README.md).
 */
const LATE_AUDIO_GRACE_MS = 30;
/** The most a caller's tick moves at once to follow the agent's stream, while bringing it in. */
const MAX_STEP_MS = 2;
/**
 * The step once the delay is within MAX_STEP_MS: a stream's own jitter keeps nudging the
 * verdict by a millisecond or two, and each step is a gap that far off 20 ms on the wire.
 */
const FINE_STEP_MS = 1;
/** Pulls to the next verdict while the stream's delay is still being brought in. */
const CONVERGING_WINDOW_PULLS = 5;

export class PlayoutPacer {
  /** Whether the caller hears silence: the queue ran dry (or nothing came yet). */
  private idle = true;
  /** When (clock ms) the first audio of the current talkspurt may be sent. */
  private talkspurtAt = 0;
  /**
   * The slot (clock ms) of the next frame when it is not the tick's own: one held open for the
   * agent's late audio, or one whose slot passed while the frame before it was held.
   */
  private graceSlot: number | undefined;
  /** When (clock ms, real time) the hold of the current slot began. */
  private graceSince: number | undefined;

  constructor(
    private readonly queue: PlayoutQueue,
    private readonly delayMs: number,
    /** Samples in one frame, at the queue's rate. */
    private readonly frameSamples: number,
  ) {}

  /** Audio arrives from the agent at `nowMs`, before it is queued. */
  onAudio(nowMs: number): void {
    if (!this.idle || this.queue.queuedSamples > 0) return;
    this.talkspurtAt = nowMs + this.delayMs;
    this.queue.newStream();
  }

  /** A frame was pulled for the caller, `pulled` samples of it audio. */
  onPulled(pulled: number): void {
    this.idle = pulled < this.frameSamples;
  }

  /** Milliseconds until a new talkspurt may start at tick `atMs`; 0 when the tick sends. */
  talkspurtWaitMs(atMs: number): number {
    if (!this.idle || this.queue.queuedSamples === 0) return 0;
    const wait = this.talkspurtAt - atMs;
    return wait >= 1 ? wait : 0;
  }

  /**
   * Whether to hold the slot of tick `atMs` open (ask again in 1 ms, or after `nowMs` when the
   * tick runs late) for late audio; `nowMs` is the clock's real time.
   */
  holdForLateAudio(atMs: number, nowMs = atMs): boolean {
    if (this.idle || this.queue.queuedSamples >= this.frameSamples) return false;
    this.graceSlot ??= atMs;
    this.graceSince ??= nowMs;
    return nowMs - this.graceSince < LATE_AUDIO_GRACE_MS;
  }

  /** After a frame went out at `atMs`: milliseconds to the next tick, on the stream's phase. */
  nextTickMs(atMs: number, periodMs: number): number {
    const slot = this.graceSlot ?? atMs;
    this.graceSlot = this.graceSince = undefined;
    let next = slot + periodMs - this.phaseStepMs();
    if (next <= atMs) {
      // Held past the next slot as well: a playing stream's next frame goes at once, on that
      // slot; a stopped one (silence now) just comes back to its phase.
      if (!this.idle) {
        this.graceSlot = next;
        return 1;
      }
      next += Math.ceil((atMs + 1 - next) / periodMs) * periodMs;
    }
    return next - atMs;
  }

  /** The verdict on the last window's waits: frames skipped, or the tick's step (+ sooner). */
  phaseStepMs(): number {
    const waits = this.queue.takeWaits();
    if (!waits) return 0;
    const excess = waits.maxMs - this.delayMs;
    const frames = Math.floor((Math.min(excess, waits.minMs) - 1) / FRAME_MS);
    if (frames > 0) {
      this.queue.skip(frames * this.frameSamples);
      this.queue.nextWindow(CONVERGING_WINDOW_PULLS);
      return 0;
    }
    const room = excess > 0 ? Math.min(excess, waits.minMs) : excess;
    const converging = Math.abs(room) > MAX_STEP_MS;
    if (converging) this.queue.nextWindow(CONVERGING_WINDOW_PULLS);
    const most = converging ? MAX_STEP_MS : FINE_STEP_MS;
    return Math.sign(room) * Math.min(most, Math.floor(Math.abs(room)));
  }
}
