/**
 * The telephony settings as the platform's API names them (`provider`, `public_base_url`,
 * `twilio_account_sid`, …), how they are checked, shown (secrets masked), and laid over the
 * config's `telephony` section: a value set through the API wins over the file's, and a secret
 * set through the API is used instead of the environment variable the file names.
 */
import { z } from 'zod';
import type { TelephonyConfig } from '../routing/config-telephony.js';
import type { TelephonySettingsRecord } from '../state/settings-store.js';

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number, e.g. +15551234567');
const text = z.string().min(1).max(200);
const max = z.number().int().min(0).max(100_000);

export const telephonySettingsUpdate = z
  .object({
    provider: z.enum(['twilio', 'exotel', 'vobiz']),
    public_base_url: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
    twilio_account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC + 32 hex digits'),
    twilio_auth_token: text,
    twilio_phone_number: e164,
    twilio_max_concurrent: max,
    exotel_account_sid: text,
    exotel_api_key: text,
    exotel_api_token: text,
    exotel_phone_number: e164,
    exotel_api_base: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
    exotel_max_concurrent: max,
    vobiz_auth_id: text,
    vobiz_auth_token: text,
    vobiz_phone_number: e164,
    vobiz_max_concurrent: max,
  })
  .partial()
  .strict();

export type TelephonySettingsUpdate = z.infer<typeof telephonySettingsUpdate>;

const SECRETS = ['twilio_auth_token', 'exotel_api_token', 'vobiz_auth_token'] as const;
/** Environment variables the API's secrets are handed to the providers' wires under. */
const SECRET_ENV: Record<(typeof SECRETS)[number], string> = {
  twilio_auth_token: 'TELGATE_API_TWILIO_AUTH_TOKEN',
  exotel_api_token: 'TELGATE_API_EXOTEL_API_TOKEN',
  vobiz_auth_token: 'TELGATE_API_VOBIZ_AUTH_TOKEN',
};

/** The settings as the config and the environment give them, in the API's names. */
function fromConfig(
  t: TelephonyConfig | undefined,
  env: NodeJS.ProcessEnv,
): TelephonySettingsRecord {
  const out: Record<string, string | number | undefined> = {
    public_base_url: t?.publicBaseUrl,
    twilio_account_sid: t?.twilio?.accountSid,
    twilio_auth_token: t?.twilio && env[t.twilio.authTokenEnv],
    twilio_phone_number: t?.twilio?.phoneNumber,
    twilio_max_concurrent: t?.twilio?.maxConcurrent,
    exotel_account_sid: t?.exotel?.accountSid,
    exotel_api_key: t?.exotel?.apiKey,
    exotel_api_token: t?.exotel && env[t.exotel.apiTokenEnv],
    exotel_phone_number: t?.exotel?.phoneNumber,
    exotel_api_base: t?.exotel?.apiBase,
    exotel_max_concurrent: t?.exotel?.maxConcurrent,
    vobiz_auth_id: t?.vobiz?.authId,
    vobiz_auth_token: t?.vobiz && env[t.vobiz.authTokenEnv],
    vobiz_phone_number: t?.vobiz?.phoneNumber,
    vobiz_max_concurrent: t?.vobiz?.maxConcurrent,
  };
  return Object.fromEntries(
    Object.entries(out).filter(
      (e): e is [string, string | number] => e[1] !== undefined && e[1] !== '',
    ),
  );
}

/** What GET shows: every field, secrets as `********` when set, unset ones as null. */
export function settingsView(
  stored: TelephonySettingsRecord,
  config: TelephonyConfig | undefined,
  env: NodeJS.ProcessEnv,
): Record<string, string | number | null> {
  const merged = { ...fromConfig(config, env), ...stored };
  const view: Record<string, string | number | null> = {};
  for (const field of Object.keys(telephonySettingsUpdate.shape)) {
    const value = merged[field];
    view[field] =
      value === undefined
        ? null
        : (SECRETS as readonly string[]).includes(field)
          ? '********'
          : value;
  }
  view.provider ??= config?.twilio
    ? 'twilio'
    : config?.vobiz
      ? 'vobiz'
      : config?.exotel
        ? 'exotel'
        : null;
  return view;
}

/**
 * The config's telephony with the API's settings laid over it, and the environment the
 * providers' wires read their secrets from (the API's secrets added under their own names).
 */
export function effectiveTelephony(
  config: TelephonyConfig | undefined,
  stored: TelephonySettingsRecord,
  env: NodeJS.ProcessEnv,
): { telephony: TelephonyConfig | undefined; env: NodeJS.ProcessEnv } {
  if (!config) return { telephony: undefined, env };
  const s = stored as TelephonySettingsUpdate;
  const overlay: NodeJS.ProcessEnv = { ...env };
  for (const secret of SECRETS) if (s[secret]) overlay[SECRET_ENV[secret]] = String(s[secret]);
  const twilio = s.twilio_account_sid ?? config.twilio?.accountSid;
  const exotel = (s.exotel_account_sid && s.exotel_api_key) || config.exotel;
  const vobiz = s.vobiz_auth_id ?? config.vobiz?.authId;
  const telephony: TelephonyConfig = {
    ...config,
    publicBaseUrl: s.public_base_url ?? config.publicBaseUrl,
    twilio: twilio
      ? {
          apiBaseUrl: 'https://api.twilio.com',
          authTokenEnv: 'TWILIO_AUTH_TOKEN',
          maxConcurrent: 0,
          ...config.twilio,
          accountSid: twilio,
          ...(s.twilio_auth_token && { authTokenEnv: SECRET_ENV.twilio_auth_token }),
          ...(s.twilio_phone_number && { phoneNumber: s.twilio_phone_number }),
          ...(s.twilio_max_concurrent !== undefined && { maxConcurrent: s.twilio_max_concurrent }),
        }
      : undefined,
    vobiz: vobiz
      ? {
          apiBaseUrl: 'https://api.vobiz.ai',
          authTokenEnv: 'VOBIZ_AUTH_TOKEN',
          maxConcurrent: 0,
          ...config.vobiz,
          authId: vobiz,
          ...(s.vobiz_auth_token && { authTokenEnv: SECRET_ENV.vobiz_auth_token }),
          ...(s.vobiz_phone_number && { phoneNumber: s.vobiz_phone_number }),
          ...(s.vobiz_max_concurrent !== undefined && { maxConcurrent: s.vobiz_max_concurrent }),
        }
      : undefined,
    exotel: exotel
      ? {
          apiTokenEnv: 'EXOTEL_API_TOKEN',
          maxConcurrent: 0,
          apiBase: 'https://api.exotel.com',
          sampleRate: 8000,
          ...config.exotel,
          accountSid: s.exotel_account_sid ?? config.exotel!.accountSid,
          apiKey: s.exotel_api_key ?? config.exotel!.apiKey,
          ...(s.exotel_api_token && { apiTokenEnv: SECRET_ENV.exotel_api_token }),
          ...(s.exotel_phone_number && { phoneNumber: s.exotel_phone_number }),
          ...(s.exotel_api_base && { apiBase: s.exotel_api_base }),
          ...(s.exotel_max_concurrent !== undefined && { maxConcurrent: s.exotel_max_concurrent }),
        }
      : undefined,
  };
  return { telephony, env: overlay };
}
