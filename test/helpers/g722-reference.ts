/**
 * G.722 in plain TypeScript, the reference the WebAssembly coder (src/codecs/g722.ts) is checked
 * against bit for bit: the same ITU-T G.722 blocks (1L–6L, 1H–6H and block 4), written out
 * directly with the predictor state in number fields, one QMF buffer per frame and the 6-bit
 * quantizer's decision levels found by binary search.
 */

const Q6 = Int32Array.from([
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023,
  1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
]);
const ILN = Int32Array.from([
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
  9, 8, 7, 6, 5, 4, 0,
]);
const ILP = Int32Array.from([
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38,
  37, 36, 35, 34, 33, 32, 0,
]);
const WL = Int32Array.from([-60, -30, 58, 172, 334, 538, 1198, 3042]);
const RL42 = Int32Array.from([0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0]);
const ILB = Int32Array.from([
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
  2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
]);
const QM4 = Int32Array.from([
  0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200,
  0,
]);
const QM2 = Int32Array.from([-7408, -1616, 7408, 1616]);
const QM6 = Int32Array.from([
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
  -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400,
  -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232,
  9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688,
  1360, 1040, 728, 432, 136, -432, -136,
]);
const IHN = Int32Array.from([0, 1, 0]);
const IHP = Int32Array.from([0, 3, 2]);
const WH = Int32Array.from([0, -214, 798]);
const RH2 = Int32Array.from([2, 1, 2, 1]);

