/**
 * Exotel's side of a call, as the tests play it: the Voicebot applet fetching its URL (GET, the
 * account's Basic credentials) and the stream it opens (connected, start, media as 16-bit PCM,
 * dtmf, stop; snake_case). Exotel cannot be reached from this machine: this is the only way to
 * play it.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { StreamPeer } from './stream-peer.js';

export const EXOTEL_KEY = 'exotel-key';
export const EXOTEL_TOKEN = 'exotel-token';

export async function exotelWebhook(
  port: number,
  agent: string,
  callSid: string,
  credentials = `${EXOTEL_KEY}:${EXOTEL_TOKEN}`,
): Promise<{ status: number; body: string; url?: string }> {
  const query = new URLSearchParams({ CallSid: callSid, From: '09812345678', To: '08012345678' });
  const res = await fetch(`http://127.0.0.1:${port}/telephony/exotel/inbound/${agent}?${query}`, {
    headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` },
  });
  const body = await res.text();
  const url = res.ok ? (JSON.parse(body) as { url: string }).url : undefined;
  return { status: res.status, body, url };
}

export interface ExotelOut {
  event: string;
  stream_sid?: string;
  media?: { payload: string };
}

export class ExotelStream extends StreamPeer<ExotelOut> {
  readonly streamSid = `es${Math.random().toString(16).slice(2)}`;
  private sequence = 0;

  private constructor(
    ws: WebSocket,
    readonly rate: number,
  ) {
    super(ws);
  }

  static async open(port: number, url: string): Promise<ExotelStream> {
    const u = new URL(url);
    const ws = new WebSocket(`ws://127.0.0.1:${port}${u.pathname}${u.search}`);
    const stream = new ExotelStream(ws, Number(u.searchParams.get('sample-rate') ?? 8000));
    await once(ws, 'open');
    return stream;
  }

  private send(event: string, body: object): void {
    this.ws.send(
      JSON.stringify({
        event,
        sequence_number: ++this.sequence,
        stream_sid: this.streamSid,
        ...body,
      }),
    );
  }

  begin(callSid: string): void {
    this.ws.send(JSON.stringify({ event: 'connected' }));
    this.send('start', {
      start: {
        stream_sid: this.streamSid,
        call_sid: callSid,
        account_sid: 'exotel-account',
        from: '09812345678',
        to: '08012345678',
        custom_parameters: {},
        media_format: { encoding: 'base64', sample_rate: String(this.rate), bit_rate: '128kbps' },
      },
    });
  }

  speak(hz: number): void {
    let chunk = 0;
    this.speakChunks(
      hz,
      (payload) =>
        this.send('media', { media: { chunk: ++chunk, timestamp: String(chunk * 20), payload } }),
      { encoding: 'pcm16', rate: this.rate },
    );
  }

  dtmf(digit: string): void {
    this.send('dtmf', { dtmf: { digit, duration: '120' } });
  }

  audio(): Int16Array {
    const media = this.received.filter((m) => m.event === 'media');
    return this.decode(
      media.map((m) => m.media!.payload),
      'pcm16',
    );
  }
}
