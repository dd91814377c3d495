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
});
