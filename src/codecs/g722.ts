/**
 * G.722 at 64 kbit/s (ITU-T G.722 sub-band ADPCM): a 24-tap QMF splits 16 kHz audio into two
 * 8 kHz bands, coded with 6 bits (low) and 2 bits (high) per sample pair, one byte per pair.
 * Written from the ITU-T algorithm description, in integer arithmetic as the recommendation
 * specifies, so any compliant peer decodes it; the npm packages are native addons or keep no
 * state across frames.
 *
 * The coder runs in WebAssembly (wasm/g722.wat): the per-sample work is a chain of small integer
 * steps (QMF sums, quantizer search, predictor update), which plain JavaScript did in 2–2.5× the
 * time of C. Every coder of a thread shares one module instance and one memory:
 *   0 … 1023     the quantizer and scale tables (the module's data);
 *   1024 …       the QMF work buffer (22 history samples, then a frame's samples, as i32);
 *   5120 …       a frame's int16 PCM;  7168 … its code bytes;
 *   8192 …       one 512-byte slot per coder: low band, high band (96 bytes each: s, sp, sz, nb,
 *                det, r1, r2, a1, a2, p1, p2, d1–d6, b1–b6 as i32), then the 22 QMF history
 *                samples; the memory grows by a page when the slots run out.
 * A frame longer than 60 ms is coded in pieces.
 */
import { WASM_BASE64 } from './wasm/g722-wasm.js';

const WORK = 1024;
const PCM = 5120;
const CODES = 7168;
const FIRST_SLOT = 8192;
const SLOT = 512;
/** Sample pairs one call of the kernel takes: 60 ms at 16 kHz, what the scratch areas hold. */
const MAX_PAIRS = 480;
const HIGH_BAND = 96;
const DET = 16;
/** The scale factors a coder starts from (ITU-T G.722 reset values). */
const LOW_DET = 32;
const HIGH_DET = 8;

interface Kernel {
  encode(state: number, work: number, pcm: number, codes: number, pairs: number): void;
  decode(state: number, work: number, codes: number, pcm: number, pairs: number): void;
}

/** This thread's module instance, its memory and the free coder slots. */
class G722Memory {
  readonly memory = new WebAssembly.Memory({ initial: 1 });
  readonly kernel: Kernel;
  private readonly free: number[] = [];
  private next = FIRST_SLOT;
  private bytes = new Uint8Array(this.memory.buffer);
  private pcm = new Int16Array(this.memory.buffer);

  constructor() {
    const module = new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.kernel = instance.exports as unknown as Kernel;
  }

  /** A zeroed slot with the reset scale factors. */
  take(): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.next + SLOT > this.memory.buffer.byteLength) this.memory.grow(1);
      slot = this.next;
      this.next += SLOT;
    }
    const view = this.views();
    view.bytes.fill(0, slot, slot + SLOT);
    const words = new Int32Array(this.memory.buffer, slot, SLOT / 4);
    words[DET / 4] = LOW_DET;
    words[(HIGH_BAND + DET) / 4] = HIGH_DET;
    return slot;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  /** Views of the memory, made again after it grew (growing detaches the old buffer). */
  views(): { bytes: Uint8Array; pcm: Int16Array } {
    if (this.bytes.buffer !== this.memory.buffer) {
      this.bytes = new Uint8Array(this.memory.buffer);
      this.pcm = new Int16Array(this.memory.buffer);
    }
    return { bytes: this.bytes, pcm: this.pcm };
  }
}

let shared: G722Memory | undefined;
const memoryOfThread = () => (shared ??= new G722Memory());

/** Slots still held by coders nobody closed are given back when the coder is collected. */
const slots = new FinalizationRegistry<number>((slot) => shared?.release(slot));

abstract class G722Coder {
  protected readonly g722 = memoryOfThread();
  protected slot: number;

  constructor() {
    this.slot = this.g722.take();
    slots.register(this, this.slot, this);
  }

  /** Frees the coder's state; it is not used after. */
  close(): void {
    if (this.slot < 0) return;
    slots.unregister(this);
    this.g722.release(this.slot);
    this.slot = -1;
  }
}

export class G722Encoder extends G722Coder {
  /** Encodes 16 kHz PCM (an even number of samples) into one byte per sample pair. */
  encode(pcm: Int16Array, out: Uint8Array): number {
    const pairs = pcm.length >> 1;
    for (let done = 0; done < pairs;) {
      const n = Math.min(MAX_PAIRS, pairs - done);
      const view = this.g722.views();
      view.pcm.set(pcm.subarray(2 * done, 2 * (done + n)), PCM / 2);
      this.g722.kernel.encode(this.slot, WORK, PCM, CODES, n);
      out.set(view.bytes.subarray(CODES, CODES + n), done);
      done += n;
    }
    return pairs;
  }
}

export class G722Decoder extends G722Coder {
  /** Decodes 64 kbit/s G.722 bytes into 16 kHz PCM, two samples per byte; returns the count. */
  decode(data: Uint8Array, pcm: Int16Array): number {
    const pairs = Math.min(data.length, pcm.length >> 1);
    for (let done = 0; done < pairs;) {
      const n = Math.min(MAX_PAIRS, pairs - done);
      const view = this.g722.views();
      view.bytes.set(data.subarray(done, done + n), CODES);
      this.g722.kernel.decode(this.slot, WORK, CODES, PCM, n);
      pcm.set(view.pcm.subarray(PCM / 2, PCM / 2 + 2 * n), 2 * done);
      done += n;
    }
    return 2 * pairs;
  }
}

/** The WebAssembly memory this thread's G.722 coders share, in bytes (for tests and stats). */
export function g722MemoryBytes(): number {
  return shared?.memory.buffer.byteLength ?? 0;
}
