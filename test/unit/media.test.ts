import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OverloadGuard } from '../../src/call/overload.js';
import { MediaClock, type ClockLoad } from '../../src/media/media-clock.js';
import { PlayoutQueue } from '../../src/media/playout-queue.js';
import { PortPool } from '../../src/media/port-pool.js';
import { RtpSession, udpPath } from '../../src/media/rtp-session.js';
import { newRtpHeader, readRtpHeader, writeRtpHeader } from '../../src/media/rtp-packet.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RTP packets', () => {
  it('writes and reads back a header, and skips CSRCs, extension and padding', () => {
    const pkt = Buffer.alloc(12 + 160);
    writeRtpHeader(pkt, 8, true, 65535, 0xfffffff0, 0xdeadbeef);
    const h = newRtpHeader();
    expect(readRtpHeader(pkt, h)).toBe(true);
    expect(h).toMatchObject({
      payloadType: 8,
      marker: true,
      sequence: 65535,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
      payloadOffset: 12,
      payloadLength: 160,
    });
    const fancy = Buffer.alloc(12 + 4 + 8 + 10 + 3);
    fancy[0] = 0x80 | 0x20 | 0x10 | 1; // padding, extension, one CSRC
    fancy.writeUInt16BE(2, 12 + 4 + 2); // extension of 2 words
    fancy[fancy.length - 1] = 3;
    expect(readRtpHeader(fancy, h)).toBe(true);
    expect(h.payloadOffset).toBe(12 + 4 + 12);
    expect(h.payloadLength).toBe(fancy.length - 3 - 28);
  });

  it('refuses short packets, wrong versions and padding larger than the packet', () => {
    const h = newRtpHeader();
    expect(readRtpHeader(Buffer.alloc(11), h)).toBe(false);
    expect(readRtpHeader(Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), h)).toBe(false);
    const bad = Buffer.alloc(14);
    bad[0] = 0xa0;
    bad[13] = 200;
    expect(readRtpHeader(bad, h)).toBe(false);
  });
});

describe('media clock', () => {
  afterEach(() => void vi.useRealTimers());
  const fake = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });

  it('ticks every period for all subscribers and holds no timer without them', () => {
    fake();
    const clock = new MediaClock(20);
    let a = 0;
    let b = 0;
    const sa = { onTick: () => void a++ };
    const sb = { onTick: () => void b++ };
    clock.add(sa);
    clock.add(sb);
    vi.advanceTimersByTime(1000);
    expect(a).toBeGreaterThanOrEqual(49);
    expect(a).toBeLessThanOrEqual(50);
    expect(b).toBe(a);
    clock.remove(sa);
    clock.remove(sb);
    expect(clock.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('spreads subscribers over the period, each at its own phase, every 20 ms exactly', () => {
    fake();
    const clock = new MediaClock(20);
    const ticks: number[][] = Array.from({ length: 40 }, () => []);
    const subscribers = ticks.map((list) => ({ onTick: (at: number) => void list.push(at) }));
    for (const s of subscribers) clock.add(s);
    vi.advanceTimersByTime(500);
    const phases = ticks.map((list) => list[0] % 20);
    // 40 subscribers over 20 milliseconds: two per millisecond.
    for (let ms = 0; ms < 20; ms++) expect(phases.filter((p) => p === ms)).toHaveLength(2);
    for (const list of ticks) {
      for (let i = 1; i < list.length; i++) expect(list[i] - list[i - 1]).toBe(20);
    }
    for (const s of subscribers) clock.remove(s);
  });

  it('lets a tick move its phase, later or (having sent nothing) sooner', () => {
    fake();
    const clock = new MediaClock(20);
    const at: number[] = [];
    const asks = new Map([
      [3, 27],
      [5, 7],
    ]);
    const s = { onTick: (ms: number) => (at.push(ms), asks.get(at.length)) };
    clock.add(s);
    vi.advanceTimersByTime(300);
    const gaps = at.slice(1).map((ms, i) => ms - at[i]);
    expect(gaps.slice(0, 6)).toEqual([20, 20, 27, 20, 7, 20]);
    clock.remove(s);
  });

  it('reports each second how late its wake-ups ran, and an empty second when it stops', () => {
    fake();
    const clock = new MediaClock(20);
    const loads: ClockLoad[] = [];
    clock.onLoad = (load) => void loads.push(load);
    const s = { onTick: () => undefined };
    clock.add(s);
    vi.advanceTimersByTime(2500);
    expect(loads).toHaveLength(2);
    for (const load of loads) {
      expect(load.wakeUps).toBeGreaterThanOrEqual(49);
      expect(load.wakeUps).toBeLessThanOrEqual(51);
      expect(load.medianLateMs).toBeLessThan(1); // fake timers run on time
      expect(load.maxLateMs).toBeGreaterThanOrEqual(load.medianLateMs);
    }
    clock.remove(s);
    expect(loads[2]).toEqual({ wakeUps: 0, medianLateMs: 0, maxLateMs: 0 });
  });
});

describe('overload guard', () => {
  const second = (wakeUps = 50): ClockLoad => ({ wakeUps, medianLateMs: 1, maxLateMs: 5 });

  /** A guard whose event loop reports the utilizations given, one a second. */
  function guardWith(limit: number, utilizations: number[], changes: boolean[] = []) {
    let i = 0;
    return new OverloadGuard(
      () => limit,
      (overloaded) => void changes.push(overloaded),
      () => utilizations[i++],
    );
  }

  it('starts after two saturated seconds in a row, ends 0.1 under the limit or when the clock stops', () => {
    const changes: boolean[] = [];
    const guard = guardWith(0.9, [0.95, 0.5, 0.92, 0.9, 0.85, 0.79, 0.99, 1, 1], changes);
    for (let s = 0; s < 3; s++) guard.onLoad(second()); // one busy second is no overload
    expect(guard.overloaded).toBe(false);
    guard.onLoad(second());
    expect(guard.overloaded).toBe(true);
    expect(guard.load.utilization).toBe(0.9);
    guard.onLoad(second()); // under the limit, not yet under it by 0.1
    expect(guard.overloaded).toBe(true);
    guard.onLoad(second());
    expect(guard.overloaded).toBe(false);
    guard.onLoad(second());
    guard.onLoad(second());
    guard.onLoad(second(0)); // the last call ended: the clock stopped
    expect(changes).toEqual([true, false, true, false]);
  });

  it('is off with a limit of 0', () => {
    const guard = guardWith(0, [1, 1, 1, 1, 1]);
    for (let s = 0; s < 5; s++) guard.onLoad(second());
    expect(guard.overloaded).toBe(false);
  });
});

describe('playout queue', () => {
  it('plays queued audio in order, pads underruns with silence and bounds its size', () => {
    const q = new PlayoutQueue(4);
    const bytes = Buffer.alloc(12);
    for (let i = 0; i < 6; i++) bytes.writeInt16LE(i + 1, i * 2);
    q.pushPcm16le(bytes);
    expect(q.queuedSamples).toBe(4);
    expect(q.droppedSamples).toBe(2);
    const out = new Int16Array(3);
    expect(q.pull(out)).toBe(3);
    expect([...out]).toEqual([1, 2, 3]);
    expect(q.pull(out)).toBe(1);
    expect([...out]).toEqual([4, 0, 0]);
    expect(q.pull(out)).toBe(0);
    expect(q.underruns).toBe(1);
  });

  it('starts its ring at 0.5 s and grows it as audio is queued, order kept across the wrap', () => {
    const q = new PlayoutQueue(60 * 8000, 8000);
    expect(q.allocatedSamples).toBe(4000);
    const chunk = (from: number, n: number) => {
      const b = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++) b.writeInt16LE((from + i) % 30000, i * 2);
      return b;
    };
    // Wrap the 0.5 s ring first, so growing must unwrap it.
    q.pushPcm16le(chunk(0, 3000));
    const out = new Int16Array(2500);
    q.pull(out);
    q.pushPcm16le(chunk(3000, 3000)); // 3500 queued, wrapped
    expect(q.allocatedSamples).toBe(4000);
    q.pushPcm16le(chunk(6000, 7500)); // 11000 queued: 4000 → 8000 → 16000
    expect(q.allocatedSamples).toBe(16000);
    expect(q.queuedSamples).toBe(11000);
    const all = new Int16Array(11000);
    expect(q.pull(all)).toBe(11000);
    expect(all.every((v, i) => v === (2500 + i) % 30000)).toBe(true);
    // Never beyond the capacity: what does not fit is dropped.
    for (let i = 0; i < 31; i++) q.pushPcm16le(chunk(0, 16000));
    expect(q.allocatedSamples).toBe(60 * 8000);
    expect(q.droppedSamples).toBe(31 * 16000 - 60 * 8000);
  });
});

