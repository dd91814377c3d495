/**
 * SIP devices (phones, softphones, PBXs that register with a username and password) and the
 * registrar that serves them. A device's password is never in the config: only its digest HA1,
 * H(username:realm:password) per algorithm (`telgate device ha1` prints them), so the file
 * leaks no password. MD5 is the default algorithm because common clients give up on any other.
 */
import { z } from 'zod';
import { SRTP_SUITE_NAMES, type SrtpSuite } from '../media/srtp-keys.js';
import { e164, ID_MESSAGE, ID_RE } from './config-parts.js';

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');

export const registrar = z
  .object({
    /** The digest realm devices' HA1 are computed for. */
    realm: z.string().min(1).max(128).default('telgate'),
    defaultExpires: z.number().int().min(1).max(86_400).default(3600),
    /** Shorter registrations get 423 Interval Too Brief with Min-Expires. */
    minExpires: z.number().int().min(1).max(86_400).default(60),
    maxExpires: z.number().int().min(1).max(86_400).default(3600),
    nonceTtlSeconds: z.number().int().min(10).max(3600).default(300),
    /**
     * The secret nonces are signed with, shared by a cluster's instances so any of them checks
     * any nonce (random per process without it).
     */
    nonceSecretEnv: envName.default('TELGATE_DIGEST_SECRET'),
    /** Failed authentications per source before it is ignored for `blockSeconds`. */
    maxFailures: z.number().int().min(1).max(10_000).default(10),
    failureWindowSeconds: z.number().int().min(1).max(3600).default(60),
    blockSeconds: z.number().int().min(1).max(86_400).default(300),
    /**
     * How often a device registered with SIP outbound over TCP or TLS sends its CRLF keep-alive
     * (the 200's Flow-Timer, RFC 5626 §5.4): below `sip.tcp.idleTimeoutMs` (120 s by default), so
     * a live flow is never closed as idle.
     */
    flowTimerSeconds: z.number().int().min(10).max(3600).default(90),
  })
  .strict();

const hex = (length: number) =>
  z.string().regex(new RegExp(`^[0-9a-fA-F]{${length}}$`), `must be ${length} hex digits`);

export const device = z
  .object({
    id: z.string().regex(ID_RE, ID_MESSAGE),
    username: z
      .string()
      .regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$/, 'a SIP user part, at most 64 characters'),
    /** H(username:realm:password), hex, per digest algorithm it may use. */
    ha1: z
      .object({ MD5: hex(32).optional(), 'SHA-256': hex(64).optional() })
      .strict()
      .refine((h) => h.MD5 || h['SHA-256'], 'needs the HA1 of at least one algorithm'),
    /** The From display name of its calls' egress legs (transfers through the egress trunk). */
    callerId: z.string().min(1).max(64).optional(),
    /** The number its calls' egress legs show and assert: a base number, or `random` among them. */
    sendAs: z.union([e164, z.literal('random')]).optional(),
    codecs: z
      .array(z.enum(['PCMU', 'PCMA', 'G722', 'L16', 'opus']))
      .min(1)
      .default(['PCMU', 'PCMA', 'G722', 'L16', 'opus']),
    encryption: z.enum(['optional', 'required']).default('optional'),
    ciphers: z
      .array(z.enum(SRTP_SUITE_NAMES as [SrtpSuite, ...SrtpSuite[]]))
      .min(1)
      .default([...SRTP_SUITE_NAMES]),
    /** What a call from the device reaches, and whether agents may transfer to it. */
    handler: z
      .object({
        endpoint: z.string().regex(ID_RE, ID_MESSAGE).optional(),
        transferTarget: z.boolean().default(false),
      })
      .strict()
      .default({ transferTarget: false }),
  })
  .strict();

export type DeviceConfig = z.infer<typeof device>;
export type RegistrarConfig = z.infer<typeof registrar>;
