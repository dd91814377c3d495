/**
 * RTCP (RFC 3550 §6, appendix A): what telgate measures of the caller's stream, the reports it
 * sends (SR while it sends, with one report block about the caller, plus SDES CNAME), and what
 * it learns from the caller's reports (their loss and jitter of telgate's stream, and the round
 * trip from LSR/DLSR). Packets are built and parsed here; the session decides where they go
 * (port + 1, or the RTP port with rtcp-mux).
 */

/** Seconds between 1900 (NTP) and 1970 (Unix). */
const NTP_OFFSET = 2_208_988_800;
const RTP_SEQ_MOD = 0x10000;

export interface RemoteView {
  /** What the caller reports about telgate's stream. */
  fractionLost: number;
  cumulativeLost: number;
  jitterMs: number;
  rttMs?: number;
}

/** The caller's stream as received (RFC 3550 A.1, A.3 and A.8). */
export class ReceptionStats {
  ssrc = 0;
  private baseSeq = -1;
  private maxSeq = 0;
  private cycles = 0;
  received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private transit: number | undefined;
  /** Interarrival jitter in RTP timestamp units (the RFC's J, scaled by 16 as A.8 keeps it). */
  private jitter16 = 0;

  constructor(private readonly clockRate: number) {}

  /** One packet: its source, sequence number, RTP timestamp and arrival time (ms). */
  onPacket(ssrc: number, sequence: number, timestamp: number, arrivalMs: number): void {
    if (ssrc !== this.ssrc || this.baseSeq < 0) this.restart(ssrc, sequence);
    const delta = (sequence - this.maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
    if (delta > 0 && delta < 3000) {
      if (sequence < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = sequence;
    }
    this.received++;
    const arrival = Math.round((arrivalMs * this.clockRate) / 1000);
    const transit = (arrival - timestamp) | 0;
    if (this.transit !== undefined) {
      const d = Math.abs((transit - this.transit) | 0);
      this.jitter16 += d - ((this.jitter16 + 8) >> 4);
    }
    this.transit = transit;
  }

  private restart(ssrc: number, sequence: number): void {
    this.ssrc = ssrc;
    this.baseSeq = sequence;
    this.maxSeq = sequence;
    this.cycles = 0;
    this.received = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.transit = undefined;
    this.jitter16 = 0;
  }

  get extendedMax(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.baseSeq < 0 ? 0 : this.extendedMax - this.baseSeq + 1;
  }

  get lost(): number {
    return Math.max(0, this.expected - this.received);
  }

  get jitterMs(): number {
    return ((this.jitter16 >> 4) * 1000) / this.clockRate;
  }

  /** The report block's loss fields for the interval since the last report. */
  takeInterval(): { fraction: number; cumulative: number } {
    const expectedInterval = this.expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = this.expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fraction =
      expectedInterval === 0 || lostInterval <= 0
        ? 0
        : Math.min(255, Math.floor((lostInterval << 8) / expectedInterval));
    return { fraction, cumulative: Math.min(this.lost, 0x7fffff) };
  }

  get jitterUnits(): number {
    return this.jitter16 >> 4;
  }
}

/** NTP time as [seconds, fraction] for a Unix time in ms. */
function ntp(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms % 1000) / 1000) * 0x100000000);
  return [(seconds + NTP_OFFSET) >>> 0, fraction >>> 0];
}

