import { describe, expect, it } from 'vitest';
import { describeCodec } from '../../src/codecs/codec.js';
import { MediaChain } from '../../src/call/media-chain.js';

function chain(): MediaChain {
  const media = new MediaChain({
    linkFormat: 'slin',
    playoutMaxSeconds: 2,
    jitterMinMs: 20,
    jitterMaxMs: 200,
    playoutDelayMs: 20,
  });
  media.setCodec(describeCodec('PCMU', 8000, 1, 8000)!);
  return media;
}

describe("the caller's packets to the agent", () => {
  it('go out once held the jitter target, without waiting for a late next packet', () => {
    const media = chain();
    const sent: number[] = [];
    let now = 0;
    const send = () => void sent.push(now);
    const packet = (n: number, at: number) => {
      now = at;
      const header = { ssrc: 7, sequence: n, timestamp: 1000 + 160 * n, marker: n === 0 };
      media.pushCaller(header, Buffer.alloc(160, 0xff), send, at);
    };
    for (let n = 0; n < 5; n++) packet(n, 20 * n); // each releases the one before it
    expect(sent).toEqual([20, 40, 60, 80]);
    // Packet 5 is 14 ms late: packet 4 leaves at its own time, 20 ms after it arrived.
    now = 99;
    expect(media.releaseDue(now, send)).toBeGreaterThanOrEqual(1);
    expect(sent).toHaveLength(5);
    expect(sent[4]).toBe(99);
    packet(5, 114);
    expect(sent).toHaveLength(5); // held: its own target delay is not over
    now = 119;
    media.releaseDue(now, send);
    expect(sent).toHaveLength(6);
  });

  it('wait for nothing without packets, and say when to look again', () => {
    const media = chain();
    expect(media.releaseDue(0, () => undefined)).toBe(20);
  });
});
