/**
 * Exotel as the provider server speaks to it: the Voicebot applet fetches the webhook (GET or
 * POST) and expects JSON `{"url": "wss://…"}`; Exotel signs nothing, so the webhook must carry
 * HTTP Basic credentials, put in the URL given to the applet (`https://USER:PASSWORD@host/…`):
 * the telephony endpoint's id and webhook secret (settings API), or the account's API key and
 * token. The stream's events are snake_case (`stream_sid`, with
 * `streamSid` accepted too), its audio 16-bit little-endian PCM at the stream's rate, sent back
 * in chunks of whole 320-byte multiples (100 ms here); closing the socket ends the applet, which
 * is also how telgate hangs up (the flow goes on to its next applet).
 */
import { timingSafeEqual } from 'node:crypto';
import type { TelephonyConfig } from '../routing/config-telephony.js';
import {
  dtmfEvent,
  jsonObject,
  mediaEvent,
  obj,
  str,
  statusReport,
  unknownEvent,
  type ProviderWire,
  type StreamEvent,
} from './provider-wire.js';

/** HTTP Basic credentials, if `authorization` carries them. */
export function basicCredentials(
  authorization: string | undefined,
): { user: string; password: string } | undefined {
  if (!authorization?.startsWith('Basic ')) return undefined;
  const text = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 1) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Whether `authorization` is HTTP Basic with exactly `user`:`password`. */
export function basicAuthValid(authorization: string | undefined, user: string, password: string) {
  if (!authorization?.startsWith('Basic ') || !user || !password) return false;
  const given = Buffer.from(authorization.slice(6).trim(), 'base64');
  const expected = Buffer.from(`${user}:${password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function readExotelMessage(text: string): StreamEvent {
  const msg = jsonObject(text);
  if (!msg) return { event: 'unusable', why: 'not a JSON object' };
  switch (msg.event) {
    case 'connected':
      return { event: 'other' };
    case 'mark': {
      const name = str(obj(msg.mark).name);
      return name === undefined ? { event: 'other' } : { event: 'mark', name };
    }
    case 'start': {
      const start = obj(msg.start);
      const callId = str(start.call_sid) ?? str(start.callSid);
      const streamId =
        str(msg.stream_sid) ?? str(msg.streamSid) ?? str(start.stream_sid) ?? str(start.streamSid);
      if (!callId || !streamId) return { event: 'unusable', why: 'start without call or stream' };
      return { event: 'start', callId, streamId };
    }
    case 'media':
      return mediaEvent(obj(msg.media).payload);
    case 'dtmf':
      return dtmfEvent(str(obj(msg.dtmf).digit));
    case 'stop':
      return { event: 'stop' };
    default:
      return unknownEvent(msg.event);
  }
}

export function exotelWire(
  settings: NonNullable<TelephonyConfig['exotel']>,
  env: NodeJS.ProcessEnv,
): ProviderWire {
  const apiToken = env[settings.apiTokenEnv] ?? '';
  return {
    name: 'exotel',
    webhook(req) {
      if (
        !req.endpointAuthenticated &&
        !basicAuthValid(req.headers.authorization, settings.apiKey, apiToken)
      ) {
        return {
          status: 401,
          why: "Basic credentials of the endpoint (id and webhook secret) or the account's required",
        };
      }
      const callId = req.params.CallSid;
      if (!callId) return { status: 400, why: 'CallSid missing' };
      return { callId, from: req.params.From ?? '', to: req.params.To ?? '' };
    },
    contentType: 'application/json',
    answer: (streamUrl) =>
      JSON.stringify({ url: `${streamUrl}?sample-rate=${settings.sampleRate}` }),
    // The applet has no refusal answer: no URL, and the flow goes on to its next applet.
    busy: () => ({ status: 503, body: JSON.stringify({ error: 'busy' }) }),
    upgradeValid: () => true,
    audio: { encoding: 'pcm16', rate: settings.sampleRate, chunkMs: 100 },
    reconnects: false,
    read: readExotelMessage,
    media: (streamId, audio) =>
      JSON.stringify({
        event: 'media',
        stream_sid: streamId,
        media: { payload: audio.toString('base64') },
      }),
    clear: (streamId) => JSON.stringify({ event: 'clear', stream_sid: streamId }),
    mark: (streamId, name) =>
      JSON.stringify({ event: 'mark', stream_sid: streamId, mark: { name } }),
    // Closing the stream ends the applet: nothing to ask Exotel's API.
    hangUp: () => Promise.resolve(),
    // Exotel signs nothing and sends no credentials with its status callbacks: the callback's
    // URL, unguessable and good for one placed call, is the check.
    status: (req) => statusReport(req.params.CallSid, req.params.Status),
    /** POST …/v1/Accounts/{sid}/Calls/connect.json, Basic key:token, a bidirectional stream. */
    async place(call) {
      const base = settings.apiBase.replace(/\/+$/, '');
      const form = new URLSearchParams({
        From: call.to,
        CallerId: settings.phoneNumber ?? call.from,
        StreamUrl: `${call.streamUrl}?sample-rate=${settings.sampleRate}`,
        StreamType: 'bidirectional',
        StatusCallback: call.statusUrl,
      });
      const res = await fetch(
        `${base}/v1/Accounts/${encodeURIComponent(settings.accountSid)}/Calls/connect.json`,
        {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${settings.apiKey}:${apiToken}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: form.toString(),
          signal: AbortSignal.timeout(10_000),
        },
      );
      if (!res.ok) throw new Error(`Exotel call: HTTP ${res.status}`);
      const body = (await res.json().catch(() => ({}))) as { Call?: { Sid?: string } };
      return { callId: body.Call?.Sid };
    },
  };
}
