/**
 * The parts of the config model (docs/config.md): voice-agent providers, trunks, base numbers,
 * the three kinds of endpoint and the routing options. Cross-references between them are
 * checked in config-rules.ts.
 */
import net from 'node:net';
import { z } from 'zod';
import { SRTP_SUITE_NAMES, type SrtpSuite } from '../media/srtp-keys.js';

export const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const ID_MESSAGE = 'letters, digits, _ . - only (1-64)';
const id = z.string().regex(ID_RE, ID_MESSAGE);
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');
export const e164 = z
  .string()
  .regex(/^\+[1-9]\d{1,14}$/, 'must be an E.164 number such as +15550100');

/** An IPv4 or IPv6 address, or a CIDR block of either. */
export const cidr = z.string().refine(isCidr, {
  message: 'must be an IP address or CIDR block such as 192.0.2.0/24 or 2001:db8::/32',
});

export function isCidr(text: string): boolean {
  const [address, prefix, extra] = text.split('/');
  const family = net.isIP(address);
  if (!family || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The audio format a voice agent speaks natively (docs/link-protocol.md). */
export const linkFormat = z.enum(['slin', 'slin16', 'slin24', 'slin48', 'ulaw', 'alaw']);

export const provider = z
  .object({
    nativeFormat: linkFormat,
    description: z.string().optional(),
    /** Concurrent calls to this voice-agent provider, cluster-wide (TelAPI's max_concurrent). */
    maxCalls: z.number().int().min(0).optional(),
  })
  .strict();

export const trunk = z
  .object({
    id,
    inbound: z
      .object({
        allow: z.array(cidr).min(1),
        /** Its calls must come over TLS with a client certificate `sip.tls.caFile` signed. */
        requireClientCert: z.boolean().default(false),
      })
      .strict()
      .optional(),
    outbound: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(5060),
        /** `tls` needs sip.tls (telgate's certificate, and the CAs the trunk's is checked by). */
        transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
        username: z.string().min(1).optional(),
        passwordEnv: envName.optional(),
        /** How the original caller travels on a bridged transfer's INVITE. */
        callerIdentity: z.enum(['pai', 'diversion', 'history-info', 'none']).default('pai'),
      })
      .strict()
      .optional(),
    maxCalls: z.number().int().min(0).optional(),
    /**
     * Its callers' identity is vouched for (P-Asserted-Identity, else From): telgate asserts
     * it onward on transfers. An untrusted trunk's caller is never asserted.
     */
    trusted: z.boolean().default(false),
  })
  .strict();

export const baseNumber = z
  .object({
    number: e164,
    extensions: z.boolean().default(false),
    trunk: id.optional(),
    maxCalls: z.number().int().min(0).optional(),
  })
  .strict();

const codecs = z
  .array(z.enum(['PCMU', 'PCMA', 'G722', 'L16', 'opus']))
  .min(1)
  .default(['PCMU', 'PCMA', 'G722', 'L16', 'opus']);

/**
 * Media encryption (SRTP with SDES keys, which only ever travel over SIP over TLS): `optional`
 * answers SRTP when it is offered; `required` takes only RTP/SAVP (488 otherwise).
 */
const encryption = z.enum(['optional', 'required']).default('optional');

/** The SRTP suites allowed, in the order telgate offers them. */
const ciphers = z
  .array(z.enum(SRTP_SUITE_NAMES as [SrtpSuite, ...SrtpSuite[]]))
  .min(1)
  .refine((c) => new Set(c).size === c.length, 'each suite once')
  .default([...SRTP_SUITE_NAMES]);

/** A transfer target pattern: E.164 digits, `*` at the end for any suffix. */
const targetPattern = z
  .string()
  .regex(/^\+?[0-9]*\*?$/, 'must be a number or a number prefix followed by *, e.g. +1555*');

/** An agent's link format pin, as endpoints and named agents have it. */
export const audioSettings = z.object({ linkFormat: linkFormat.optional() }).strict().optional();

/** How an agent's link connects: its dialect, and a URL of its own. */
export const linkSettings = z
  .object({
    dialect: z.enum(['telphi', 'asterisk', 'twilio']).default('telphi'),
    url: z.url({ protocol: /^wss?$/, error: 'must be a ws:// or wss:// URL' }).optional(),
  })
  .strict()
  .optional();

