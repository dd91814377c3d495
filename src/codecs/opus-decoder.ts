/**
 * libopus's decoder, called directly. The @discordjs/opus binding decodes a whole packet and
 * nothing else; recovering a lost frame from the next packet's in-band FEC needs opus_decode's
 * decode_fec flag, and libopus's own loss concealment a call with no packet. The binding's
 * addon is libopus built in, with libopus's functions exported, so koffi (a maintained FFI
 * library for Node) loads that same file and calls them: the same libopus as the encoder, no
 * second native build. One decoder per call: close() frees it, and a FinalizationRegistry does
 * if a decoder is dropped unclosed.
 */
import { createRequire } from 'node:module';
import koffi from 'koffi';

const require = createRequire(import.meta.url);

/** The addon @discordjs/opus loads, found the way its own index.js finds it. */
function opusAddonPath(): string {
  const fromOpus = createRequire(require.resolve('@discordjs/opus'));
  const { find } = fromOpus('@discordjs/node-pre-gyp') as { find: (pkg: string) => string };
  return find(require.resolve('@discordjs/opus/package.json'));
}

const lib = koffi.load(opusAddonPath());
const opusDecoderCreate = lib.func(
  'void *opus_decoder_create(int fs, int channels, _Out_ int *error)',
);
const opusDecode = lib.func(
  'int opus_decode(void *st, const uint8_t *data, int len, int16_t *pcm, int frame_size, int decode_fec)',
);
const opusDecoderDestroy = lib.func('void opus_decoder_destroy(void *st)');

const released = new FinalizationRegistry<unknown>((state) => opusDecoderDestroy(state));

/** A mono libopus decoder at `rate` (8000, 12000, 16000, 24000 or 48000). */
export class OpusDecoder {
  private state: unknown;
  /**
   * Samples in the last packet decoded: a lost packet is taken to be as long. None before the
   * first: nothing heard yet, nothing to continue, so loss gives no audio.
   */
  private lastSamples: number | undefined;

  constructor(rate: number) {
    const error = [0];
    this.state = opusDecoderCreate(rate, 1, error);
    if (error[0] !== 0 || !this.state) throw new Error(`opus_decoder_create failed (${error[0]})`);
    released.register(this, this.state, this);
  }

  /**
   * Decodes one packet into `pcm`; returns the samples written, 0 for a corrupt or empty packet
   * (libopus would take an empty one for a lost one and conceal all of `pcm`).
   */
  decode(packet: Buffer, pcm: Int16Array): number {
    if (packet.length === 0) return 0;
    const samples = this.call(packet, pcm, pcm.length, 0);
    if (samples > 0) this.lastSamples = samples;
    return samples;
  }

  /** libopus's concealment of one lost packet, as long as the last one. */
  conceal(pcm: Int16Array): number {
    if (this.lastSamples === undefined) return 0;
    return this.call(null, pcm, Math.min(pcm.length, this.lastSamples), 0);
  }

  /**
   * The lost packet before `next`, rebuilt from the redundant copy `next` carries (in-band FEC,
   * SILK's LBRR); libopus conceals it when `next` has none. `next` itself is decoded after.
   */
  recover(next: Buffer, pcm: Int16Array): number {
    if (this.lastSamples === undefined) return 0;
    const frameSize = Math.min(pcm.length, this.lastSamples);
    return this.call(next.length > 0 ? next : null, pcm, frameSize, 1);
  }

  close(): void {
    if (this.state === undefined) return;
    released.unregister(this);
    opusDecoderDestroy(this.state);
    this.state = undefined;
  }

  private call(packet: Buffer | null, pcm: Int16Array, frameSize: number, fec: number): number {
    if (this.state === undefined) return 0;
    const samples = opusDecode(this.state, packet, packet?.length ?? 0, pcm, frameSize, fec);
    return samples > 0 ? samples : 0;
  }
}