describe('port pool', () => {
  it('hands out even/odd pairs, skips pairs with a port taken elsewhere, is whole after release', async () => {
    const squatters = [39000, 39003].map(() => dgram.createSocket('udp4'));
    await Promise.all(
      [39000, 39003].map(
        (port, i) => new Promise<void>((r) => squatters[i].bind(port, '127.0.0.1', () => r())),
      ),
    );
    const pool = new PortPool('127.0.0.1', 39000, 39007);
    expect(pool.size).toBe(4);
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect([a?.port, b?.port]).toEqual([39004, 39006]);
    expect(a?.rtcpSocket.address().port).toBe(39005);
    expect(await pool.acquire()).toBeUndefined();
    pool.release(a!);
    pool.release(b!);
    pool.release(b!);
    expect(pool.available).toBe(4);
    for (const s of squatters) s.close();
  });

  it('sends two frames of one tick as two packets, each with its own header and payload', async () => {
    const pool = new PortPool('127.0.0.1', 39010, 39013);
    const lease = (await pool.acquire())!;
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    const received: Buffer[] = [];
    const both = new Promise<void>((r) =>
      peer.on('message', (m) => void (received.push(m) === 2 && r())),
    );
    const rtp = new RtpSession(
      udpPath(pool, lease),
      {
        remoteAddress: '127.0.0.1',
        remotePort: peer.address().port,
        payloadType: 0,
        samplesPerFrame: 160,
        maxPayloadBytes: 160,
      },
      { onRtp: () => undefined },
    );
    // A catch-up after a stall: two frames in one synchronous run.
    rtp.payloadBuffer.fill(1, 0, 160);
    rtp.send(160);
    rtp.payloadBuffer.fill(2, 0, 160);
    rtp.send(160);
    await both;
    const h = newRtpHeader();
    const seen = received.map((m) => (readRtpHeader(m, h), [h.sequence, h.timestamp, m[12]]));
    expect(seen[1][0]).toBe((seen[0][0] + 1) & 0xffff);
    expect(seen[1][1]).toBe((seen[0][1] + 160) >>> 0);
    expect([seen[0][2], seen[1][2]]).toEqual([1, 2]);
    rtp.close();
    peer.close();
    expect(pool.available).toBe(2);
  });

  it('refuses a nonsense range', () => {
    expect(() => new PortPool('127.0.0.1', 5000, 4000)).toThrow(/not a valid range/);
  });
});
