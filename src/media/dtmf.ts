/**
 * RFC 4733 telephone-event, both ways. A packet's 4 bytes: event (0–15 are 0–9 * # A–D), the
 * end bit, volume, and the duration so far in RTP clock ticks; every packet of one event
 * carries the event's start timestamp.
 *   in:  an event is reported once, when its first end packet arrives (the two redundant end
 *        packets that follow are recognised by their timestamp), or when the next event starts
 *        and the end of this one was lost;
 *   out: one packet per 20 ms frame while the digit lasts, the first with the marker bit, then
 *        the end packet three times, then a pause before the next digit.
 */

export const DTMF_EVENTS = '0123456789*#ABCD';

export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

export function writeTelephoneEvent(out: Buffer, event: TelephoneEvent): void {
  out[0] = event.event;
  out[1] = (event.end ? 0x80 : 0) | (event.volume & 0x3f);
  out.writeUInt16BE(Math.min(0xffff, event.duration), 2);
}

export interface ReceivedDigit {
  digit: string;
  durationMs: number;
}

export class DtmfReceiver {
  private current: { timestamp: number; event: number; duration: number } | undefined;
  private lastReported = -1;

  constructor(
    readonly clockRate: number,
    private readonly onDigit: (digit: ReceivedDigit) => void,
  ) {}

  onPacket(timestamp: number, payload: Buffer): void {
    const event = parseTelephoneEvent(payload);
    if (!event || event.event >= DTMF_EVENTS.length) return; // flash and others: not digits
    if (timestamp === this.lastReported) return; // a redundant end packet
    if (this.current && this.current.timestamp !== timestamp) this.report(); // its end was lost
    this.current = { timestamp, event: event.event, duration: event.duration };
    if (event.end) this.report();
  }

  private report(): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    this.lastReported = current.timestamp;
    this.onDigit({
      digit: DTMF_EVENTS[current.event],
      durationMs: Math.round((current.duration * 1000) / this.clockRate),
    });
  }
}

/** Frames of pause between two digits sent. */
const GAP_FRAMES = 3;
const END_REPEATS = 3;
/** −10 dBm0, a usual sending level. */
const VOLUME = 10;

export interface EventFrame {
  payload: Buffer;
  marker: boolean;
  /** True for the first packet of an event: its timestamp becomes the event's. */
  starts: boolean;
}

export class DtmfSender {
  private readonly queue: Array<{ event: number; frames: number }> = [];
  private current: { event: number; frames: number; sent: number; ends: number } | undefined;
  private gap = 0;
  private readonly payload = Buffer.alloc(4);

  constructor(private readonly ticksPerFrame: number) {}

  get busy(): boolean {
    return this.current !== undefined || this.queue.length > 0;
  }

  /** Queues digits (0–9 * # A–D), each lasting `durationMs` (rounded to whole frames). */
  send(digits: string, durationMs: number): void {
    const frames = Math.max(2, Math.round(durationMs / 20));
    for (const digit of digits.toUpperCase()) {
      const event = DTMF_EVENTS.indexOf(digit);
      if (event >= 0) this.queue.push({ event, frames });
    }
  }

  /** The event packet for this frame, or undefined when the frame is audio. */
  next(): EventFrame | undefined {
    if (!this.current) {
      if (this.gap > 0) {
        this.gap--;
        return undefined;
      }
      const queued = this.queue.shift();
      if (!queued) return undefined;
      this.current = { ...queued, sent: 0, ends: 0 };
    }
    const c = this.current;
    const starts = c.sent === 0;
    const end = c.sent + 1 >= c.frames;
    if (!end) c.sent++;
    else c.ends++;
    writeTelephoneEvent(this.payload, {
      event: c.event,
      end,
      volume: VOLUME,
      duration: Math.min(c.sent + (end ? 1 : 0), c.frames) * this.ticksPerFrame,
    });
    if (c.ends >= END_REPEATS) {
      this.current = undefined;
      this.gap = GAP_FRAMES;
    }
    return { payload: this.payload, marker: starts, starts };
  }

  clear(): void {
    this.queue.length = 0;
    this.current = undefined;
  }
}
