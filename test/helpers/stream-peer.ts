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

  /**
   * The caller speaks: a tone at `hz`, one 20 ms chunk (base64) every 20 ms, µ-law at 8 kHz or
   * 16-bit little-endian PCM at `rate`.
   */
  protected speakChunks(
    hz: number,
    send: (payload: string) => void,
    format: { encoding: 'ulaw' | 'pcm16'; rate: number } = { encoding: 'ulaw', rate: 8000 },
  ): void {
    let phase = 0;
    const samples = format.rate / 50;
    const pcm = new Int16Array(samples);
    const ulaw = Buffer.alloc(samples);
    this.sender = setInterval(() => {
      for (let i = 0; i < samples; i++, phase++) {
        pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * phase) / format.rate));
      }
      if (format.encoding === 'ulaw') g711Encode('ulaw', pcm, ulaw);
      const bytes = format.encoding === 'ulaw' ? ulaw : Buffer.from(pcm.buffer);
      send(bytes.toString('base64'));
    }, 20);
  }

  silence(): void {
    clearInterval(this.sender);
  }

  /** Payloads (base64), µ-law or 16-bit little-endian PCM, as PCM. */
  protected decode(payloads: string[], encoding: 'ulaw' | 'pcm16' = 'ulaw'): Int16Array {
    const bytes = Buffer.concat(payloads.map((p) => Buffer.from(p, 'base64')));
    if (encoding === 'pcm16')
      return new Int16Array(new Uint8Array(bytes).buffer, 0, bytes.length >> 1);
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
