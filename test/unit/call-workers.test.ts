import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { pickWorker, shareOf } from '../../src/call/call-workers.js';
import { Rpc, RpcClosed } from '../../src/call/worker-rpc.js';

describe('the worker a new call goes to', () => {
  const worker = (calls: number, utilization: number, alive = true) => ({
    alive,
    calls,
    utilization,
  });

  it('the fewest calls among those under the limit in their last second', () => {
    expect(pickWorker([worker(3, 0.5), worker(1, 0.95), worker(2, 0.4)], 0.9)).toBe(2);
  });

  it('when none is under the limit, the fewest calls anyway: refusing is the guard’s', () => {
    expect(pickWorker([worker(3, 0.95), worker(1, 0.92)], 0.9)).toBe(1);
  });

  it('never a dead worker, and none when all are dead', () => {
    expect(pickWorker([worker(0, 0.1, false), worker(5, 0.95)], 0.9)).toBe(1);
    expect(pickWorker([worker(0, 0.1, false)], 0.9)).toBeUndefined();
  });

  it('with the guard off (0), by calls alone', () => {
    expect(pickWorker([worker(2, 0.99), worker(4, 0.1)], 0)).toBe(0);
  });
});

describe("the workers' shares of the media port range", () => {
  it('split the pairs evenly, each share starting on an even port, the last taking the rest', () => {
    const shares = [0, 1, 2].map((i) => shareOf(20001, 20999, i, 3));
    expect(shares).toEqual([
      { min: 20002, max: 20333 },
      { min: 20334, max: 20665 },
      { min: 20666, max: 20999 },
    ]);
    for (const share of shares) expect(share.min % 2).toBe(0);
  });

  it('refuses a range with fewer pairs than workers', () => {
    expect(() => shareOf(20000, 20003, 0, 4)).toThrow(/too small for 4 workers/);
  });
});

describe('requests and events between threads', () => {
  const channels: MessageChannel[] = [];
  afterEach(() => {
    for (const channel of channels.splice(0)) {
      channel.port1.close();
      channel.port2.close();
    }
  });

  function pair(): [Rpc, Rpc] {
    const channel = new MessageChannel();
    channels.push(channel);
    return [new Rpc(channel.port1), new Rpc(channel.port2)];
  }

  it('answers a request with its value, a failure with its message, an event with nothing', async () => {
    const [a, b] = pair();
    const heard: string[] = [];
    b.handle('add', ({ x, y }: { x: number; y: number }) => x + y);
    b.handle('slow', async (ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)));
    b.handle('fail', () => {
      throw new Error('no such dialog');
    });
    b.handle('log', (line: string) => void heard.push(line));
    a.notify('log', 'first');
    await expect(a.request('add', { x: 2, y: 3 })).resolves.toBe(5);
    await expect(a.request('slow', 5)).resolves.toBe(5);
    await expect(a.request('fail', null)).rejects.toThrow('no such dialog');
    await expect(a.request('missing', null)).rejects.toThrow('no handler for missing');
    expect(heard).toEqual(['first']);
  });

  it('fails the open requests, and later ones at once, when the link closes', async () => {
    const [a, b] = pair();
    b.handle('never', () => new Promise(() => undefined));
    const open = a.request('never', null);
    a.close('worker exited');
    await expect(open).rejects.toBeInstanceOf(RpcClosed);
    await expect(a.request('never', null)).rejects.toThrow('worker exited');
  });
});
