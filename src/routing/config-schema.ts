/**
 * The config model (docs/config.md describes every field). zod validates the YAML and gives
 * errors with a path; cross-field rules (unique extensions, known base numbers) are refinements
 * so they report through the same channel.
 */
import { z } from 'zod';
import {
  baseNumber,
  endpoint,
  ID_MESSAGE,
  ID_RE,
  provider,
  routing,
  trunk,
} from './config-parts.js';
import { agent, telephony } from './config-telephony.js';
import { device, registrar } from './config-devices.js';
import { checkReferences } from './config-rules.js';

const port = z.number().int().min(0).max(65535);

const listen = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(5060),
});

const atMs = z.number().int().min(0).max(86_400_000);
const behaviourStep = z.discriminatedUnion('do', [
  z
    .object({
      atMs,
      do: z.literal('play'),
      frequency: z.number().min(20).max(20000),
      ms: z.number().int().min(1).max(600_000),
      amplitude: z.number().gt(0).max(1).optional(),
    })
    .strict(),
  z.object({ atMs, do: z.literal('mark'), name: z.string().min(1).max(200) }).strict(),
  z.object({ atMs, do: z.literal('clear') }).strict(),
  z
    .object({
      atMs,
      do: z.literal('dtmf'),
      digits: z.string().regex(/^[0-9*#A-Da-d]{1,64}$/, 'digits are 0-9 * # A-D'),
      durationMs: z.number().int().min(40).max(2000).optional(),
    })
    .strict(),
  z.object({ atMs, do: z.literal('hangup'), reason: z.string().max(200).optional() }).strict(),
  z.object({ atMs, do: z.literal('drop'), refuseResume: z.boolean().optional() }).strict(),
  z
    .object({
      atMs,
      do: z.literal('transfer'),
      target: z.string().min(1).max(256),
      mode: z.enum(['blind', 'bridged', 'warm']).default('bridged'),
      timeoutMs: z.number().int().min(1000).max(120_000).optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .strict(),
  z.object({ atMs, do: z.literal('transfer-complete') }).strict(),
  z.object({ atMs, do: z.literal('transfer-cancel') }).strict(),
]);

const behaviourCommon = {
  hangupAfterMs: z.number().int().min(0).optional(),
  steps: z.array(behaviourStep).max(1000).optional(),
  slowConsumer: z.boolean().optional(),
};

const behaviour = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('echo'), ...behaviourCommon }).strict(),
  z
    .object({
      kind: z.literal('tone'),
      frequency: z.number().min(20).max(20000),
      amplitude: z.number().gt(0).max(1).optional(),
      ...behaviourCommon,
    })
    .strict(),
  z.object({ kind: z.literal('script'), ...behaviourCommon }).strict(),
]);

