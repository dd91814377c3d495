/**
 * One call's RTCP: measures the caller's stream as it arrives, sends compound reports when
 * asked (the call does every few seconds on its media clock tick), and keeps what the caller's own
 * reports say about telgate's stream, including the round trip.
 */
import { buildReport, parseReport, ReceptionStats, roundTripMs, type RemoteView } from './rtcp.js';
import type { RtpSession } from './rtp-session.js';

export class RtcpReporter {
  readonly reception: ReceptionStats;
  private lastSr: { middle: number; at: number } | undefined;
  private remote: RemoteView | undefined;

  constructor(
    private readonly rtp: RtpSession,
    readonly clockRate: number,
    private readonly cname: string,
  ) {
    this.reception = new ReceptionStats(clockRate);
  }

  onRtp(ssrc: number, sequence: number, timestamp: number): void {
    this.reception.onPacket(ssrc, sequence, timestamp, Date.now());
  }

  onRtcp(packet: Buffer): void {
    const now = Date.now();
    const report = parseReport(packet, this.rtp.ssrcOut);
    if (!report) return;
    if (report.srMiddle !== undefined) this.lastSr = { middle: report.srMiddle, at: now };
    const about = report.aboutUs;
    if (about) {
      this.remote = {
        fractionLost: about.fractionLost / 256,
        cumulativeLost: about.cumulativeLost,
        jitterMs: (about.jitter * 1000) / this.clockRate,
        rttMs: roundTripMs(about.lsr, about.dlsr, now),
      };
    }
  }

  /** Sends one compound report now. */
  send(): void {
    const counters = this.rtp.counters;
    this.rtp.sendRtcp(
      buildReport({
        sender: {
          ssrc: this.rtp.ssrcOut,
          packets: counters.packetsOut,
          octets: counters.bytesOut - 12 * counters.packetsOut,
          rtpTimestamp: this.rtp.nextTimestamp,
          sending: this.rtp.sending && counters.packetsOut > 0,
        },
        reception: this.reception,
        lastSr: this.lastSr,
        cname: this.cname,
        nowMs: Date.now(),
      }),
    );
  }

  remoteView(): RemoteView | undefined {
    return this.remote;
  }
}
