/**
 * A call's caller leg: whatever carries the caller's audio (an RTP stream from a SIP dialog;
 * provider media streams and WebRTC are further kinds). A leg turns its wire into link-format
 * frames for the agent side and the agent side's playout into its wire, on its own clock, and
 * reports DTMF, loss and when the caller was last heard. The agent side (link, playout, marks,
 * clear, DTMF to the agent, quality reports) never knows which kind of leg it has.
 */
import type { CallQuality } from '../link/protocol.js';
import type { ReceivedDigit } from '../media/dtmf.js';
import type { AgentPlayout } from './agent-playout.js';

/** What a leg reports of the caller's stream (the link's own drops are the agent side's). */
export type LegQuality = Omit<CallQuality, 'framesDroppedToAgent'>;

/** A leg's quality with nothing heard, lost or buffered. */
export const NO_LEG_QUALITY: LegQuality = {
  packetsReceived: 0,
  packetsLost: 0,
  lossPercent: 0,
  jitterMs: 0,
  late: 0,
  concealedMs: 0,
  recoveredMs: 0,
  jitterBufferMs: 0,
};

/** The quality of a stream nothing has been heard on yet. */
export const NO_QUALITY: CallQuality = { ...NO_LEG_QUALITY, framesDroppedToAgent: 0 };

/** The agent side as a leg sees it. */
export interface LegPeer {
  /** The caller's audio: one link-format frame (the leg's buffer is not reused after). */
  fromCaller(frame: Buffer): void;
  /** A digit the caller sent. */
  onDtmf(digit: ReceivedDigit): void;
  /** Once a second of the leg's clock while it runs: the call's timers and reports. */
  onSecond(): void;
  /** Where the leg takes the caller's next 20 ms from, paced on its own clock. */
  readonly playout: AgentPlayout;
  /** A mark the leg passed on (forwardMark) is done: played out by the far end, or cleared. */
  onMarkDone(name: string, status: 'played' | 'cleared'): void;
}

export interface CallerLeg {
  /** Starts the leg's clock: the caller hears the peer's playout (ringback, then the agent). */
  start(): void;
  /** The agent cleared its playout: a leg whose far end buffers audio drops it there too. */
  clear?(): void;
  /**
   * A mark whose audio has just been taken for the caller: a leg whose far end plays audio out
   * itself passes it on and reports it through onMarkDone (true); false, and it counts as
   * played now.
   */
  forwardMark?(name: string): boolean;
  /** Sends digits to the caller; false when the leg cannot (no telephone-event negotiated). */
  sendDtmf(digits: string, durationMs: number): boolean;
  /** The caller's codec as `PCMU/8000`, once negotiated. */
  readonly codec: string | undefined;
  /** The conversion chain, e.g. `PCMU/8000 → slin16, resample 8000→16000`. */
  describe(): string;
  /** Milliseconds since the caller was last heard at `now` (a held call counts as heard). */
  silentForMs(now: number): number;
  quality(): LegQuality;
  /** What the leg moved, for the call's last log line. */
  counters(): object | undefined;
  /** Stops the clock and frees the leg's wire; idempotent. */
  close(): void;
}
