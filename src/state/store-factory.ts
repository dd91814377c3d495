/** The state store a config asks for: Redis when it (or REDIS_URL) names one, else in memory. */
import type { Logger } from 'pino';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { StateStore } from './store.js';
import { MemoryStore } from './store-memory.js';
import { RedisStore, type RedisStoreOptions } from './store-redis.js';

export function redisUrlOf(config: TelgateConfig, env: NodeJS.ProcessEnv): string | undefined {
  return config.state.redis.url ?? env.REDIS_URL;
}

export function createStateStore(
  config: TelgateConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  overrides: Partial<RedisStoreOptions> = {},
): StateStore {
  const url = redisUrlOf(config, env);
  if (!url) return new MemoryStore();
  const { redis } = config.state;
  return new RedisStore({
    url,
    keyPrefix: redis.keyPrefix,
    leaseMs: config.state.leaseSeconds * 1000,
    onOutage: redis.onOutage,
    eventsMaxLen: redis.eventsMaxLen,
    commandTimeoutMs: redis.commandTimeoutMs,
    logger,
    ...overrides,
  });
}
