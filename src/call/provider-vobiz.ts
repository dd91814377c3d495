/**
 * Vobiz as the provider server speaks to it (a Plivo-like API; no SDK of its own on npm, and
 * Plivo's cannot reach Vobiz's host): the answer_url webhook and its signature (V3, or V2), the
 * `<Stream>` answer, the bidirectional stream's messages, and the REST hang-up. The markup is one
 * element, written here with its one attribute-free text escaped; the signature is an HMAC.
 *
 * Stream: in `start` {start: {callId, streamId, …}}, `media` {media: {payload}}, `playedStream`,
 * `clearedAudio`; out `playAudio`, `clearAudio`. No `stop` arrives: the socket closing ends the
 * stream, and a dropped stream may come back with a new `start` (a new streamId, the same
 * callId) on the same URL.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
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

/** Whether a V3 (`url.nonce`) or V2 (`urlnonce`) signature of the URL without query is good. */
export function vobizSignatureValid(
  authToken: string,
  url: string,
  headers: Record<string, string | undefined>,
): boolean {
  if (!authToken) return false;
  const base = url.split('?')[0];
  const check = (signature: string | undefined, nonce: string | undefined, joiner: string) => {
    if (!signature || !nonce) return false;
    const expected = createHmac('sha256', authToken)
      .update(base + joiner + nonce)
      .digest();
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return (
    check(headers['x-vobiz-signature-v3'], headers['x-vobiz-signature-v3-nonce'], '.') ||
    check(headers['x-vobiz-signature-v2'], headers['x-vobiz-signature-v2-nonce'], '')
  );
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function vobizStreamAnswer(streamUrl: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><Response>' +
    '<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">' +
    `${escapeXml(streamUrl)}</Stream></Response>`
  );
}

export function readVobizMessage(text: string): StreamEvent {
  const msg = jsonObject(text);
  if (!msg) return { event: 'unusable', why: 'not a JSON object' };
  switch (msg.event) {
    case 'start': {
      const start = obj(msg.start);
      const callId = str(start.callId);
      const streamId = str(start.streamId) ?? str(msg.streamId);
      if (!callId || !streamId)
        return { event: 'unusable', why: 'start without callId or streamId' };
      return { event: 'start', callId, streamId };
    }
    case 'media':
      return mediaEvent(obj(msg.media).payload);
    case 'dtmf':
      return dtmfEvent(str(obj(msg.dtmf).digit) ?? str(msg.digit));
    case 'playedStream': {
      const name = str(msg.name);
      return name === undefined ? { event: 'other' } : { event: 'mark', name };
    }
    case 'clearedAudio':
      return { event: 'other' };
    default:
      return unknownEvent(msg.event);
  }
}

export function vobizWire(
  settings: NonNullable<TelephonyConfig['vobiz']>,
  env: NodeJS.ProcessEnv,
): ProviderWire {
  const authToken = env[settings.authTokenEnv] ?? '';
  const api = settings.apiBaseUrl.replace(/\/+$/, '');
  return {
    name: 'vobiz',
    webhook(req) {
      if (!vobizSignatureValid(authToken, req.url, req.headers)) {
        return { status: 403, why: 'bad signature' };
      }
      const callId = req.params.CallUUID;
      if (!callId) return { status: 400, why: 'CallUUID missing' };
      return { callId, from: req.params.From ?? '', to: req.params.To ?? '' };
    },
    contentType: 'application/xml',
    answer: (streamUrl) => vobizStreamAnswer(streamUrl),
    busy: () => ({
      status: 200,
      body: '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup reason="busy"/></Response>',
    }),
    // Vobiz documents no signature on the stream's upgrade: the call's token is the check.
    upgradeValid: () => true,
    audio: { encoding: 'ulaw', rate: 8000, chunkMs: 20 },
    reconnects: true,
    read: readVobizMessage,
    media: (streamId, audio) =>
      JSON.stringify({
        event: 'playAudio',
        streamId,
        media: {
          contentType: 'audio/x-mulaw',
          sampleRate: 8000,
          payload: audio.toString('base64'),
        },
      }),
    clear: (streamId) => JSON.stringify({ event: 'clearAudio', streamId }),
    mark: (streamId, name) => JSON.stringify({ event: 'checkpoint', streamId, name }),
    // The hangup_url's POST: the call's end, with its cause.
    status(req) {
      if (!vobizSignatureValid(authToken, req.url, req.headers)) {
        return { status: 403, why: 'bad signature' };
      }
      return statusReport(req.params.CallUUID, req.params.CallStatus, req.params.HangupCause);
    },
    /** POST …/Account/{auth_id}/Call/ (JSON); the call's UUID comes with its answer_url. */
    async place(call) {
      const res = await fetch(
        `${api}/api/v1/Account/${encodeURIComponent(settings.authId)}/Call/`,
        {
          method: 'POST',
          headers: {
            'X-Auth-ID': settings.authId,
            'X-Auth-Token': authToken,
            'content-type': 'application/json',
          },
          body: JSON.stringify({
            from: call.from.replace(/^\+/, ''),
            to: call.to.replace(/^\+/, ''),
            answer_url: call.answerUrl,
            answer_method: 'POST',
            hangup_url: call.statusUrl,
            hangup_method: 'POST',
          }),
          signal: AbortSignal.timeout(10_000),
        },
      );
      if (!res.ok) throw new Error(`Vobiz call: HTTP ${res.status}`);
      return { callId: undefined };
    },
    async hangUp(callId) {
      const url = `${api}/api/v1/Account/${encodeURIComponent(settings.authId)}/Call/${encodeURIComponent(callId)}/`;
      const res = await fetch(url, {
        method: 'DELETE',
        headers: { 'X-Auth-ID': settings.authId, 'X-Auth-Token': authToken },
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok && res.status !== 404) throw new Error(`Vobiz hang-up: HTTP ${res.status}`);
    },
  };
}
