/**
 * Twilio's side of a provider call: the webhook's signature, the TwiML that connects the call to
 * a bidirectional Media Stream, and the REST request that hangs a call up. The official `twilio`
 * package does all three (its signature check is the published algorithm, its TwiML builder
 * escapes what it must); this module only fixes how telgate uses them.
 */
import twilio from 'twilio';
import RequestClient from 'twilio/lib/base/RequestClient.js';
import type { TelephonyConfig } from '../routing/config-telephony.js';
import {
  readTwilioMessage,
  twilioClear,
  twilioMark,
  twilioMedia,
} from './provider-twilio-stream.js';
import { statusReport, type ProviderWire, type WebhookRequest } from './provider-wire.js';

/** Twilio's own API host: requests for it go to `apiBaseUrl` instead when that differs. */
const TWILIO_API = 'https://api.twilio.com';

/**
 * Whether `signature` (X-Twilio-Signature) signs this request: the exact URL Twilio was given
 * and, for a form POST, its parameters.
 */
export function twilioSignatureValid(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
): boolean {
  if (!signature || !authToken) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/**
 * The answer to a call's webhook: connect the call to a bidirectional stream at `streamUrl`
 * (wss://; Twilio drops its query string, so what the stream needs rides in `parameters`,
 * which come back in the stream's `start.customParameters`).
 */
export function twilioConnectStream(streamUrl: string, parameters: Record<string, string>): string {
  const response = new twilio.twiml.VoiceResponse();
  const stream = response.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  return response.toString();
}

/** The answer that refuses a call as busy (telgate at its limit for Twilio calls). */
export function twilioRejectBusy(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.reject({ reason: 'busy' });
  return response.toString();
}

/** A request client that sends Twilio's API requests to another base URL (a stand-in). */
class RebasedClient extends RequestClient {
  constructor(private readonly base: string) {
    super({ timeout: 10_000 });
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    if (opts.uri.startsWith(TWILIO_API)) opts.uri = this.base + opts.uri.slice(TWILIO_API.length);
    return super.request(opts);
  }
}

export interface TwilioAccount {
  accountSid: string;
  authToken: string;
  apiBaseUrl: string;
}

export class TwilioRest {
  private readonly client: twilio.Twilio;

  constructor(account: TwilioAccount) {
    const base = account.apiBaseUrl.replace(/\/+$/, '');
    this.client = twilio(account.accountSid, account.authToken, {
      ...(base !== TWILIO_API && { httpClient: new RebasedClient(base) }),
    });
  }

  /** POST …/Calls.json: a call from `from` to `to` that runs `twiml`; its CallSid. */
  async place(from: string, to: string, twiml: string, statusCallback: string): Promise<string> {
    const call = await this.client.calls.create({
      from,
      to,
      twiml,
      statusCallback,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      statusCallbackMethod: 'POST',
    });
    return call.sid;
  }

  /** Ends a live call: POST …/Calls/{CallSid}.json with Status=completed. */
  async hangUp(callSid: string): Promise<void> {
    await this.client.calls(callSid).update({ status: 'completed' });
  }
}

/** Twilio as the provider server speaks to it. */
export function twilioWire(
  settings: NonNullable<TelephonyConfig['twilio']>,
  env: NodeJS.ProcessEnv,
): ProviderWire {
  const authToken = env[settings.authTokenEnv] ?? '';
  const rest = new TwilioRest({ ...settings, authToken });
  /** A webhook or status callback signed with the account's token. */
  const signed = (req: WebhookRequest) =>
    twilioSignatureValid(authToken, req.headers['x-twilio-signature'], req.url, req.params);
  return {
    name: 'twilio',
    webhook(req) {
      if (!signed(req)) return { status: 403, why: 'bad signature' };
      const callId = req.params.CallSid;
      if (!callId) return { status: 400, why: 'CallSid missing' };
      return { callId, from: req.params.From ?? '', to: req.params.To ?? '' };
    },
    contentType: 'text/xml',
    answer: (streamUrl, agent) => twilioConnectStream(streamUrl, { agent }),
    busy: () => ({ status: 200, body: twilioRejectBusy() }),
    upgradeValid: (url, headers) =>
      twilioSignatureValid(authToken, headers['x-twilio-signature'], url, {}),
    audio: { encoding: 'ulaw', rate: 8000, chunkMs: 20 },
    reconnects: false,
    read: readTwilioMessage,
    media: twilioMedia,
    clear: twilioClear,
    mark: twilioMark,
    hangUp: (callId) => rest.hangUp(callId),
    status(req) {
      if (!signed(req)) return { status: 403, why: 'bad signature' };
      return statusReport(req.params.CallSid, req.params.CallStatus, req.params.SipResponseCode);
    },
    async place(call) {
      const twiml = twilioConnectStream(call.streamUrl, { agent: call.agent });
      return { callId: await rest.place(call.from, call.to, twiml, call.statusUrl) };
    },
  };
}