/** The middle 32 bits of an NTP time, the unit of LSR and of RTT arithmetic (1/65536 s). */
function ntpMiddle(ms: number): number {
  const [seconds, fraction] = ntp(ms);
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

export interface SenderState {
  ssrc: number;
  packets: number;
  octets: number;
  /** RTP timestamp that corresponds to `nowMs`. */
  rtpTimestamp: number;
  sending: boolean;
}

export interface ReportContext {
  sender: SenderState;
  reception?: ReceptionStats;
  /** LSR: middle bits of the caller's last SR, and when it arrived (ms). */
  lastSr?: { middle: number; at: number };
  cname: string;
  nowMs: number;
}

/** A compound report: SR (or RR when telgate sends nothing), then SDES with CNAME. */
export function buildReport(c: ReportContext): Buffer {
  const blocks = c.reception && c.reception.received > 0 ? 1 : 0;
  const sr = c.sender.sending;
  const head = Buffer.alloc(8 + (sr ? 20 : 0) + 24 * blocks);
  head[0] = 0x80 | blocks;
  head[1] = sr ? 200 : 201;
  head.writeUInt16BE(head.length / 4 - 1, 2);
  head.writeUInt32BE(c.sender.ssrc >>> 0, 4);
  let off = 8;
  if (sr) {
    const [seconds, fraction] = ntp(c.nowMs);
    head.writeUInt32BE(seconds, off);
    head.writeUInt32BE(fraction, off + 4);
    head.writeUInt32BE(c.sender.rtpTimestamp >>> 0, off + 8);
    head.writeUInt32BE(c.sender.packets >>> 0, off + 12);
    head.writeUInt32BE(c.sender.octets >>> 0, off + 16);
    off += 20;
  }
  if (blocks && c.reception) {
    const r = c.reception;
    const { fraction, cumulative } = r.takeInterval();
    head.writeUInt32BE(r.ssrc >>> 0, off);
    head.writeUInt32BE(((fraction << 24) | cumulative) >>> 0, off + 4);
    head.writeUInt32BE(r.extendedMax >>> 0, off + 8);
    head.writeUInt32BE(r.jitterUnits >>> 0, off + 12);
    const lsr = c.lastSr?.middle ?? 0;
    const dlsr = c.lastSr ? Math.round(((c.nowMs - c.lastSr.at) / 1000) * 65536) : 0;
    head.writeUInt32BE(lsr >>> 0, off + 16);
    head.writeUInt32BE(dlsr >>> 0, off + 20);
  }
  return Buffer.concat([head, sdes(c.sender.ssrc, c.cname)]);
}

function sdes(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname.slice(0, 255), 'utf8');
  const items = 4 + 2 + text.length + 1; // SSRC, CNAME item, END
  const padded = Math.ceil(items / 4) * 4;
  const b = Buffer.alloc(4 + padded);
  b[0] = 0x81;
  b[1] = 202;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b[8] = 1; // CNAME
  b[9] = text.length;
  text.copy(b, 10);
  return b;
}

export interface ParsedReport {
  /** From an SR: the middle 32 bits of its NTP time. */
  srMiddle?: number;
  /** The report block about `ourSsrc`, if there was one. */
  aboutUs?: {
    fractionLost: number;
    cumulativeLost: number;
    jitter: number;
    lsr: number;
    dlsr: number;
  };
}

/** Reads a compound RTCP packet; undefined when it is not RTCP. */
export function parseReport(packet: Buffer, ourSsrc: number): ParsedReport | undefined {
  if (packet.length < 8 || packet[0] >> 6 !== 2 || packet[1] < 192 || packet[1] > 223) {
    return undefined;
  }
  const out: ParsedReport = {};
  let off = 0;
  while (off + 8 <= packet.length) {
    const count = packet[off] & 0x1f;
    const type = packet[off + 1];
    const length = (packet.readUInt16BE(off + 2) + 1) * 4;
    if (off + length > packet.length) break;
    if (type === 200 || type === 201) {
      let blockAt = off + 8;
      if (type === 200 && length >= 28) {
        out.srMiddle =
          (((packet.readUInt32BE(off + 8) & 0xffff) << 16) |
            (packet.readUInt32BE(off + 12) >>> 16)) >>>
          0;
        blockAt += 20;
      }
      for (let i = 0; i < count && blockAt + 24 <= off + length; i++, blockAt += 24) {
        if (packet.readUInt32BE(blockAt) !== ourSsrc >>> 0) continue;
        const word = packet.readUInt32BE(blockAt + 4);
        out.aboutUs = {
          fractionLost: word >>> 24,
          cumulativeLost: word & 0xffffff,
          jitter: packet.readUInt32BE(blockAt + 12),
          lsr: packet.readUInt32BE(blockAt + 16),
          dlsr: packet.readUInt32BE(blockAt + 20),
        };
      }
    }
    off += length;
  }
  return out;
}

/** Round trip in ms from a report block's LSR/DLSR and its arrival time (RFC 3550 §6.4.1). */
export function roundTripMs(lsr: number, dlsr: number, arrivalMs: number): number | undefined {
  if (lsr === 0) return undefined;
  const units = (ntpMiddle(arrivalMs) - lsr - dlsr) >>> 0;
  if (units > 0x7fffffff) return undefined; // arrival before send: clocks disagree
  return (units / 65536) * 1000;
}

export { ntpMiddle };
