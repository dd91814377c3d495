/** RTCP packets built and read back; reception statistics on scripted streams. */
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  ntpMiddle,
  parseReport,
  ReceptionStats,
  roundTripMs,
} from '../../src/media/rtcp.js';

describe('RTCP', () => {
  it('counts loss across the sequence wrap and measures jitter in ms', () => {
    const stats = new ReceptionStats(8000);
    const arrival = 1000;
    for (let i = 0; i < 100; i++) {
      if (i % 10 === 3) continue; // 10 lost
      // Every other packet 4 ms late: |D| alternates 32 and 32 timestamp units.
      stats.onPacket(7, (65500 + i) & 0xffff, i * 160, arrival + i * 20 + (i % 2 ? 4 : 0));
    }
    expect(stats.received).toBe(90);
    expect(stats.lost).toBe(10);
    expect(stats.extendedMax).toBe(65536 + 99 - 36);
    expect(stats.jitterMs).toBeGreaterThan(3);
    expect(stats.jitterMs).toBeLessThan(4.1);
    const { fraction, cumulative } = stats.takeInterval();
    expect(fraction).toBe(Math.floor((10 * 256) / 100));
    expect(cumulative).toBe(10);
  });

  it('an SR with a report block and CNAME reads back; RTT comes from LSR and DLSR', () => {
    const stats = new ReceptionStats(8000);
    stats.onPacket(42, 1, 0, 0);
    const now = Date.UTC(2026, 10, 21, 12, 0, 0);
    const packet = buildReport({
      sender: { ssrc: 1, packets: 10, octets: 1600, rtpTimestamp: 1234, sending: true },
      reception: stats,
      lastSr: { middle: ntpMiddle(now - 500), at: now - 100 },
      cname: 'telgate@127.0.0.1',
      nowMs: now,
    });
    expect(packet[1]).toBe(200);
    expect(packet.length % 4).toBe(0);
    const read = parseReport(packet, 42)!;
    expect(read.srMiddle).toBe(ntpMiddle(now));
    expect(read.aboutUs).toMatchObject({ fractionLost: 0, cumulativeLost: 0 });
    // The far side sent its SR 500 ms before `now`, we held it 100 ms: 400 ms in flight.
    const rtt = roundTripMs(read.aboutUs!.lsr, read.aboutUs!.dlsr, now)!;
    expect(rtt).toBeGreaterThan(399);
    expect(rtt).toBeLessThan(401);
  });

  it('sends an RR when telgate is not sending, and ignores what is not RTCP', () => {
    const rr = buildReport({
      sender: { ssrc: 1, packets: 0, octets: 0, rtpTimestamp: 0, sending: false },
      cname: 'x',
      nowMs: 0,
    });
    expect(rr[1]).toBe(201);
    expect(parseReport(Buffer.from([0x80, 0, 0, 1, 0, 0, 0, 0]), 1)).toBeUndefined();
    expect(parseReport(Buffer.alloc(3), 1)).toBeUndefined();
  });
});
