/**
 * The config model (docs/config.md describes every field). zod validates the YAML and gives
 * errors with a path; cross-field rules (unique extensions, known base numbers) are refinements
 * so they report through the same channel.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const e164 = z.string().regex(/^\+[1-9]\d{1,14}$/, 'must be an E.164 number such as +15550100');

const listen = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(5060),
});

const behaviour = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('echo'), hangupAfterMs: z.number().int().min(0).optional() }).strict(),
  z
    .object({
      kind: z.literal('tone'),
      frequency: z.number().min(20).max(20000),
      amplitude: z.number().gt(0).max(1).optional(),
      hangupAfterMs: z.number().int().min(0).optional(),
    })
    .strict(),
]);

export const configSchema = z
  .object({
    sip: z
      .object({
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
      .default({
        listen: { host: '127.0.0.1', port: 5060 },
        transports: ['udp', 'tcp'],
        tcp: {},
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
      })
      .strict()
      .refine((m) => m.portMin < m.portMax, {
        message: 'portMin must be below portMax',
        path: ['portMin'],
      })
      .default({
        host: '127.0.0.1',
        portMin: 20000,
        portMax: 20999,
        strictSource: false,
        playoutMaxSeconds: 60,
      }),
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
      })
      .strict()
      .default({ enabled: false, listen: { host: '127.0.0.1', port: 8089 }, behaviours: {} }),
    baseNumbers: z
      .array(z.object({ number: e164, extensions: z.boolean().default(false) }).strict())
      .default([]),
    endpoints: z
      .array(
        z
          .object({
            id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only (1-64)'),
            baseNumber: e164,
            extension: z
              .string()
              .regex(/^\d{3}$/, 'must be a 3-digit extension code')
              .optional(),
            codecs: z
              .array(z.enum(['PCMU', 'PCMA']))
              .min(1)
              .default(['PCMU', 'PCMA']),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const bases = new Map(cfg.baseNumbers.map((b) => [b.number, b]));
    const seenIds = new Set<string>();
    const seenExt = new Set<string>();
    cfg.endpoints.forEach((ep, i) => {
      const path = ['endpoints', i];
      if (seenIds.has(ep.id))
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'id'],
          message: `duplicate endpoint id ${ep.id}`,
        });
      seenIds.add(ep.id);
      const base = bases.get(ep.baseNumber);
      if (!base) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'baseNumber'],
          message: `unknown base number ${ep.baseNumber}`,
        });
        return;
      }
      if (base.extensions && !ep.extension) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'extension'],
          message: `base number ${ep.baseNumber} has extensions: an extension code is required`,
        });
      }
      if (!base.extensions && ep.extension) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'extension'],
          message: `base number ${ep.baseNumber} has no extensions`,
        });
      }
      const key = `${ep.baseNumber}/${ep.extension ?? ''}`;
      if (seenExt.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'extension'],
          message: `${ep.extension ? `extension ${ep.extension}` : 'the base number'} of ${ep.baseNumber} is already used by another endpoint`,
        });
      }
      seenExt.add(key);
    });
  });

export type TelgateConfig = z.infer<typeof configSchema>;
export type EndpointConfig = TelgateConfig['endpoints'][number];
export type BaseNumberConfig = TelgateConfig['baseNumbers'][number];
