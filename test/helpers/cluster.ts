/** The config of one telgate instance of a test or bench cluster sharing a Redis. */
import { BASE, PUBLISHED } from './gateway.js';

export interface ClusterInstance {
  name: string;
  sipPort: number;
  mediaMin: number;
}

/** Endpoints: `echo` (100) uncapped, and each of `capped` ({ id: maxCalls }) from 200 up. */
export function clusterConfig(
  instance: ClusterInstance,
  options: {
    redisUrl: string;
    leaseSeconds: number;
    drainMaxSeconds: number;
    mediaPorts: number;
    capped: Record<string, number>;
  },
): Record<string, unknown> {
  const capped = Object.entries(options.capped);
  return {
    sip: { listen: { host: '127.0.0.1', port: instance.sipPort } },
    media: {
      host: '127.0.0.1',
      portMin: instance.mediaMin,
      portMax: instance.mediaMin + options.mediaPorts - 1,
    },
    ops: { listen: { host: '127.0.0.1', port: 0 } },
    state: {
      instanceId: instance.name,
      leaseSeconds: options.leaseSeconds,
      redis: { url: options.redisUrl },
    },
    drain: { maxSeconds: options.drainMaxSeconds },
    localAgent: {
      enabled: true,
      listen: { host: '127.0.0.1', port: 0 },
      behaviours: Object.fromEntries(
        ['echo', ...capped.map(([id]) => id)].map((id) => [id, { kind: 'echo' }]),
      ),
    },
    baseNumbers: [{ number: BASE, extensions: true }],
    endpoints: [
      { id: 'echo', baseNumber: BASE, extension: '100', flow: PUBLISHED },
      ...capped.map(([id, maxCalls], i) => ({
        id,
        baseNumber: BASE,
        extension: String(200 + 100 * i),
        flow: PUBLISHED,
        maxCalls,
      })),
    ],
  };
}
