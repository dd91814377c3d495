/**
 * Adaptive jitter buffer for the caller's RTP, read as packets arrive, and on the call's tick
 * when one is overdue.
 *
 * Packets are held by extended sequence number (RFC 3550 A.1: the 16-bit number unwrapped
 * against the highest seen), so reordering, duplicates and the 65535 → 0 wrap need no special
 * case. Play-out starts once `targetMs` of audio is held. Each read gives the next packet in
 * order, or `lost` when it is missing while later ones are here (the reader conceals it), or
 * `empty` when nothing is held: an underrun, after which the buffer refills to a target one
 * packet larger (up to maxMs); a packet that arrives after its turn raises the target too. A
 * buffer that stays more than two packets above its target for a second drops half its excess,
 * oldest first, and a second without underrun lowers the target again: delay follows the
 * network's jitter both ways. A new SSRC, a marker bit after an underrun (a new talkspurt), or a
 * jump of more than MAX_JUMP packets start the stream over.
 *
 * Packets live in a ring of slots indexed by sequence number, sized for the largest delay at the
 * shortest packet time, each slot keeping its payload storage: a packet costs one copy and no
 * allocation. A packet further ahead than the ring reaches moves the stream on: what lies
 * before it is dropped rather than concealed one packet at a time in a burst.
 */

export interface JitterPacket {
  /** Extended (unwrapped) sequence number. */
  readonly sequence: number;
  readonly timestamp: number;
  readonly marker: boolean;
  /** A copy of the payload (the datagram's buffer is not kept), valid until the next push. */
  readonly payload: Buffer;
}

/** One place of the ring; `payload` is a view of `storage`, remade only when the size changes. */
interface Slot {
  held: boolean;
  sequence: number;
  timestamp: number;
  marker: boolean;
  storage: Buffer;
  payload: Buffer;
}

export type JitterRead = JitterPacket | 'lost' | 'empty';

export interface JitterBufferOptions {
  /** Lowest and highest target delay. */
  minMs: number;
  maxMs: number;
  /** Duration of one packet until the stream shows otherwise. */
  packetMs?: number;
  /** RTP clock rate, to learn the packet duration from timestamps. */
  clockRate: number;
}

export interface JitterStats {
  received: number;
  played: number;
  lost: number;
  late: number;
  duplicates: number;
  /** Packets dropped to bring the delay down, or because the buffer was full. */
  dropped: number;
  underruns: number;
  resets: number;
  targetMs: number;
  depthMs: number;
}

/** A jump of more packets than this is a restarted stream, not loss. */
const MAX_JUMP = 500;
/** Reads (packet times) over which the delay is judged too high or stable. */
const WINDOW_READS = 50;
/** The shortest packet time the ring is sized for. */
const SHORTEST_PACKET_MS = 10;

function slotsFor(maxMs: number): number {
  const needed = Math.ceil(maxMs / SHORTEST_PACKET_MS) + 3;
  let slots = 8;
  while (slots < needed) slots *= 2;
  return slots;
}

export class JitterBuffer {
  private readonly slots: Slot[];
  private readonly mask: number;
  /** Packets held. */
  private count = 0;
  private ssrc: number | undefined;
  private highest = -1;
  private next = -1;
  private playing = false;
  /** Whether a packet has been played since the stream (re)started. */
  private begun = false;
  private packetMs: number;
  private targetMs: number;
  private lastTimestamp = -1;
  private lastSequence = -1;
  /** Lowest depth seen in the current window, and reads since the last underrun. */
  private windowMinMs = Infinity;
  private windowReads = 0;
  private readsSinceUnderrun = 0;
  readonly stats: JitterStats;

