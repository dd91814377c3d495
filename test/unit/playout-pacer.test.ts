import { describe, expect, it } from 'vitest';
import { AgentPlayout } from '../../src/call/agent-playout.js';

const frame = (ms: number) => Buffer.alloc((8000 / 1000) * ms * 2, 1); // slin at 8 kHz

function chain(playoutDelayMs: number): AgentPlayout {
  return new AgentPlayout({ linkFormat: 'slin', playoutMaxSeconds: 2, playoutDelayMs });
}

/**
 * A real-time agent stream (a frame every 20 ms) with `queuedMs` already waiting, pulled
 * `offsetMs` after each arrival, the caller's ticks moved as the chain asks. Returns the delay
 * from arrival to play of every frame, and the chain.
 */
function simulate(queuedMs: number, offsetMs: number, frames = 800, late = (_k: number) => 0) {
  const media = chain(20);
  const delays: number[] = [];
  const steps: number[] = [];
  // Audio is tracked by position (ms of it since the start): what the queue held at first
  // arrived at 0, the stream's frame k at 20·k.
  const arrivalOf = (position: number) => {
    const k = Math.floor((position - queuedMs) / 20);
    return position < queuedMs ? 0 : 20 * k + late(k);
  };
  if (queuedMs) media.push(frame(queuedMs), 0);
  let arrived = 0;
  let position = 0;
  let pullAt = offsetMs;
  while (delays.length < frames) {
    if (20 * arrived + late(arrived) <= pullAt) {
      media.push(frame(20), 20 * arrived + late(arrived));
      arrived++;
      continue;
    }
    const before = media.queue.trimmedSamples;
    media.next(pullAt);
    position += 20;
    delays.push(pullAt - arrivalOf(position - 0.1)); // the frame's last sample
    const step = media.pacer.phaseStepMs();
    steps.push(step);
    position += (media.queue.trimmedSamples - before) / 8;
    pullAt += 20 - step;
  }
  const last = delays.slice(-100);
  return { media, delays, steps, low: Math.min(...last), high: Math.max(...last) };
}

function jittery(k: number): number {
  return [0, 8, 3, 11, 5][k % 5];
}

