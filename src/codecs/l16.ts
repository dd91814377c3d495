/** L16 (RFC 3551 §4.5.11): 16-bit linear PCM, big-endian on the wire (network byte order). */

/** Writes `pcm` big-endian into `out`; returns the byte length. */
export function l16Encode(pcm: Int16Array, out: Buffer): number {
  for (let i = 0; i < pcm.length; i++) out.writeInt16BE(pcm[i], i * 2);
  return pcm.length * 2;
}

/** Reads big-endian samples from `payload` into `pcm` (as many as fit); returns the count. */
export function l16Decode(payload: Buffer, pcm: Int16Array): number {
  const count = Math.min(pcm.length, payload.length >> 1);
  for (let i = 0; i < count; i++) pcm[i] = payload.readInt16BE(i * 2);
  return count;
}