  constructor(private readonly options: JitterBufferOptions) {
    if (!(options.minMs > 0 && options.maxMs >= options.minMs)) {
      throw new RangeError(
        `jitter buffer needs 0 < minMs ≤ maxMs, got ${options.minMs}–${options.maxMs}`,
      );
    }
    const slots = slotsFor(options.maxMs);
    this.mask = slots - 1;
    const empty = Buffer.alloc(0);
    this.slots = Array.from({ length: slots }, () => ({
      held: false,
      sequence: -1,
      timestamp: 0,
      marker: false,
      storage: empty,
      payload: empty,
    }));
    this.packetMs = options.packetMs ?? 20;
    this.targetMs = options.minMs;
    this.stats = {
      received: 0,
      played: 0,
      lost: 0,
      late: 0,
      duplicates: 0,
      dropped: 0,
      underruns: 0,
      resets: 0,
      targetMs: this.targetMs,
      depthMs: 0,
    };
  }

  get depthMs(): number {
    return this.count * this.packetMs;
  }

  /** Duration of one packet, as the stream's timestamps show it. */
  get packetDurationMs(): number {
    return this.packetMs;
  }

  /** Takes one packet; `payload` is copied. */
  push(
    ssrc: number,
    sequence16: number,
    timestamp: number,
    marker: boolean,
    payload: Buffer,
  ): void {
    this.stats.received++;
    if (this.ssrc !== ssrc) {
      if (this.ssrc !== undefined) this.restart();
      this.ssrc = ssrc;
    }
    let sequence = this.extend(sequence16);
    if (this.next >= 0 && Math.abs(sequence - this.next) > MAX_JUMP) {
      this.restart();
      sequence = this.extend(sequence16);
    }
    // After an underrun, a marker starts a new talkspurt: what was missing was silence.
    if (marker && !this.playing && this.count === 0 && this.next >= 0) this.next = sequence;
    if (this.next >= 0 && sequence < this.next) {
      // Before play-out begins, an earlier packet simply becomes the first.
      if (this.begun) {
        // Played around (concealed) already: the delay was too short for this network.
        this.stats.late++;
        this.readsSinceUnderrun = 0;
        this.setTarget(this.targetMs + this.packetMs);
        return;
      }
      if (this.highest - sequence > this.mask) {
        this.stats.dropped++; // too far behind what is held to share the ring with it
        return;
      }
      this.next = sequence;
    }
    const slot = this.slots[sequence & this.mask];
    if (slot.held && slot.sequence === sequence) {
      this.stats.duplicates++;
      return;
    }
    this.learnPacketTime(sequence, timestamp);
    if (sequence > this.highest) this.highest = sequence;
    if (this.next < 0) this.next = sequence;
    if (sequence - this.next > this.mask) {
      // Beyond the ring's reach of the next packet: the stream moves on to fit this one, and
      // plays on from the oldest packet still held (what is missing between is not concealed).
      while (sequence - this.next > this.mask) this.discard(this.next++);
      while (this.next < sequence && !this.held(this.next)) this.next++;
    }
    this.store(slot, sequence, timestamp, marker, payload);
    // Bounded: beyond the largest delay, the oldest packets go.
    while (this.depthMs > this.options.maxMs + this.packetMs) this.dropOldest();
    this.stats.depthMs = this.depthMs;
  }

  /**
   * Whether a read now still leaves the target delay held. Packets are read as they arrive
   * while this holds; the clock reads (and conceals) only when the next one is overdue.
   */
  get ready(): boolean {
    return this.count > 0 && this.depthMs > this.targetMs;
  }

  /**
   * The packet the next read gives, if it is here: after a `lost` read, the one after the lost
   * packet, whose forward error correction may rebuild it.
   */
  peek(): JitterPacket | undefined {
    return this.playing ? this.held(this.next) : undefined;
  }

