/**
 * L16 (RFC 3551 §4.5.11): 16-bit linear PCM, big-endian on the wire (network byte order).
 * Bytes are copied whole and swapped by Buffer.swap16 (native), not sample by sample. The
 * process runs on little-endian hosts only (src/call/call.ts refuses others), so Int16Array is LE.
 */

/** Writes `pcm` big-endian into `out`; returns the byte length. */
export function l16Encode(pcm: Int16Array, out: Buffer): number {
  const bytes = pcm.length * 2;
  out.set(new Uint8Array(pcm.buffer, pcm.byteOffset, bytes));
  out.subarray(0, bytes).swap16();
  return bytes;
}

/** Reads big-endian samples from `payload` into `pcm` (as many as fit); returns the count. */
export function l16Decode(payload: Buffer, pcm: Int16Array): number {
  const count = Math.min(pcm.length, payload.length >> 1);
  const view = Buffer.from(pcm.buffer, pcm.byteOffset, count * 2);
  view.set(payload.subarray(0, count * 2));
  view.swap16();
  return count;
}
