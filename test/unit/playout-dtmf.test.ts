/** Playout items, marks and barge-in reports; RFC 4733 in and out. */
import { describe, expect, it } from 'vitest';
import {
  DtmfReceiver,
  DtmfSender,
  parseTelephoneEvent,
  writeTelephoneEvent,
} from '../../src/media/dtmf.js';
import { PlayoutQueue } from '../../src/media/playout-queue.js';

const RATE = 8000;
const FRAME = 160;
const audio = (ms: number, value = 1000) => {
  const pcm = new Int16Array((RATE * ms) / 1000).fill(value);
  return Buffer.from(pcm.buffer);
};

describe('playout queue marks and clear', () => {
  it('acknowledges a mark only when the audio before it has been pulled, in order', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const played: string[] = [];
    q.pushPcm16le(audio(40));
    q.mark('a');
    q.pushPcm16le(audio(20));
    q.mark('b');
    const frame = new Int16Array(FRAME);
    q.pull(frame, (m) => played.push(m));
    expect(played).toEqual([]);
    q.pull(frame, (m) => played.push(m));
    expect(played).toEqual(['a']);
    q.pull(frame, (m) => played.push(m));
    expect(played).toEqual(['a', 'b']);
    q.mark('c'); // nothing queued: due with the next frame
    q.pull(frame, (m) => played.push(m));
    expect(played).toEqual(['a', 'b', 'c']);
  });

  it('clear drops everything and says how much of each item played; pending marks are cleared', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    q.pushPcm16le(audio(3000));
    q.pushPcm16le(audio(2000));
    q.mark('end');
    const frame = new Int16Array(FRAME);
    for (let i = 0; i < 50; i++) q.pull(frame); // 1 s played
    const report = q.clear();
    expect(report).toEqual({
      playedMs: 1000,
      droppedMs: 4000,
      items: [
        { item: 1, durationMs: 3000, playedMs: 1000 },
        { item: 2, durationMs: 2000, playedMs: 0 },
      ],
      marks: ['end'],
    });
    expect(q.pull(frame)).toBe(0);
    // The next utterance counts from zero.
    q.pushPcm16le(audio(100));
    q.pull(frame);
    expect(q.clear()).toMatchObject({ playedMs: 20, droppedMs: 80, items: [{ item: 3 }] });
  });

  it('reports the shortest and longest waits of each real-time half second, once', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const frame = new Int16Array(FRAME);
    for (let k = 0; k < 100; k++) {
      q.pushPcm16le(audio(20), 20 * k);
      q.pull(frame, undefined, 20 * k + (k % 7 === 3 ? 4 : 9)); // waits of 9 ms, some of 4
      const waits = q.takeWaits();
      expect(waits).toEqual((k + 1) % 25 === 0 ? { minMs: 4, maxMs: 9 } : undefined);
    }
  });

  it('judges no wait for audio sent ahead of time, and skips audio as if played', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const frame = new Int16Array(FRAME);
    q.pushPcm16le(audio(5000), 0);
    q.mark('after');
    for (let i = 0; i < 200; i++) {
      q.pull(frame, undefined, 20 * i);
      expect(q.takeWaits()).toBeUndefined();
    }
    expect(q.skip(RATE)).toBe(RATE);
    const marks: string[] = [];
    q.pull(frame, (name) => marks.push(name));
    expect(q.trimmedSamples).toBe(RATE);
    expect(q.queuedSamples).toBe(0);
    expect(marks).toEqual(['after']);
  });

  it('drops what does not fit and counts it', () => {
    const q = new PlayoutQueue(FRAME, RATE);
    q.pushPcm16le(audio(40));
    expect(q.queuedSamples).toBe(FRAME);
    expect(q.droppedSamples).toBe(FRAME);
  });
});

describe('RFC 4733', () => {
  it('reports each digit once, with its duration, however many end packets come', () => {
    const digits: Array<{ digit: string; durationMs: number }> = [];
    const rx = new DtmfReceiver(8000, (d) => digits.push(d));
    const packet = (event: number, end: boolean, duration: number) => {
      const b = Buffer.alloc(4);
      writeTelephoneEvent(b, { event, end, volume: 10, duration });
      return b;
    };
    for (const d of [160, 320, 480]) rx.onPacket(1000, packet(5, false, d));
    for (let i = 0; i < 3; i++) rx.onPacket(1000, packet(5, true, 800));
    rx.onPacket(5000, packet(11, false, 160)); // '#', its end packets lost…
    rx.onPacket(9000, packet(0, true, 400)); // …the next digit reports it
    expect(digits).toEqual([
      { digit: '5', durationMs: 100 },
      { digit: '#', durationMs: 20 },
      { digit: '0', durationMs: 50 },
    ]);
  });

  it('sends a digit as growing durations, marker first, the end three times, then a pause', () => {
    const tx = new DtmfSender(160);
    tx.send('7', 100);
    const frames = [];
    for (let i = 0; i < 12; i++) {
      const f = tx.next();
      frames.push(f && { ...parseTelephoneEvent(f.payload)!, marker: f.marker });
    }
    const events = frames.filter(Boolean);
    expect(events.map((e) => e!.duration)).toEqual([160, 320, 480, 640, 800, 800, 800]);
    expect(events.map((e) => e!.end)).toEqual([false, false, false, false, true, true, true]);
    expect(events.map((e) => e!.marker)).toEqual([true, false, false, false, false, false, false]);
    expect(events.every((e) => e!.event === 7)).toBe(true);
    expect(tx.busy).toBe(false);
  });
});