  /** The next packet to play, `lost` (conceal one packet), or `empty` (underrun). */
  read(): JitterRead {
    if (!this.playing) {
      if (this.count === 0 || this.depthMs < this.targetMs) return 'empty';
      this.playing = true;
    }
    this.adapt();
    const packet = this.held(this.next);
    if (packet) {
      packet.held = false;
      this.count--;
      this.next++;
      this.begun = true;
      this.stats.played++;
      this.stats.depthMs = this.depthMs;
      return packet;
    }
    if (this.count > 0) {
      this.next++;
      this.stats.lost++;
      return 'lost';
    }
    // Nothing held: refill to a larger target before playing again.
    this.playing = false;
    this.stats.underruns++;
    this.readsSinceUnderrun = 0;
    this.setTarget(this.targetMs + this.packetMs);
    return 'empty';
  }

  /** Lowers the delay when it has been needlessly high, raises nothing (underruns do that). */
  private adapt(): void {
    this.windowMinMs = Math.min(this.windowMinMs, this.depthMs);
    this.readsSinceUnderrun++;
    if (++this.windowReads < WINDOW_READS) return;
    // Half the excess at a time: a quick return from a burst, without one long skip.
    const excess = this.windowMinMs - this.targetMs - this.packetMs;
    if (excess > this.packetMs) {
      for (let n = Math.floor(excess / this.packetMs / 2) || 1; n > 0; n--) this.dropOldest();
    }
    if (this.readsSinceUnderrun >= WINDOW_READS) this.setTarget(this.targetMs - this.packetMs);
    this.windowReads = 0;
    this.windowMinMs = Infinity;
  }

  private setTarget(ms: number): void {
    this.targetMs = Math.min(this.options.maxMs, Math.max(this.options.minMs, ms));
    this.stats.targetMs = this.targetMs;
  }

  private held(sequence: number): Slot | undefined {
    const slot = this.slots[sequence & this.mask];
    return slot.held && slot.sequence === sequence ? slot : undefined;
  }

  private store(
    slot: Slot,
    sequence: number,
    timestamp: number,
    marker: boolean,
    payload: Buffer,
  ): void {
    if (slot.payload.length !== payload.length) {
      if (slot.storage.length < payload.length) slot.storage = Buffer.alloc(payload.length);
      slot.payload = slot.storage.subarray(0, payload.length);
    }
    payload.copy(slot.payload);
    slot.held = true;
    slot.sequence = sequence;
    slot.timestamp = timestamp;
    slot.marker = marker;
    this.count++;
  }

  /** Drops the packet `sequence` if it is held. */
  private discard(sequence: number): void {
    const slot = this.held(sequence);
    if (!slot) return;
    slot.held = false;
    this.count--;
    this.stats.dropped++;
  }

  /** Held packets all lie from `next` on, within the ring's reach: the first held is the oldest. */
  private dropOldest(): void {
    if (this.count === 0) return;
    let sequence = this.next;
    while (!this.held(sequence)) sequence++;
    this.discard(sequence);
    this.next = sequence + 1;
  }

  /** RFC 3550 A.1: the sequence number nearest to the highest seen, across the wrap. */
  private extend(sequence16: number): number {
    if (this.highest < 0) return sequence16 + 0x10000; // room below for reordered packets
    const delta = ((sequence16 - (this.highest & 0xffff) + 0x18000) & 0xffff) - 0x8000;
    return this.highest + delta;
  }

  /** Packet duration from consecutive packets' timestamps (the 32-bit wrap included). */
  private learnPacketTime(sequence: number, timestamp: number): void {
    if (this.lastSequence >= 0 && sequence === this.lastSequence + 1) {
      const ticks = (timestamp - this.lastTimestamp) >>> 0;
      const ms = (ticks * 1000) / this.options.clockRate;
      if (ms >= 10 && ms <= 120) this.packetMs = ms;
    }
    this.lastSequence = sequence;
    this.lastTimestamp = timestamp;
  }

  private restart(): void {
    for (const slot of this.slots) slot.held = false;
    this.count = 0;
    this.highest = -1;
    this.next = -1;
    this.playing = false;
    this.begun = false;
    this.lastSequence = -1;
    this.stats.resets++;
  }
}