export const configSchema = z
  .object({
    sip: z
      .object({
        /**
         * `native`: telgate's own SIP stack on `listen`; `drachtio`: telgate as an application
         * of the drachtio-server at `drachtio` (which then owns every SIP port).
         * Environment override: TELGATE_SIP_ENGINE.
         */
        engine: z.enum(['native', 'drachtio']).default('native'),
        /** drachtio-server's admin port; env DRACHTIO_HOST, DRACHTIO_PORT, DRACHTIO_SECRET. */
        drachtio: z
          .object({
            host: z.string().min(1).default('127.0.0.1'),
            port: z.number().int().min(1).max(65535).default(9022),
            secret: z.string().min(1).optional(),
            /** TLS to the admin port, checked against `caFile` (or the system's CAs). */
            tls: z
              .object({
                caFile: z.string().min(1).optional(),
                rejectUnauthorized: z.boolean().default(true),
              })
              .strict()
              .optional(),
          })
          .strict()
          .default({ host: '127.0.0.1', port: 9022 }),
        listen: listen.default({ host: '127.0.0.1', port: 5060 }),
        advertisedHost: z.string().min(1).optional(),
        transports: z
          .array(z.enum(['udp', 'tcp']))
          .min(1)
          .refine((t) => new Set(t).size === t.length, 'each transport once')
          .default(['udp', 'tcp']),
        tcp: z
          .object({
            idleTimeoutMs: z.number().int().min(1000).max(3_600_000),
            maxConnections: z.number().int().min(1).max(100_000),
            maxConnectionsPerSource: z.number().int().min(1).max(100_000),
          })
          .partial()
          .strict()
          .default({}),
        tls: z
          .object({
            port: z.number().int().min(0).max(65535).default(5061),
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            /** CAs for client certificates and for servers telgate connects to. */
            caFile: z.string().min(1).optional(),
            requireClientCert: z.boolean().default(false),
            verifyServers: z.boolean().default(true),
          })
          .strict()
          .optional(),
        registrar: registrar.default(registrar.parse({})),
        /**
         * SIP over WebSocket (RFC 7118) for browsers, and the call page, on one HTTP port:
         * `wss` with the TLS certificate of `tls` when `secure`.
         */
        websocket: z
          .object({
            port: z.number().int().min(0).max(65535).default(8088),
            secure: z.boolean().default(false),
          })
          .strict()
          .optional(),
        timers: z
          .object({
            t1: z.number().int().min(50).max(5000),
            t2: z.number().int().min(200).max(64000),
            t4: z.number().int().min(200).max(64000),
          })
          .partial()
          .default({}),
      })
      .strict()
      .refine((sip) => !sip.websocket?.secure || sip.tls, {
        message: 'a secure websocket (wss) needs sip.tls: its certificate and key',
        path: ['websocket', 'secure'],
      })
      .default({
        engine: 'native',
        drachtio: { host: '127.0.0.1', port: 9022 },
        listen: { host: '127.0.0.1', port: 5060 },
        transports: ['udp', 'tcp'],
        tcp: {},
        registrar: registrar.parse({}),
        timers: {},
      }),
    media: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        advertisedHost: z.string().min(1).optional(),
        portMin: z.number().int().min(1024).max(65534).default(20000),
        portMax: z.number().int().min(1025).max(65535).default(20999),
        strictSource: z.boolean().default(false),
        playoutMaxSeconds: z.number().min(1).max(600).default(60),
        jitterMinMs: z.number().int().min(20).max(200).default(20),
        jitterMaxMs: z.number().int().min(20).max(1000).default(200),
        playoutDelayMs: z.number().int().min(0).max(200).default(20),
        comfortNoise: z.boolean().default(true),
        /**
         * Call worker threads: each runs its share of the calls with its own media clock and
         * ports; 'auto' is one per core; 1 runs every call on the main thread.
         */
        workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
        /**
         * Real-time scheduling (SCHED_RR at this priority, 1–99) for the threads that run calls'
         * media: the call workers, or the main thread with workers 1. 0: ordinary scheduling.
         */
        realtimePriority: z.number().int().min(0).max(99).default(0),
        /** Browsers' calls (WebRTC): the UDP ports their ICE and DTLS-SRTP use. */
        webrtc: z
          .object({
            portMin: z.number().int().min(1024).max(65534).default(21000),
            portMax: z.number().int().min(1025).max(65535).default(21999),
          })
          .strict()
          .refine((w) => w.portMin < w.portMax, {
            message: 'portMin must be below portMax',
            path: ['portMin'],
          })
          .default({ portMin: 21000, portMax: 21999 }),
      })
      .strict()
      .refine((m) => m.portMin < m.portMax, {
        message: 'portMin must be below portMax',
        path: ['portMin'],
      })
      .refine((m) => m.jitterMinMs <= m.jitterMaxMs, {
        message: 'jitterMinMs must not be above jitterMaxMs',
        path: ['jitterMinMs'],
      })
      .default({
        host: '127.0.0.1',
        portMin: 20000,
        portMax: 20999,
        strictSource: false,
        playoutMaxSeconds: 60,
        jitterMinMs: 20,
        jitterMaxMs: 200,
        playoutDelayMs: 20,
        workers: 'auto',
        realtimePriority: 0,
        comfortNoise: true,
        webrtc: { portMin: 21000, portMax: 21999 },
      }),
    calls: z
      .object({
        mediaTimeoutSeconds: z.number().int().min(1).max(3600).default(30),
        maxDurationSeconds: z.number().int().min(1).max(86_400).default(14_400),
        provisioningTimeoutMs: z.number().int().min(500).max(60_000).default(10_000),
        earlyMedia: z.boolean().default(false),
        qualityIntervalSeconds: z.number().int().min(1).max(3600).default(5),
        overloadUtilization: z.number().min(0).max(1).default(0.8),
      })
      .strict()
      .default({
        mediaTimeoutSeconds: 30,
        maxDurationSeconds: 14_400,
        provisioningTimeoutMs: 10_000,
        earlyMedia: false,
        qualityIntervalSeconds: 5,
        overloadUtilization: 0.8,
      }),
    link: z
      .object({
        resumeWindowMs: z.number().int().min(0).max(300_000).default(10_000),
        holdAudioMs: z.number().int().min(0).max(60_000).default(5_000),
      })
      .strict()
      .default({ resumeWindowMs: 10_000, holdAudioMs: 5_000 }),
    telapi: z
      .object({
        url: z.url().optional(),
        apiKeyEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/)
          .default('TELAPI_API_KEY'),
        timeoutMs: z.number().int().min(100).max(60000).default(5000),
      })
      .strict()
      .default({ apiKeyEnv: 'TELAPI_API_KEY', timeoutMs: 5000 }),
    localAgent: z
      .object({
        enabled: z.boolean().default(false),
        listen: listen.default({ host: '127.0.0.1', port: 8089 }),
        behaviours: z.record(z.string(), behaviour).default({}),
        tokenTtlSeconds: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .default({
        enabled: false,
        listen: { host: '127.0.0.1', port: 8089 },
        behaviours: {},
        tokenTtlSeconds: 60,
      }),
    state: z
      .object({
        /** This instance's name in the registry and events; default `<hostname>:<sip port>`. */
        instanceId: z.string().regex(ID_RE, ID_MESSAGE).optional(),
        /** How long a slot or registry entry outlives its last heartbeat (an instance killed). */
        leaseSeconds: z.number().min(1).max(3600).default(15),
        redis: z
          .object({
            /** redis://[user:password@]host:port/db; REDIS_URL in the environment also sets it. */
            url: z
              .string()
              .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
              .optional(),
            keyPrefix: z.string().max(64).default('voiceai:'),
            /** New calls while Redis is away: local caps with a warning, or 503. */
            onOutage: z.enum(['local', 'refuse']).default('local'),
            eventsMaxLen: z.number().int().min(100).max(100_000_000).default(100_000),
            commandTimeoutMs: z.number().int().min(50).max(10_000).default(500),
          })
          .strict()
          .default({
            keyPrefix: 'voiceai:',
            onOutage: 'local',
            eventsMaxLen: 100_000,
            commandTimeoutMs: 500,
          }),
      })
      .strict()
      .default({
        leaseSeconds: 15,
        redis: {
          keyPrefix: 'voiceai:',
          onOutage: 'local',
          eventsMaxLen: 100_000,
          commandTimeoutMs: 500,
        },
      }),
    ops: z
      .object({
        /** The ops HTTP server (/healthz, /readyz, /metrics, /calls); port 0 picks a free one. */
        listen: z
          .object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9090) })
          .default({ host: '127.0.0.1', port: 9090 }),
        enabled: z.boolean().default(true),
        /** When set and the variable is present, every request needs `Authorization: Bearer`. */
        tokenEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/)
          .optional(),
      })
      .strict()
      .default({ listen: { host: '127.0.0.1', port: 9090 }, enabled: true }),
    drain: z
      .object({
        /** After SIGTERM, how long live calls may run on before they get a BYE. */
        maxSeconds: z.number().int().min(0).max(86_400).default(3600),
      })
      .strict()
      .default({ maxSeconds: 3600 }),
    providers: z.record(z.string().regex(ID_RE, ID_MESSAGE), provider).default({}),
    trunks: z.array(trunk).default([]),
    baseNumbers: z.array(baseNumber).default([]),
    endpoints: z.array(endpoint).default([]),
    agents: z.array(agent).default([]),
    devices: z.array(device).default([]),
    telephony: telephony.optional(),
    routing: routing.default({
      numberFrom: 'request-uri',
      internationalPrefix: '00',
      nationalPrefix: '0',
      capStatus: 503,
    }),
  })
  .strict()
  .superRefine(checkReferences);

export type TelgateConfig = z.infer<typeof configSchema>;
export type {
  BaseNumberConfig,
  EndpointConfig,
  PhoneEndpointConfig,
  TrunkConfig,
} from './config-parts.js';
