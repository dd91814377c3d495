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

  it('trims the delay underruns added to a real-time stream, one frame per second', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const frame = new Int16Array(FRAME);
    q.pushPcm16le(audio(20));
    q.pull(frame);
    q.pull(frame); // dry: a frame is late, and comes with the next one
    q.pushPcm16le(audio(40));
    q.pull(frame);
    q.pushPcm16le(audio(20));
    q.pull(frame);
    q.pull(frame); // two frames late this time
    q.pull(frame);
    q.pushPcm16le(audio(60));
    q.pull(frame);
    expect(q.queuedSamples).toBe(2 * FRAME); // every frame now plays 40 ms later than it could
    for (let i = 0; i < 400; i++) {
      q.pushPcm16le(audio(20)); // then exactly real time
      q.pull(frame);
    }
    // Back to no delay, one frame per second, and no further: the queue is then dry after a pull.
    expect(q.trimmedSamples).toBe(2 * FRAME);
    expect(q.queuedSamples).toBe(0);
  });

  it('never trims the lead of a real-time stream that never ran dry', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const frame = new Int16Array(FRAME);
    q.pushPcm16le(audio(120)); // the agent keeps 120 ms ahead on purpose
    for (let i = 0; i < 300; i++) {
      q.pushPcm16le(audio(20));
      q.pull(frame);
    }
    expect(q.trimmedSamples).toBe(0);
    expect(q.queuedSamples).toBe(6 * FRAME);
  });

  it('never trims audio sent ahead of time', () => {
    const q = new PlayoutQueue(RATE * 10, RATE);
    const frame = new Int16Array(FRAME);
    q.pushPcm16le(audio(5000));
    for (let i = 0; i < 200; i++) q.pull(frame);
    expect(q.trimmedSamples).toBe(0);
    expect(q.queuedSamples).toBe(RATE);
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
