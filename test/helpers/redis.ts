/** A throwaway redis-server on loopback for a test: no persistence, stopped by PID. */
import { Redis } from 'ioredis';
import { signal, startProcess, waitForOutput, type Running } from './processes.js';

export interface TestRedis {
  port: number;
  url: string;
  /** A client of the test's own, for looking at what telgate wrote. */
  client: Redis;
  /** Stops the server (its data goes with it: no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(port: number): Promise<TestRedis> {
  let running = await launch(port);
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  const stop = async () => {
    signal(running.child, 'SIGKILL');
    await running.done;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    stop,
    restart: async () => {
      running = await launch(port);
    },
    close: async () => {
      client.disconnect();
      await stop();
    },
  };
}

async function launch(port: number): Promise<Running> {
  const running = startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { timeoutMs: 600_000 },
  );
  await waitForOutput(running, /Ready to accept connections/, 10_000);
  return running;
}
