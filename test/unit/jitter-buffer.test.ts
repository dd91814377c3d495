/** The jitter buffer on scripted packet streams: order, loss, duplicates, wraps, SSRC, adaptation. */
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterRead } from '../../src/media/jitter-buffer.js';

const payload = (n: number) => Buffer.from([n & 0xff]);

function buffer(minMs = 40, maxMs = 200) {
  return new JitterBuffer({ minMs, maxMs, clockRate: 8000 });
}

/** Pushes packet `index` of a stream starting at sequence/timestamp bases. */
function push(jb: JitterBuffer, index: number, seqBase = 0, tsBase = 0, ssrc = 1, marker = false) {
  jb.push(ssrc, (seqBase + index) & 0xffff, (tsBase + index * 160) >>> 0, marker, payload(index));
}

const label = (r: JitterRead) => (typeof r === 'string' ? r : r.payload[0]);

describe('jitter buffer', () => {
  it('waits for its target, then plays packets in order whatever order they came in', () => {
    const jb = buffer(60);
    push(jb, 1);
    push(jb, 0);
    expect(jb.read()).toBe('empty'); // 40 ms held, target 60
    push(jb, 3);
    push(jb, 2);
    expect([1, 2, 3, 4].map(() => label(jb.read()))).toEqual([0, 1, 2, 3]);
  });

  it('reports a missing packet as lost once later ones are here, and drops it if it comes late', () => {
    const jb = buffer(20);
    push(jb, 0);
    push(jb, 2);
    expect(label(jb.read())).toBe(0);
    expect(jb.read()).toBe('lost');
    push(jb, 1); // too late: its slot was concealed
    expect(label(jb.read())).toBe(2);
    expect(jb.stats).toMatchObject({ lost: 1, late: 1, played: 2 });
  });

  it('drops duplicates', () => {
    const jb = buffer(20);
    push(jb, 0);
    push(jb, 0);
    push(jb, 1);
    push(jb, 1);
    expect([label(jb.read()), label(jb.read()), jb.read()]).toEqual([0, 1, 'empty']);
    expect(jb.stats.duplicates).toBe(2);
  });

  it('carries on across the sequence and timestamp wraps', () => {
    const jb = buffer(20);
    const order = [0, 1, 3, 2, 4, 5];
    for (const i of order) push(jb, i, 0xfffd, 0xfffffe00);
    expect(order.map(() => label(jb.read()))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(jb.stats.lost).toBe(0);
  });

  it('starts over on a new SSRC and on a restarted stream', () => {
    const jb = buffer(20);
    push(jb, 0, 1000);
    push(jb, 1, 1000);
    expect(label(jb.read())).toBe(0);
    push(jb, 7, 50, 0, 2); // another source
    expect(label(jb.read())).toBe(7);
    push(jb, 9, 30000, 0, 2); // same source, a jump of thousands
    expect(label(jb.read())).toBe(9);
    expect(jb.stats.resets).toBe(2);
  });

  it('after an underrun, refills to a larger target; a marker starts a new talkspurt', () => {
    const jb = buffer(20);
    push(jb, 0);
    expect(label(jb.read())).toBe(0);
    expect(jb.read()).toBe('empty');
    expect(jb.stats).toMatchObject({ underruns: 1, targetMs: 40 });
    // Silence suppression: the next talkspurt starts 50 packets on, with a marker.
    push(jb, 50, 0, 0, 1, true);
    expect(jb.read()).toBe('empty'); // 20 ms held, target now 40
    push(jb, 51);
    expect([label(jb.read()), label(jb.read())]).toEqual([50, 51]);
    expect(jb.stats.lost).toBe(0);
  });

  it('brings a needlessly high delay down, and lowers its target after a calm second', () => {
    const jb = buffer(20, 400);
    for (let i = 0; i < 12; i++) push(jb, i); // a burst: 240 ms held
    let next = 12;
    for (let tick = 0; tick < 200; tick++) {
      push(jb, next++);
      jb.read();
    }
    expect(jb.depthMs).toBeLessThanOrEqual(80);
    expect(jb.stats.dropped).toBeGreaterThan(0);
    expect(jb.stats.targetMs).toBe(20);
  });

  it('stays within its largest delay however much arrives', () => {
    const jb = buffer(20, 100);
    for (let i = 0; i < 1000; i++) push(jb, i);
    expect(jb.depthMs).toBeLessThanOrEqual(120);
  });

  it('moves on past a gap wider than it holds instead of concealing it packet by packet', () => {
    const jb = buffer(20, 200); // a ring of 32 packets
    push(jb, 0);
    push(jb, 1);
    expect(label(jb.read())).toBe(0);
    push(jb, 100); // 2 s on: 1 is too old to share the ring with it, 2–99 never come
    push(jb, 101);
    expect([label(jb.read()), label(jb.read())]).toEqual([100, 101]);
    expect(jb.stats).toMatchObject({ lost: 0, dropped: 1 });
    expect(jb.stats.resets).toBe(0);
  });

  it('keeps payloads apart across many turns of its ring, sizes changing', () => {
    const jb = buffer(20, 200);
    const seen: number[] = [];
    for (let i = 0; i < 300; i++) {
      const size = 1 + (i % 7) * 40;
      jb.push(1, i & 0xffff, i * 160, false, Buffer.alloc(size, i & 0xff));
      const read = jb.read();
      if (typeof read !== 'string') {
        const index = read.timestamp / 160;
        expect(read.payload.length).toBe(1 + (index % 7) * 40);
        expect(read.payload.every((b) => b === (index & 0xff))).toBe(true);
        seen.push(index);
      }
    }
    expect(seen.length).toBeGreaterThan(290);
    expect(seen.every((s, k) => k === 0 || s === seen[k - 1] + 1)).toBe(true);
  });

  it('refuses a nonsensical range', () => {
    expect(() => buffer(100, 50)).toThrow(/minMs/);
  });
});
