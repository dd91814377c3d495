import { describe, expect, it } from 'vitest';
import { describeCodec } from '../../src/codecs/codec.js';
import { MediaChain } from '../../src/call/media-chain.js';

const frame = (ms: number) => Buffer.alloc((8000 / 1000) * ms * 2, 1); // slin at 8 kHz

function chain(playoutDelayMs: number): MediaChain {
  const media = new MediaChain({
    linkFormat: 'slin',
    playoutMaxSeconds: 2,
    jitterMinMs: 20,
    jitterMaxMs: 200,
    playoutDelayMs,
  });
  media.setCodec(describeCodec('PCMU', 8000, 1, 8000)!);
  return media;
}

describe('talkspurt alignment of the agent audio', () => {
  it('holds the first audio after silence until its arrival plus the playout delay', () => {
    const media = chain(20);
    const out = Buffer.alloc(160);
    expect(media.talkspurtWaitMs(100)).toBe(0); // nothing queued: silence goes now
    media.fromAgent(frame(20), 105);
    expect(media.talkspurtWaitMs(100)).toBe(25);
    expect(media.talkspurtWaitMs(120)).toBe(5);
    expect(media.talkspurtWaitMs(125)).toBe(0);
    media.toCaller(out);
    // The stream goes on: audio arriving while some is still playing is not held.
    media.fromAgent(frame(20), 140);
    expect(media.talkspurtWaitMs(145)).toBe(0);
    media.toCaller(out);
    media.toCaller(out); // ran dry: silence, a new talkspurt next
    media.fromAgent(frame(20), 300);
    expect(media.talkspurtWaitMs(301)).toBe(19);
  });

  it('sends at once with no playout delay, and never holds ringback', () => {
    const media = chain(0);
    media.fromAgent(frame(20), 105);
    expect(media.talkspurtWaitMs(105)).toBe(0);
    const ringing = chain(20);
    ringing.ringback = true;
    ringing.fromAgent(frame(20), 105);
    expect(ringing.talkspurtWaitMs(100)).toBe(0);
  });

  it('moves the phase a millisecond a second towards the playout delay, for real-time streams', () => {
    const stepsFor = (waitMs: number) => {
      const media = chain(20);
      const out = Buffer.alloc(160);
      const steps: number[] = [];
      media.fromAgent(frame(20), 0);
      for (let k = 0; k < 150; k++) {
        media.fromAgent(frame(20), 20 * (k + 1));
        media.toCaller(out, undefined, 20 * k + waitMs);
        steps.push(media.phaseStepMs());
      }
      return steps.filter((step) => step !== 0);
    };
    expect(stepsFor(25)).toEqual([1, 1, 1]); // waited 5 ms more than needed: ticks come sooner
    expect(stepsFor(18)).toEqual([-1, -1, -1]); // less than the delay: later
    expect(stepsFor(20.4)).toEqual([]);
  });

  it('leaves the phase alone for audio sent ahead of time', () => {
    const media = chain(20);
    const out = Buffer.alloc(160);
    media.fromAgent(frame(5000), 0);
    for (let k = 0; k < 150; k++) {
      media.toCaller(out, undefined, 20 * k + 25);
      expect(media.phaseStepMs()).toBe(0);
    }
  });

  it('brings a stream that waits far too long back to the playout delay', () => {
    const media = chain(20);
    const out = Buffer.alloc(160);
    let phase = 0; // how much sooner the ticks come, in total
    const delays: number[] = [];
    // The agent's frames arrive every 20 ms, but a stall left 9 frames queued ahead of them.
    media.fromAgent(frame(180), 0);
    for (let k = 0; k < 1500; k++) {
      const at = 20 * k + 5 - phase;
      media.fromAgent(frame(20), 20 * k);
      media.toCaller(out, undefined, at);
      phase += media.phaseStepMs();
      delays.push(media.playout.queuedSamples / 8 + (at - 20 * k)); // ms from arrival to play
    }
    // Whole frames first (half the excess each second), then 1 ms steps down to 20 ms.
    expect(delays[0]).toBeGreaterThan(180);
    expect(media.playout.trimmedSamples % 160).toBe(0);
    expect(media.playout.trimmedSamples / 8).toBeGreaterThanOrEqual(160);
    expect(Math.max(...delays.slice(-100))).toBeLessThanOrEqual(21);
    expect(Math.min(...delays.slice(-100))).toBeGreaterThanOrEqual(19);
  });

  it('holds a slot open up to 10 ms for the late frame of a running stream, then keeps the phase', () => {
    const media = chain(20);
    const out = Buffer.alloc(160);
    expect(media.holdForLateAudio(0)).toBe(false); // nothing played yet: silence goes at once
    media.fromAgent(frame(20), 0);
    media.toCaller(out, undefined, 20);
    expect(media.nextTickMs(20, 20)).toBe(20);
    expect(media.holdForLateAudio(40)).toBe(true); // the next frame is late
    expect(media.holdForLateAudio(44)).toBe(true);
    media.fromAgent(frame(20), 45);
    expect(media.holdForLateAudio(45)).toBe(false);
    media.toCaller(out, undefined, 45);
    expect(media.nextTickMs(45, 20)).toBe(15); // back on the stream's phase: 60
    // Not here within the grace: silence, and the stream counts as stopped.
    expect(media.holdForLateAudio(60)).toBe(true);
    expect(media.holdForLateAudio(69)).toBe(true);
    expect(media.holdForLateAudio(70)).toBe(false);
    media.toCaller(out, undefined, 70);
    expect(media.nextTickMs(70, 20)).toBe(10);
    expect(media.holdForLateAudio(80)).toBe(false);
  });
});
