import { describe, expect, it } from 'vitest';
import { describeCodec } from '../../src/codecs/codec.js';
import { MediaChain } from '../../src/call/media-chain.js';
import { ReleaseSchedule } from '../../src/media/release-schedule.js';

function chain(): MediaChain {
  const media = new MediaChain({
    linkFormat: 'slin',
    jitterMinMs: 20,
    jitterMaxMs: 200,
  });
  media.setCodec(describeCodec('PCMU', 8000, 1, 8000)!);
  return media;
}

/** A chain fed packet `n` of a 20 ms PCMU stream at clock time `at`; `sent` has the release times. */
function feeder() {
  const media = chain();
  const sent: number[] = [];
  const feed = {
    media,
    sent,
    now: 0,
    send: () => void sent.push(feed.now),
    packet(n: number, at: number) {
      feed.now = at;
      const header = { ssrc: 7, sequence: n, timestamp: 1000 + 160 * n, marker: n === 0 };
      media.pushCaller(header, Buffer.alloc(160, 0xff), feed.send, at);
    },
    /** The release tick at `at`: what it asks for its next. */
    tick(at: number): number {
      feed.now = at;
      return media.releaseDue(at, feed.send);
    },
  };
  return feed;
}

describe("the caller's packets to the agent", () => {
  it('go out once held the jitter target, without waiting for a late next packet', () => {
    const { sent, packet, tick } = feeder();
    for (let n = 0; n < 5; n++) packet(n, 20 * n); // each releases the one before it
    expect(sent).toEqual([20, 40, 60, 80]);
    // Packet 5 is 14 ms late: packet 4 leaves at its own time, 20 ms after it arrived.
    expect(tick(99)).toBeGreaterThanOrEqual(1);
    expect(sent).toHaveLength(5);
    expect(sent[4]).toBe(99);
    packet(5, 114);
    expect(sent).toHaveLength(5); // held: its own target delay is not over
    tick(119);
    expect(sent).toHaveLength(6);
  });

  it('leave on arrival when they come after their due time, with no polling meanwhile', () => {
    const { sent, packet, tick } = feeder();
    for (let n = 0; n < 3; n++) packet(n, 20 * n);
    tick(60); // packet 2 leaves at its due time
    expect(sent).toEqual([20, 40, 60]);
    // Packet 3 was due at 80 and is not here: the clock is not asked back every millisecond,
    // but when packet 4 is due (100).
    expect(tick(81)).toBe(19);
    packet(3, 93); // 13 ms after its due time: out at once
    expect(sent).toEqual([20, 40, 60, 93]);
  });

  it('wait for nothing without packets, and say when to look again', () => {
    const media = chain();
    expect(media.releaseDue(0, () => undefined)).toBe(20);
  });
});

describe('release schedule', () => {
  it('counts media time across the 32-bit timestamp wrap', () => {
    const schedule = new ReleaseSchedule(8000);
    const start = 0xffffff00;
    for (let n = 0; n < 4; n++) schedule.noteArrival((start + 160 * n) >>> 0, 20 * n, false);
    // Packet 3 has wrapped past zero and is still due 20 ms after it arrived.
    expect(schedule.dueAt((start + 480) >>> 0, 20)).toBe(80);
  });

  it('follows a sender whose clock runs slow within two windows, a fast one at once', () => {
    const schedule = new ReleaseSchedule(8000);
    // 160 packets: the sender's 20 ms take 20.1 of ours (slow), so each arrives later.
    for (let n = 0; n < 160; n++) schedule.noteArrival(160 * n, 20.1 * n, false);
    // The latest packet still waits most of its 20 ms: the reference followed the drift (with
    // the first packet's as reference it would wait 4 ms).
    const wait = schedule.dueAt(160 * 159, 20) - 20.1 * 159;
    expect(wait).toBeGreaterThan(10);
    expect(wait).toBeLessThanOrEqual(20);
    schedule.noteArrival(160 * 160, 20.1 * 160 - 15, false); // early: the reference moves now
    expect(schedule.dueAt(160 * 160, 20)).toBeCloseTo(20.1 * 160 - 15 + 20);
  });

  it('keeps its due times where 12 h of 48 kHz timestamps overflow a 32-bit difference', () => {
    const schedule = new ReleaseSchedule(48000);
    let ts = 0;
    let t = 0;
    // A packet every 10 s up to just before 2^31 ticks from the first, then every 20 ms.
    for (; ts < 2 ** 31 - 48000 * 2; ts += 480_000, t += 10_000) {
      schedule.noteArrival(ts >>> 0, t, false);
    }
    for (let n = 0; n < 300; n++, ts += 960, t += 20) {
      schedule.noteArrival(ts >>> 0, t, false);
      expect(schedule.dueAt(ts >>> 0, 20) - t).toBeCloseTo(20, 6);
    }
  });
});
