/** A throwaway redis-server on loopback for a test, in a scratch folder, stopped by PID. */
import { Redis } from 'ioredis';
import { signal, startProcess, waitForOutput, type Running } from './processes.js';
import { workDir } from './sipp.js';

export interface TestRedis {
  port: number;
  url: string;
  /** A client of the test's own, for looking at what telgate wrote. */
  client: Redis;
  /** Stops the server; its data goes with it unless `save` writes it for the next start. */
  stop(options?: { save?: boolean }): Promise<void>;
  /** Starts it again on the same port: empty, or with what stop({ save: true }) wrote. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(port: number, timeoutMs = 600_000): Promise<TestRedis> {
  const dir = await workDir();
  let running = await launch(port, dir, timeoutMs);
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  await client.connect();
  const stop = async (options: { save?: boolean } = {}) => {
    if (options.save) await client.shutdown('SAVE').catch(() => {});
    else signal(running.child, 'SIGKILL');
    await running.done;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    stop,
    restart: async () => {
      running = await launch(port, dir, timeoutMs);
    },
    close: async () => {
      client.disconnect();
      await stop();
    },
  };
}

/** No automatic snapshots; a SHUTDOWN SAVE writes `dir`/dump.rdb, which the next start loads. */
async function launch(port: number, dir: string, timeoutMs: number): Promise<Running> {
  const running = startProcess(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { timeoutMs },
  );
  await waitForOutput(running, /Ready to accept connections/, 10_000);
  return running;
}
