/**
 * The audio path between one call's SIP codec and its agent link format, both ways, with at
 * most one resample per direction:
 *   caller → agent: RTP payload → codec decode → resample to the link rate → link format;
 *   agent → caller: link format → playout queue (at the link rate) → resample → codec encode.
 * A µ-law link with a PCMU caller (or A-law with PCMA) passes the caller's payload through.
 */
import { createCodec, type Codec, type CodecDescription } from '../codecs/codec.js';
import { g711Decode, g711Encode } from '../codecs/g711.js';
import { Resampler, type SampleRate } from '../codecs/resampler.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../link/protocol.js';
import { PlayoutQueue } from '../media/playout-queue.js';

export class MediaChain {
  readonly linkRate: number;
  readonly playout: PlayoutQueue;
  private codec: Codec | undefined;
  private toLink: Resampler | undefined;
  private fromLink: Resampler | undefined;
  private decoded = new Int16Array(0);
  private readonly linkFrame: Int16Array;
  private resampled = new Int16Array(0);
  /** Reused per packet: the caller's audio at the link rate, before it becomes link bytes. */
  private linkOut = new Int16Array(0);

  constructor(
    readonly linkFormat: LinkFormat,
    playoutMaxSeconds: number,
  ) {
    this.linkRate = LINK_FORMAT_RATE[linkFormat];
    this.playout = new PlayoutQueue(Math.round(playoutMaxSeconds * this.linkRate));
    this.linkFrame = new Int16Array(this.linkRate / 50);
  }

  /** The SIP codec whose bytes this link format carries unchanged, if any. */
  get passThroughCodec(): 'PCMU' | 'PCMA' | undefined {
    return this.linkFormat === 'ulaw' ? 'PCMU' : this.linkFormat === 'alaw' ? 'PCMA' : undefined;
  }

  get current(): Codec | undefined {
    return this.codec;
  }

  /** Switches to a codec (at start, or on a codec change); resamplers follow its rate. */
  setCodec(description: CodecDescription): void {
    const same =
      this.codec?.name === description.name && this.codec.clockRate === description.clockRate;
    if (same) return;
    const codec = createCodec(description);
    this.codec = codec;
    const rate = codec.audioRate as SampleRate;
    const link = this.linkRate as SampleRate;
    this.toLink = rate === link ? undefined : new Resampler(rate, link);
    this.fromLink = rate === link ? undefined : new Resampler(link, rate);
    this.decoded = new Int16Array(codec.frameSamples * 4);
    this.resampled = new Int16Array(codec.frameSamples);
  }

  /** The chain as logged and sent to the agent, e.g. `PCMU/8000 → slin16, resample 8000→16000`. */
  describe(): string {
    const codec = this.codec;
    if (!codec) return 'none';
    const head = `${codec.name}/${codec.clockRate} → ${this.linkFormat}`;
    if (this.passThrough) return `${head}, pass-through`;
    return this.toLink
      ? `${head}, resample ${codec.audioRate}→${this.linkRate}`
      : `${head}, no resample`;
  }

  private get passThrough(): boolean {
    const name = this.codec?.name;
    return (
      (name === 'PCMU' && this.linkFormat === 'ulaw') ||
      (name === 'PCMA' && this.linkFormat === 'alaw')
    );
  }

  /** One RTP payload from the caller as link-format bytes for the agent. */
  fromCaller(payload: Buffer): Buffer | undefined {
    const codec = this.codec;
    if (!codec) return undefined;
    if (this.passThrough) return Buffer.from(payload);
    if (this.decoded.length < payload.length * 2) this.decoded = new Int16Array(payload.length * 2);
    const samples = codec.decode(payload, this.decoded);
    let pcm: Int16Array = this.decoded.subarray(0, samples);
    if (this.toLink) {
      const needed = this.toLink.outputLength(samples) + 1;
      if (this.linkOut.length < needed) this.linkOut = new Int16Array(needed);
      pcm = this.toLink.process(pcm, this.linkOut.subarray(0, needed));
    }
    return this.toLinkBytes(pcm);
  }

  private toLinkBytes(pcm: Int16Array): Buffer {
    if (this.linkFormat === 'ulaw' || this.linkFormat === 'alaw') {
      const out = Buffer.allocUnsafe(pcm.length);
      g711Encode(this.linkFormat, pcm, out);
      return out;
    }
    // slin is native little-endian Int16 (the process refuses big-endian hosts).
    return Buffer.from(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
  }

  /** Audio from the agent, in the link format, queued for the caller. */
  fromAgent(frame: Buffer): void {
    if (this.linkFormat === 'ulaw' || this.linkFormat === 'alaw') {
      const pcm = new Int16Array(frame.length);
      g711Decode(this.linkFormat, frame, pcm);
      this.playout.pushPcm16le(Buffer.from(pcm.buffer));
    } else this.playout.pushPcm16le(frame);
  }

  /** The next 20 ms for the caller, encoded into `out`; returns the payload length. */
  toCaller(out: Buffer): number {
    const codec = this.codec;
    if (!codec) return 0;
    this.playout.pull(this.linkFrame);
    const pcm = this.fromLink
      ? this.fromLink.process(this.linkFrame, this.resampled)
      : this.linkFrame;
    return codec.encode(pcm, out);
  }
}
