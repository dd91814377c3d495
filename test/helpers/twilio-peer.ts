/**
 * Twilio's side of a call, as the tests play it: the voice webhook (a signed form POST), and the
 * Media Stream Twilio opens (a signed WebSocket upgrade, then connected, start, media, dtmf,
 * stop, the messages as Twilio's documentation and captured streams show them); plus a stand-in
 * for Twilio's REST API, which cannot be reached from here, recording what it was asked.
 * Twilio itself is not reachable from this machine: these stand-ins are the only way to play it.
 */
import { once } from 'node:events';
import http from 'node:http';
import twilio from 'twilio';
import WebSocket from 'ws';
import { g711Decode, g711Encode } from '../../src/codecs/g711.js';

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
export class TwilioStream {
  readonly received: TwilioOut[] = [];
  readonly streamSid = `MZ${Math.random().toString(16).slice(2).padEnd(32, '0')}`;
  private sequence = 0;
  private chunk = 0;
  private readonly startedAt = Date.now();
  private sender: NodeJS.Timeout | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(JSON.parse(data.toString()) as TwilioOut));
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

  /** The caller speaks: 20 ms chunks of a tone at `hz`, one every 20 ms, until stopped. */
  speak(hz: number): void {
    let phase = 0;
    const pcm = new Int16Array(160);
    const ulaw = Buffer.alloc(160);
    this.sender = setInterval(() => {
      for (let i = 0; i < 160; i++, phase++) {
        pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * phase) / 8000));
      }
      g711Encode('ulaw', pcm, ulaw);
      this.send('media', {
        media: {
          track: 'inbound',
          chunk: String(++this.chunk),
          timestamp: String(Date.now() - this.startedAt),
          payload: ulaw.toString('base64'),
        },
      });
    }, 20);
  }

  silence(): void {
    clearInterval(this.sender);
  }

  dtmf(digit: string): void {
    this.send('dtmf', { dtmf: { track: 'inbound_track', digit } });
  }

  stop(callSid: string): void {
    this.silence();
    this.send('stop', { stop: { accountSid: ACCOUNT_SID, callSid } });
  }

  /** What `find` finds in telgate's messages, waiting for more as they arrive. */
  async waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const found = find();
      if (found !== undefined && found !== false) return found;
      await once(this.ws, 'message', { signal }).catch(() => {
        throw new Error(`no ${what} from telgate within ${timeoutMs} ms`);
      });
    }
  }

  /** telgate's audio so far, decoded to 8 kHz PCM. */
  audio(): Int16Array {
    const media = this.received.filter((m) => m.event === 'media');
    const bytes = Buffer.concat(media.map((m) => Buffer.from(m.media!.payload, 'base64')));
    const pcm = new Int16Array(bytes.length);
    g711Decode('ulaw', bytes, pcm);
    return pcm;
  }

  close(): void {
    this.silence();
    this.ws.close();
  }
}

/** A stand-in for api.twilio.com: answers 200 with a call resource and records each request. */
export class TwilioApiStandIn {
  readonly requests: Array<{ method: string; path: string; auth: string; form: URLSearchParams }> =
    [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        auth: req.headers.authorization ?? '',
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sid: 'CA0', status: 'completed' }));
      this.server.emit('recorded');
    });
  });

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  /** Resolves with request number `n` (from 1) once it has come. */
  async request(n: number): Promise<TwilioApiStandIn['requests'][number]> {
    while (this.requests.length < n) await once(this.server, 'recorded');
    return this.requests[n - 1];
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
