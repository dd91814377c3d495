/**
 * G.711 µ-law and A-law (ITU-T G.711). Encoding and decoding go through tables built once at
 * load: 256 entries to decode, 65536 to encode (indexed by the 16-bit sample), so a 20 ms frame
 * costs 160 array look-ups and nothing else.
 */

function ulawDecodeSample(code: number): number {
  const u = ~code & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

function ulawEncodeSample(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function alawDecodeSample(code: number): number {
  const a = code ^ 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude =
    exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  if (magnitude > 32767) magnitude = 32767;
  return sign ? magnitude : -magnitude;
}

function alawEncodeSample(sample: number): number {
  let s = sample;
  const sign = s >= 0 ? 0x80 : 0;
  if (s < 0) s = -s - 1;
  if (s > 32767) s = 32767;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = exponent === 0 ? (s >> 4) & 0x0f : (s >> (exponent + 3)) & 0x0f;
  return (sign | (exponent << 4) | mantissa) ^ 0x55;
}

function buildDecodeTable(decode: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let i = 0; i < 256; i++) table[i] = decode(i);
  return table;
}

function buildEncodeTable(encode: (sample: number) => number): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encode(i < 32768 ? i : i - 65536);
  return table;
}

const ULAW_DECODE = buildDecodeTable(ulawDecodeSample);
const ALAW_DECODE = buildDecodeTable(alawDecodeSample);
const ULAW_ENCODE = buildEncodeTable(ulawEncodeSample);
const ALAW_ENCODE = buildEncodeTable(alawEncodeSample);

export type G711Law = 'ulaw' | 'alaw';

/** Decodes `input` into `out` (one Int16 per byte); returns the number of samples written. */
export function g711Decode(law: G711Law, input: Uint8Array, out: Int16Array): number {
  const table = law === 'ulaw' ? ULAW_DECODE : ALAW_DECODE;
  const n = Math.min(input.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[input[i]];
  return n;
}

/** Encodes `input` samples into `out` (one byte each); returns the number of bytes written. */
export function g711Encode(law: G711Law, input: Int16Array, out: Uint8Array): number {
  const table = law === 'ulaw' ? ULAW_ENCODE : ALAW_ENCODE;
  const n = Math.min(input.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[input[i] & 0xffff];
  return n;
}

/** The code for digital silence: 0xFF in µ-law, 0xD5 in A-law. */
export function g711Silence(law: G711Law): number {
  return law === 'ulaw' ? 0xff : 0xd5;
}