function sat(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** Transmit/receive QMF: the 24 coefficients are these 12, mirrored. */
function qmfEven(x: Int32Array, at: number): number {
  return (
    x[at + 1] * -11 +
    x[at + 3] * 53 +
    x[at + 5] * -156 +
    x[at + 7] * 362 +
    x[at + 9] * -805 +
    x[at + 11] * 3876 +
    x[at + 13] * 951 +
    x[at + 15] * -210 +
    x[at + 17] * 32 +
    x[at + 19] * 12 +
    x[at + 21] * -11 +
    x[at + 23] * 3
  );
}

function qmfOdd(x: Int32Array, at: number): number {
  return (
    x[at] * 3 +
    x[at + 2] * -11 +
    x[at + 4] * 12 +
    x[at + 6] * 32 +
    x[at + 8] * -210 +
    x[at + 10] * 951 +
    x[at + 12] * 3876 +
    x[at + 14] * -805 +
    x[at + 16] * 362 +
    x[at + 18] * -156 +
    x[at + 20] * 53 +
    x[at + 22] * -11
  );
}

/** QMF history (22 samples) followed by the frame's samples, kept across frames. */
class QmfBuffer {
  x = new Int32Array(22 + 320);

  /** Room for `pairs` more sample pairs after the history. */
  reserve(pairs: number): Int32Array {
    if (this.x.length < 22 + 2 * pairs) {
      const grown = new Int32Array(22 + 2 * pairs);
      grown.set(this.x.subarray(0, 22));
      this.x = grown;
    }
    return this.x;
  }

  /** Moves the last 22 samples of `pairs` pairs to the front for the next frame. */
  keep(pairs: number): void {
    this.x.copyWithin(0, 2 * pairs, 2 * pairs + 22);
  }
}

/** One sub-band's adaptive predictor and scale factor (block 4 and blocks 3L/3H). */
class Band {
  s = 0;
  sp = 0;
  sz = 0;
  nb = 0;
  det: number;
  r1 = 0;
  r2 = 0;
  a1 = 0;
  a2 = 0;
  p1 = 0;
  p2 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  d4 = 0;
  d5 = 0;
  d6 = 0;
  b1 = 0;
  b2 = 0;
  b3 = 0;
  b4 = 0;
  b5 = 0;
  b6 = 0;

  constructor(det: number) {
    this.det = det;
  }

  /** Blocks 3L/3H: log scale factor update, then its linear value. */
  scale(nbDelta: number, nbMax: number, shiftBase: number): void {
    let nb = ((this.nb * 127) >> 7) + nbDelta;
    nb = nb < 0 ? 0 : nb > nbMax ? nbMax : nb;
    this.nb = nb;
    const wd1 = (nb >> 6) & 31;
    const wd2 = shiftBase - (nb >> 11);
    const wd3 = wd2 < 0 ? ILB[wd1] << -wd2 : ILB[wd1] >> wd2;
    this.det = wd3 << 2;
  }

  /** Block 4: reconstruction, pole and zero predictor adaptation, next prediction. */
  update(dx: number): void {
    const r0 = sat(this.s + dx);
    const p0 = sat(this.sz + dx);
    // UPPOL2
    const sg0 = p0 >> 15;
    const sg1 = this.p1 >> 15;
    const sg2 = this.p2 >> 15;
    let wd1 = sat(this.a1 << 2);
    let wd2 = sg0 === sg1 ? -wd1 : wd1;
    if (wd2 > 32767) wd2 = 32767;
    let wd3 = (sg0 === sg2 ? 128 : -128) + (wd2 >> 7) + ((this.a2 * 32512) >> 15);
    const ap2 = wd3 > 12288 ? 12288 : wd3 < -12288 ? -12288 : wd3;
    // UPPOL1
    let ap1 = sat((sg0 === sg1 ? 192 : -192) + ((this.a1 * 32640) >> 15));
    wd3 = sat(15360 - ap2);
    if (ap1 > wd3) ap1 = wd3;
    else if (ap1 < -wd3) ap1 = -wd3;
    // UPZERO, then DELAYA for the zero section
    const step = dx === 0 ? 0 : 128;
    const sgd = dx >> 15;
    const b1 = sat((this.d1 >> 15 === sgd ? step : -step) + ((this.b1 * 32640) >> 15));
    const b2 = sat((this.d2 >> 15 === sgd ? step : -step) + ((this.b2 * 32640) >> 15));
    const b3 = sat((this.d3 >> 15 === sgd ? step : -step) + ((this.b3 * 32640) >> 15));
    const b4 = sat((this.d4 >> 15 === sgd ? step : -step) + ((this.b4 * 32640) >> 15));
    const b5 = sat((this.d5 >> 15 === sgd ? step : -step) + ((this.b5 * 32640) >> 15));
    const b6 = sat((this.d6 >> 15 === sgd ? step : -step) + ((this.b6 * 32640) >> 15));
    const d1 = dx;
    const d2 = this.d1;
    const d3 = this.d2;
    const d4 = this.d3;
    const d5 = this.d4;
    const d6 = this.d5;
    this.d1 = d1;
    this.d2 = d2;
    this.d3 = d3;
    this.d4 = d4;
    this.d5 = d5;
    this.d6 = d6;
    this.b1 = b1;
    this.b2 = b2;
    this.b3 = b3;
    this.b4 = b4;
    this.b5 = b5;
    this.b6 = b6;
    // DELAYA for the pole section
    const r1 = r0;
    const r2 = this.r1;
    this.r1 = r1;
    this.r2 = r2;
    this.p2 = this.p1;
    this.p1 = p0;
    this.a1 = ap1;
    this.a2 = ap2;
    // FILTEP
    wd1 = (ap1 * sat(r1 + r1)) >> 15;
    wd2 = (ap2 * sat(r2 + r2)) >> 15;
    this.sp = sat(wd1 + wd2);
    // FILTEZ
    let sz = (b6 * sat(d6 + d6)) >> 15;
    sz += (b5 * sat(d5 + d5)) >> 15;
    sz += (b4 * sat(d4 + d4)) >> 15;
    sz += (b3 * sat(d3 + d3)) >> 15;
    sz += (b2 * sat(d2 + d2)) >> 15;
    sz += (b1 * sat(d1 + d1)) >> 15;
    this.sz = sat(sz);
    // PREDIC
    this.s = sat(this.sp + this.sz);
  }
}

/** Blocks 2L (INVQAL), 3L and 4 for a low-band code: the same in the encoder and decoder. */
function adaptLow(low: Band, ilow: number): void {
  const ril = ilow >> 2;
  const dlow = (low.det * QM4[ril]) >> 15;
  low.scale(WL[RL42[ril]], 18432, 8);
  low.update(dlow);
}

/** Blocks 2H (INVQAH), 3H and 4 for a high-band code; returns the quantized difference. */
function adaptHigh(high: Band, ihigh: number): number {
  const dhigh = (high.det * QM2[ihigh]) >> 15;
  high.scale(WH[RH2[ihigh]], 22528, 10);
  high.update(dhigh);
  return dhigh;
}

/** Block 1L's QUANTL: the first decision level above `wd` (1 … 30), by binary search. */
function quantizeLow(wd: number, det: number): number {
  let lo = 1;
  let hi = 30;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wd < (Q6[mid] * det) >> 12) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class ReferenceG722Encoder {
  private readonly qmf = new QmfBuffer();
  private readonly low = new Band(32);
  private readonly high = new Band(8);

  /** Encodes 16 kHz PCM (an even number of samples) into one byte per sample pair. */
  encode(pcm: Int16Array, out: Uint8Array): number {
    const { low, high } = this;
    const pairs = pcm.length >> 1;
    const x = this.qmf.reserve(pairs);
    for (let j = 0; j < 2 * pairs; j++) x[22 + j] = pcm[j];
    for (let n = 0; n < pairs; n++) {
      const sumOdd = qmfOdd(x, 2 * n);
      const sumEven = qmfEven(x, 2 * n);
      const xlow = (sumEven + sumOdd) >> 14;
      const xhigh = (sumEven - sumOdd) >> 14;

      // Low band: blocks 1L (SUBTRA, QUANTL), 2L (INVQAL), 3L, 4.
      const el = sat(xlow - low.s);
      const i = quantizeLow(el >= 0 ? el : -(el + 1), low.det);
      const ilow = el < 0 ? ILN[i] : ILP[i];
      adaptLow(low, ilow);

      // High band: blocks 1H (SUBTRA, QUANTH), 2H (INVQAH), 3H, 4.
      const eh = sat(xhigh - high.s);
      const wd = eh >= 0 ? eh : -(eh + 1);
      const mih = wd >= (564 * high.det) >> 12 ? 2 : 1;
      const ihigh = eh < 0 ? IHN[mih] : IHP[mih];
      adaptHigh(high, ihigh);

      out[n] = (ihigh << 6) | ilow;
    }
    this.qmf.keep(pairs);
    return pairs;
  }
}

export class ReferenceG722Decoder {
  private readonly qmf = new QmfBuffer();
  private readonly low = new Band(32);
  private readonly high = new Band(8);

  /** Decodes 64 kbit/s G.722 bytes into 16 kHz PCM, two samples per byte; returns the count. */
  decode(data: Uint8Array, pcm: Int16Array): number {
    const { low, high } = this;
    const pairs = Math.min(data.length, pcm.length >> 1);
    const x = this.qmf.reserve(pairs);
    for (let k = 0; k < pairs; k++) {
      const code = data[k];
      const ilow = code & 0x3f;
      const ihigh = (code >> 6) & 0x03;
      // Low band: block 5L (INVQBL, RECONS), 6L (LIMIT), then 2L, 3L, 4 as in the encoder.
      let rlow = low.s + ((low.det * QM6[ilow]) >> 15);
      rlow = rlow > 16383 ? 16383 : rlow < -16384 ? -16384 : rlow;
      adaptLow(low, ilow);
      // High band: 2H, 5H, 6H (RECONS, LIMIT on the prediction before adaptation), 3H, 4.
      const s = high.s;
      let rhigh = adaptHigh(high, ihigh) + s;
      rhigh = rhigh > 16383 ? 16383 : rhigh < -16384 ? -16384 : rhigh;
      // Receive QMF.
      x[22 + 2 * k] = rlow + rhigh;
      x[23 + 2 * k] = rlow - rhigh;
      pcm[2 * k] = sat(qmfEven(x, 2 * k) >> 11);
      pcm[2 * k + 1] = sat(qmfOdd(x, 2 * k) >> 11);
    }
    this.qmf.keep(pairs);
    return 2 * pairs;
  }
}