describe('talkspurt alignment of the agent audio', () => {
  it('holds the first audio after silence until its arrival plus the playout delay', () => {
    const media = chain(20);
    expect(media.talkspurtWaitMs(100)).toBe(0); // nothing queued: silence goes now
    media.push(frame(20), 105);
    expect(media.talkspurtWaitMs(100)).toBe(25);
    expect(media.talkspurtWaitMs(120)).toBe(5);
    expect(media.talkspurtWaitMs(125)).toBe(0);
    media.next();
    // The stream goes on: audio arriving while some is still playing is not held.
    media.push(frame(20), 140);
    expect(media.talkspurtWaitMs(145)).toBe(0);
    media.next();
    media.next(); // ran dry: silence, a new talkspurt next
    media.push(frame(20), 300);
    expect(media.talkspurtWaitMs(301)).toBe(19);
  });

  it('sends at once with no playout delay, and never holds ringback', () => {
    const media = chain(0);
    media.push(frame(20), 105);
    expect(media.talkspurtWaitMs(105)).toBe(0);
    const ringing = chain(20);
    ringing.ringback = true;
    ringing.push(frame(20), 105);
    expect(ringing.talkspurtWaitMs(100)).toBe(0);
  });

  it('slews the phase when the delay is off by less than a frame, glitch-free', () => {
    for (const offset of [21.5, 18.5, 17, 33]) {
      const { media, low, high } = simulate(0, offset);
      expect(media.queue.trimmedSamples).toBe(0);
      expect(low).toBeGreaterThanOrEqual(19);
      expect(high).toBeLessThanOrEqual(21);
    }
  });

  it('mends a bad start: whole frames skipped at the first verdict, then 2 ms steps', () => {
    const { media, delays, low, high } = simulate(0, 53);
    expect(media.queue.trimmedSamples).toBe(160);
    // Within a second: frames skipped at 200 ms, then 2 ms steps every 100 ms.
    expect(Math.max(...delays.slice(50, 100))).toBeLessThanOrEqual(21);
    expect(low).toBeGreaterThanOrEqual(19);
    expect(high).toBeLessThanOrEqual(21);
  });

  it('lets the earliest audio of a jittery stream wait the delay, the latest less', () => {
    const { media, low, high } = simulate(0, 45, 800, jittery);
    expect(media.queue.trimmedSamples).toBe(160); // one frame of the 25 ms too many
    expect(high).toBeGreaterThanOrEqual(19);
    expect(high).toBeLessThanOrEqual(21);
    expect(low).toBeGreaterThanOrEqual(high - 12); // 11 ms later than the earliest, and in time
  });

  it('follows a stream that wanders by a few ms in 1 ms steps, 2 ms ones only to bring it in', () => {
    // Arrivals shift by up to 2.5 ms every 800 ms, as an agent's pacing wanders.
    const wander = (k: number) => [0, 2, 0.5, 2.5, 0.5][Math.floor(k / 40) % 5];
    const { steps, low, high } = simulate(0, 25, 2000, wander);
    const settled = steps.slice(100);
    expect(settled.some((step) => step !== 0)).toBe(true);
    expect(Math.max(...settled.map(Math.abs))).toBe(1);
    expect(low).toBeGreaterThanOrEqual(16);
    expect(high).toBeLessThanOrEqual(22);
  });

  it('leaves the phase alone for audio sent ahead of time', () => {
    const media = chain(20);
    media.push(frame(5000), 0);
    for (let k = 0; k < 150; k++) {
      media.next(20 * k + 25);
      expect(media.pacer.phaseStepMs()).toBe(0);
    }
  });

  it('brings a stream that waits far too long back to the playout delay, frames first', () => {
    // A stall left 9 frames queued ahead of the stream.
    const { media, delays, low, high } = simulate(180, 5, 1500);
    expect(delays[10]).toBeGreaterThan(180);
    expect(media.queue.trimmedSamples / 8).toBeGreaterThanOrEqual(160);
    expect(low).toBeGreaterThanOrEqual(19);
    expect(high).toBeLessThanOrEqual(21);
  });

  it('holds a slot open up to 30 ms for the late frame of a running stream, then keeps the phase', () => {
    const media = chain(20);
    expect(media.holdForLateAudio(0)).toBe(false); // nothing played yet: silence goes at once
    media.push(frame(20), 0);
    media.next(20);
    expect(media.pacer.nextTickMs(20, 20)).toBe(20);
    expect(media.holdForLateAudio(40)).toBe(true); // the next frame is late
    expect(media.holdForLateAudio(54)).toBe(true);
    media.push(frame(20), 55);
    expect(media.holdForLateAudio(55)).toBe(false);
    media.next(55);
    expect(media.pacer.nextTickMs(55, 20)).toBe(5); // back on the stream's phase: 60
    // Not here within the grace: silence, and the stream counts as stopped.
    expect(media.holdForLateAudio(60)).toBe(true);
    expect(media.holdForLateAudio(89)).toBe(true);
    expect(media.holdForLateAudio(90)).toBe(false);
    media.next(90);
    // Stopped: back on the phase (100), with no burst of silence for the slot that passed.
    expect(media.pacer.nextTickMs(90, 20)).toBe(10);
    expect(media.holdForLateAudio(100)).toBe(false);
  });

  it('after a stall, waits for the audio still unread and plays every frame on its own slot', () => {
    const media = chain(20);
    media.push(frame(20), 0);
    media.next(20);
    expect(media.pacer.nextTickMs(20, 20)).toBe(20);
    // The thread stalled: the clock runs the tick due at 40 at 90, before the sockets are
    // read. Counted from the slot the grace would be over; counted from now it has begun.
    expect(media.holdForLateAudio(40, 90)).toBe(true);
    expect(media.holdForLateAudio(91, 91)).toBe(true);
    media.push(frame(60), 91); // slots 40, 60 and 80, read after the stall
    expect(media.holdForLateAudio(92, 92)).toBe(false);
    media.next(92);
    expect(media.pacer.nextTickMs(92, 20)).toBe(1); // slot 60 passed too: at once
    expect(media.holdForLateAudio(93, 93)).toBe(false);
    media.next(93);
    expect(media.pacer.nextTickMs(93, 20)).toBe(1); // and slot 80
    media.next(94);
    expect(media.pacer.nextTickMs(94, 20)).toBe(6); // then the stream's phase again: 100
    expect(media.queue.trimmedSamples).toBe(0); // nothing lost
    expect(media.queue.queuedSamples).toBe(0);
  });
});
