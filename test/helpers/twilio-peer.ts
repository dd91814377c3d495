/**
 * Twilio's side of a call, as the tests play it: the voice webhook (a signed form POST), and the
 * Media Stream Twilio opens (a signed WebSocket upgrade, then connected, start, media, dtmf,
 * stop, the messages as Twilio's documentation and captured streams show them). Twilio itself is
 * not reachable from this machine: this is the only way to play it (its REST API: provider-api.ts).
 */
import { once } from 'node:events';
import twilio from 'twilio';
import WebSocket from 'ws';
import { StreamPeer } from './stream-peer.js';

export const PUBLIC_BASE = 'https://tg.example.test';
export const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const AUTH_TOKEN = 'twilio-test-token';

export interface WebhookAnswer {
  status: number;
  body: string;
  /** The stream URL of a <Connect><Stream>, if the answer has one. */
  streamUrl?: string;
  parameters: Record<string, string>;
}

/** Twilio's voice webhook for `callSid` to /telephony/twilio/inbound/<agent>. */
export async function twilioWebhook(
  port: number,
  agent: string,
  callSid: string,
  options: { token?: string; tamper?: boolean } = {},
): Promise<WebhookAnswer> {
  const path = `/telephony/twilio/inbound/${agent}`;
  const params: Record<string, string> = {
    CallSid: callSid,
    AccountSid: ACCOUNT_SID,
    From: '+4915112345678',
    To: '+15550100999',
    CallStatus: 'ringing',
    Direction: 'inbound',
    ApiVersion: '2010-04-01',
  };
  const signature = twilio.getExpectedTwilioSignature(
    options.token ?? AUTH_TOKEN,
    PUBLIC_BASE + path,
    params,
  );
  if (options.tamper) params.From = '+4915100000000';
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature,
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = await res.text();
  const streamUrl = /<Stream url="([^"]+)"/.exec(body)?.[1];
  const parameters = Object.fromEntries(
    [...body.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)].map((m) => [m[1], m[2]]),
  );
  return { status: res.status, body, streamUrl, parameters };
}

/** What telgate sends on a stream (media, mark, clear). */
export interface TwilioOut {
  event: string;
  streamSid?: string;
  media?: { payload: string };
  mark?: { name: string };
}

/** A Media Stream as Twilio opens it; `received` collects what telgate sends back. */
export class TwilioStream extends StreamPeer<TwilioOut> {
  readonly streamSid = `MZ${Math.random().toString(16).slice(2).padEnd(32, '0')}`;
  private sequence = 0;
  private chunk = 0;
  private readonly startedAt = Date.now();
  /** Whether marks telgate sends come straight back, as Twilio's do once their audio played. */
  echoMarks = true;

  private constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as TwilioOut;
      if (message.event === 'mark' && this.echoMarks) this.send('mark', { mark: message.mark });
    });
  }

  /** Opens the stream at `streamUrl` (wss://public host/…) on the local `port`, signed. */
  static async open(port: number, streamUrl: string, token = AUTH_TOKEN): Promise<TwilioStream> {
    const url = new URL(streamUrl);
    const signature = twilio.getExpectedTwilioSignature(token, streamUrl, {});
    const ws = new WebSocket(`ws://127.0.0.1:${port}${url.pathname}`, {
      headers: { 'x-twilio-signature': signature },
    });
    const stream = new TwilioStream(ws);
    await once(ws, 'open');
    return stream;
  }

  private send(event: string, body: object): void {
    this.ws.send(
      JSON.stringify({
        event,
        sequenceNumber: String(++this.sequence),
        streamSid: this.streamSid,
        ...body,
      }),
    );
  }

  begin(callSid: string, customParameters: Record<string, string>): void {
    this.ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    this.send('start', {
      start: {
        accountSid: ACCOUNT_SID,
        streamSid: this.streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  /** The caller speaks: a tone at `hz` in 20 ms chunks, until silence(). */
  speak(hz: number): void {
    this.speakChunks(hz, (payload) =>
      this.send('media', {
        media: {
          track: 'inbound',
          chunk: String(++this.chunk),
          timestamp: String(Date.now() - this.startedAt),
          payload,
        },
      }),
    );
  }

  dtmf(digit: string): void {
    this.send('dtmf', { dtmf: { track: 'inbound_track', digit } });
  }

  stop(callSid: string): void {
    this.silence();
    this.send('stop', { stop: { accountSid: ACCOUNT_SID, callSid } });
  }

  /** telgate's audio so far, decoded to 8 kHz PCM. */
  audio(): Int16Array {
    const media = this.received.filter((m) => m.event === 'media');
    return this.decode(media.map((m) => m.media!.payload));
  }
}
