/**
 * What the tests' provider stream clients (twilio-peer.ts, vobiz-peer.ts) share: the socket and
 * what telgate sent on it, waiting on its messages, a caller speaking a tone in 20 ms µ-law
 * chunks, and decoding telgate's µ-law back to PCM.
 */
import { once } from 'node:events';
import type WebSocket from 'ws';
import { g711Decode, g711Encode } from '../../src/codecs/g711.js';

export abstract class StreamPeer<Out> {
  readonly received: Out[] = [];
  private sender: NodeJS.Timeout | undefined;

  protected constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(JSON.parse(data.toString()) as Out));
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

  /** The caller speaks: a tone at `hz`, one 20 ms µ-law chunk (base64) every 20 ms. */
  protected speakChunks(hz: number, send: (payload: string) => void): void {
    let phase = 0;
    const pcm = new Int16Array(160);
    const ulaw = Buffer.alloc(160);
    this.sender = setInterval(() => {
      for (let i = 0; i < 160; i++, phase++) {
        pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * phase) / 8000));
      }
      g711Encode('ulaw', pcm, ulaw);
      send(ulaw.toString('base64'));
    }, 20);
  }

  silence(): void {
    clearInterval(this.sender);
  }

  /** µ-law payloads (base64) as 8 kHz PCM. */
  protected decode(payloads: string[]): Int16Array {
    const bytes = Buffer.concat(payloads.map((p) => Buffer.from(p, 'base64')));
    const pcm = new Int16Array(bytes.length);
    g711Decode('ulaw', bytes, pcm);
    return pcm;
  }

  async close(): Promise<void> {
    this.silence();
    if (this.ws.readyState === this.ws.CLOSED) return;
    this.ws.close();
    await once(this.ws, 'close');
  }
}
