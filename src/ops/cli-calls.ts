/**
 * `telgate calls [DIR]`: the live calls of the whole cluster, read from Redis when the config
 * (or REDIS_URL) names one, else from this host's instance over its ops HTTP server.
 */
import { pino } from 'pino';
import { loadConfig } from '../routing/config-load.js';
import type { LiveCallRecord } from '../state/store.js';
import { createStateStore, redisUrlOf } from '../state/store-factory.js';
import { redacted, type RedisStore } from '../state/store-redis.js';

export async function listLiveCalls(
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<{ source: string; calls: LiveCallRecord[] }> {
  const config = await loadConfig(dir);
  const url = redisUrlOf(config, env);
  if (url) {
    const store = createStateStore(config, env, pino({ level: 'silent' }), {
      onOutage: 'refuse',
      commandTimeoutMs: 2000,
    }) as RedisStore;
    try {
      await store.start();
      if (store.health !== 'up') throw new Error(`Redis unreachable at ${redacted(url)}`);
      return { source: redacted(url), calls: await store.listCalls() };
    } finally {
      await store.close();
    }
  }
  const { host, port } = config.ops.listen;
  const at = `http://${host.includes(':') ? `[${host}]` : host}:${port}/calls`;
  const token = config.ops.tokenEnv ? env[config.ops.tokenEnv] : undefined;
  const response = await fetch(at, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(3000),
  }).catch((err: Error) => {
    throw new Error(`no telgate answers at ${at} (${err.message}), and no Redis is configured`);
  });
  if (!response.ok) throw new Error(`${at} answered HTTP ${response.status}`);
  const body = (await response.json()) as { calls: LiveCallRecord[] };
  return { source: at, calls: body.calls };
}

/** One line per call, aligned; durations from `now`. */
export function formatCalls(calls: LiveCallRecord[], now = Date.now()): string {
  const header = [
    'CALL-ID',
    'INSTANCE',
    'ENDPOINT',
    'STATE',
    'AGE',
    'DIALED',
    'CALLER',
    'TRACE-ID',
  ];
  const rows = [...calls]
    .sort((x, y) => x.startedAt - y.startedAt)
    .map((c) => [
      c.callId,
      c.instance,
      c.endpointId,
      c.state,
      `${Math.max(0, Math.round((now - c.startedAt) / 1000))}s`,
      c.dialed,
      c.caller,
      c.traceId,
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
