/**
 * Vobiz's side of a call, as the tests play it: the answer_url webhook (a form POST signed with
 * X-Vobiz-Signature-V3 and its nonce) and the bidirectional stream Vobiz opens (start, media;
 * no stop: it closes the socket, and may reconnect with a new start for the same call). Vobiz
 * cannot be reached from this machine: this is the only way to play it.
 */
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { StreamPeer } from './stream-peer.js';
import { PUBLIC_BASE } from './twilio-peer.js';

export const VOBIZ_AUTH_ID = 'MA_TESTAUTHID';
export const VOBIZ_TOKEN = 'vobiz-token';

/** The V3 signature Vobiz puts on a request to `url` with `nonce`. */
export function vobizSign(url: string, nonce: string, token = VOBIZ_TOKEN): string {
  return createHmac('sha256', token)
    .update(`${url.split('?')[0]}.${nonce}`)
    .digest('base64');
}

export async function vobizWebhook(
  port: number,
  agent: string,
  callUuid: string,
  options: { token?: string } = {},
): Promise<{ status: number; body: string; streamUrl?: string }> {
  const path = `/telephony/vobiz/inbound/${agent}`;
  const nonce = `n-${Math.random().toString(36).slice(2)}`;
  const params = {
    CallUUID: callUuid,
    From: '+919812345678',
    To: '+918012345678',
    Direction: 'inbound',
    CallStatus: 'ringing',
    Event: 'StartApp',
  };
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-vobiz-signature-v3': vobizSign(PUBLIC_BASE + path, nonce, options.token),
      'x-vobiz-signature-v3-nonce': nonce,
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = await res.text();
  const streamUrl = />(wss:\/\/[^<]+)<\/Stream>/.exec(body)?.[1];
  return { status: res.status, body, streamUrl };
}

export interface VobizOut {
  event: string;
  streamId?: string;
  media?: { contentType: string; sampleRate: number; payload: string };
}

/** One connection of a Vobiz stream; `received` collects what telgate sends on it. */
export class VobizStream extends StreamPeer<VobizOut> {
  readonly streamId = `st-${Math.random().toString(16).slice(2)}`;
  private chunk = 0;

  private constructor(ws: WebSocket) {
    super(ws);
  }

  static async open(port: number, streamUrl: string): Promise<VobizStream> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${new URL(streamUrl).pathname}`);
    const stream = new VobizStream(ws);
    await once(ws, 'open');
    return stream;
  }

  begin(callId: string): void {
    this.ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: 1,
        start: {
          callId,
          streamId: this.streamId,
          accountId: VOBIZ_AUTH_ID,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
        },
      }),
    );
  }

  speak(hz: number): void {
    this.speakChunks(hz, (payload) =>
      this.ws.send(
        JSON.stringify({
          event: 'media',
          streamId: this.streamId,
          media: {
            track: 'inbound',
            timestamp: String(this.chunk * 20),
            chunk: String(++this.chunk),
            payload,
          },
        }),
      ),
    );
  }

  audio(): Int16Array {
    const played = this.received.filter((m) => m.event === 'playAudio');
    return this.decode(played.map((m) => m.media!.payload));
  }
}