/** The agent's transfers: which targets, and whether the agent keeps listening when bridged. */
const transferSettings = z
  .object({
    allow: z.array(z.union([targetPattern, z.string().regex(/^sips?:[^\s]+$/)])).default([]),
    deny: z.array(targetPattern).default([]),
    allowInternational: z.boolean().default(false),
    allowPremium: z.boolean().default(false),
    /** Bridged transfers: the agent keeps hearing the call instead of leaving it. */
    agentListens: z.boolean().default(false),
  })
  .strict()
  .optional();

const phoneEndpoint = z
  .object({
    kind: z.literal('phone').default('phone'),
    id,
    baseNumber: e164,
    extension: z
      .string()
      .regex(/^\d{3}$/, 'must be a 3-digit extension code')
      .optional(),
    flow: z
      .object({ id, publishedVersion: z.number().int().min(1).optional() })
      .strict()
      .optional(),
    provider: id.optional(),
    /** Concurrent calls to this endpoint, cluster-wide. */
    maxCalls: z.number().int().min(0).optional(),
    audio: audioSettings,
    link: linkSettings,
    codecs,
    encryption,
    ciphers,
    /** Refuse (403) calls whose trunk reports STIR/SHAKEN verification failed. */
    refuseFailedVerification: z.boolean().default(false),
    egressBaseNumber: e164.optional(),
    transfer: transferSettings,
  })
  .strict();

const webVoiceEndpoint = z
  .object({
    kind: z.literal('web-voice'),
    id,
    slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -'),
    allowedOrigins: z.array(z.url()).default([]),
    allowedIps: z.array(cidr).default([]),
    /** Browsers may call it from any page and address (with neither list set). */
    allowAnywhere: z.boolean().default(false),
    /** telgate serves a page to call it at /call/<slug>. */
    callPage: z.boolean().default(false),
    flow: z
      .object({
        id,
        publishedVersion: z.number().int().min(1).optional(),
        /** Runs this draft version instead (a temporary test endpoint): active without a publish. */
        draftVersion: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    provider: id.optional(),
    maxCalls: z.number().int().min(0).optional(),
    codecs,
    encryption,
    ciphers,
    /** Where the agent's transfers of a browser's call leave, as for a phone endpoint. */
    egressBaseNumber: e164.optional(),
    transfer: transferSettings,
  })
  .strict();

const webChatEndpoint = z
  .object({
    kind: z.literal('web-chat'),
    id,
    slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -'),
    allowedOrigins: z.array(z.url()).default([]),
  })
  .strict();

/** An endpoint without `kind` is a phone endpoint. */
export const endpoint = z.preprocess(
  (value) =>
    value && typeof value === 'object' && !('kind' in value) ? { ...value, kind: 'phone' } : value,
  z.discriminatedUnion('kind', [phoneEndpoint, webVoiceEndpoint, webChatEndpoint]),
);

export const routing = z
  .object({
    /** Where the dialed number is read: the Request-URI user part or the To URI's. */
    numberFrom: z.enum(['request-uri', 'to']).default('request-uri'),
    /** Country code for numbers dialed in national format (without + or the international prefix). */
    countryCode: z
      .string()
      .regex(/^[1-9]\d{0,2}$/, 'must be a country calling code such as 1 or 44')
      .optional(),
    internationalPrefix: z
      .string()
      .regex(/^\d{1,4}$/)
      .default('00'),
    nationalPrefix: z
      .string()
      .regex(/^\d{0,2}$/)
      .default('0'),
    /** A header that carries the extension (e.g. X-Extension), read when the number has none. */
    extensionHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]+$/)
      .optional(),
    /** The status for a call over a cap: 503 (the default) or 486. */
    capStatus: z.union([z.literal(503), z.literal(486)]).default(503),
  })
  .strict();

export type LinkFormatName = z.infer<typeof linkFormat>;
export type TrunkConfig = z.infer<typeof trunk>;
export type BaseNumberConfig = z.infer<typeof baseNumber>;
export type EndpointConfig = z.infer<typeof endpoint>;
export type PhoneEndpointConfig = Extract<EndpointConfig, { kind: 'phone' }>;
export type WebVoiceEndpointConfig = Extract<EndpointConfig, { kind: 'web-voice' }>;
/** An endpoint that carries calls (media). */
export type CallEndpointConfig = PhoneEndpointConfig | WebVoiceEndpointConfig;
