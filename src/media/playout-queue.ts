/**
 * Audio waiting to be played to the caller, as 16-bit samples in a ring buffer. The agent
 * sends faster than real time; the shared clock takes one frame per tick. Bounded: what does
 * not fit is dropped and counted, never grown without limit.
 */

export class PlayoutQueue {
  private readonly ring: Int16Array;
  private head = 0;
  private length = 0;
  droppedSamples = 0;
  underruns = 0;

  constructor(capacitySamples: number) {
    this.ring = new Int16Array(capacitySamples);
  }

  get queuedSamples(): number {
    return this.length;
  }

  /** Appends little-endian 16-bit PCM bytes (an odd trailing byte is ignored). */
  pushPcm16le(bytes: Buffer): void {
    const samples = bytes.length >> 1;
    const room = this.ring.length - this.length;
    const take = Math.min(samples, room);
    this.droppedSamples += samples - take;
    let tail = (this.head + this.length) % this.ring.length;
    for (let i = 0; i < take; i++) {
      this.ring[tail] = bytes.readInt16LE(i << 1);
      if (++tail === this.ring.length) tail = 0;
    }
    this.length += take;
  }

  /** Fills `out` from the queue; pads with silence on underrun. Returns samples that were audio. */
  pull(out: Int16Array): number {
    const take = Math.min(out.length, this.length);
    for (let i = 0; i < take; i++) {
      out[i] = this.ring[this.head];
      if (++this.head === this.ring.length) this.head = 0;
    }
    this.length -= take;
    if (take < out.length) {
      out.fill(0, take);
      if (take === 0) this.underruns++;
    }
    return take;
  }

  clear(): number {
    const dropped = this.length;
    this.head = 0;
    this.length = 0;
    return dropped;
  }
}
