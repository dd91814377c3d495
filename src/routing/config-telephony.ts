/**
 * The config of cloud telephony providers (docs/providers.md): named agents a provider's number
 * reaches, and the `telephony` settings (the public URL providers call back to, the webhook and
 * stream listener, each provider's account). Secrets come from the environment.
 */
import { z } from 'zod';
import { audioSettings, e164, linkSettings } from './config-parts.js';

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, _ and -, at most 63');
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');

/**
 * A voice agent a provider's call reaches by name: its flow, its voice-agent provider and its
 * link, as a phone endpoint has them. Its name is the endpoint id its agent sessions carry.
 */
export const agent = z
  .object({
    name,
    flow: z
      .object({
        id: z.string().min(1),
        publishedVersion: z.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    provider: z.string().min(1).optional(),
    audio: audioSettings,
    link: linkSettings,
  })
  .strict();

const twilio = z
  .object({
    accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits'),
    authTokenEnv: envName.default('TWILIO_AUTH_TOKEN'),
    phoneNumber: e164.optional(),
    /** Live calls through Twilio, inbound and outbound together; 0: no limit. */
    maxConcurrent: z.number().int().min(0).default(0),
    /** Twilio's REST API; another base only for a stand-in (tests). */
    apiBaseUrl: z.url().default('https://api.twilio.com'),
  })
  .strict();

const vobiz = z
  .object({
    authId: z.string().min(1),
    authTokenEnv: envName.default('VOBIZ_AUTH_TOKEN'),
    phoneNumber: e164.optional(),
    /** Live calls through Vobiz; 0: no limit. */
    maxConcurrent: z.number().int().min(0).default(0),
    /** Vobiz's REST API; another base only for a stand-in (tests). */
    apiBaseUrl: z.url().default('https://api.vobiz.ai'),
  })
  .strict();

const exotel = z
  .object({
    accountSid: z.string().min(1),
    apiKey: z.string().min(1),
    apiTokenEnv: envName.default('EXOTEL_API_TOKEN'),
    phoneNumber: e164.optional(),
    maxConcurrent: z.number().int().min(0).default(0),
    /** Exotel's API host (api.exotel.com, or api.in.exotel.com for the Mumbai cluster). */
    apiBase: z.url().default('https://api.exotel.com'),
    /** The stream's PCM rate, asked for in the stream URL. */
    sampleRate: z.union([z.literal(8000), z.literal(16000), z.literal(24000)]).default(8000),
  })
  .strict();

export const telephony = z
  .object({
    /** The https URL providers reach this instance at (webhooks and wss:// streams). */
    publicBaseUrl: z.url({ protocol: /^https?$/, error: 'must be an https:// URL' }),
    /** Where the webhook and stream listener binds (behind the TLS proxy of publicBaseUrl). */
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8090),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8090 }),
    /** Environment variable holding the settings API's keys (X-API-Key), comma-separated. */
    apiKeysEnv: envName.default('TELGATE_API_KEYS'),
    /** Where the settings API keeps what it is given when there is no Redis. */
    settingsFile: z.string().min(1).default('data/telephony-settings.json'),
    /** Seconds a stream token minted in a webhook answer may wait for its stream. */
    streamTokenTtlSeconds: z.number().int().min(5).max(600).default(60),
    twilio: twilio.optional(),
    vobiz: vobiz.optional(),
    exotel: exotel.optional(),
  })
  .strict();

export type AgentConfig = z.infer<typeof agent>;
export type TelephonyConfig = z.infer<typeof telephony>;
