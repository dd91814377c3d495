/** RTP fixed header (RFC 3550 §5.1) read and write, without allocation on the read side. */

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payloadOffset: number;
  payloadLength: number;
}

/** Parses into `out`; returns false for anything that is not a well-formed RTP packet. */
export function readRtpHeader(packet: Buffer, out: RtpHeader): boolean {
  if (packet.length < 12) return false;
  const b0 = packet[0];
  if (b0 >> 6 !== 2) return false;
  const csrcCount = b0 & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (b0 & 0x10) {
    if (packet.length < offset + 4) return false;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  let end = packet.length;
  if (b0 & 0x20) {
    const padding = packet[packet.length - 1];
    end -= padding;
  }
  if (end < offset) return false;
  const b1 = packet[1];
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequence = packet.readUInt16BE(2);
  out.timestamp = packet.readUInt32BE(4);
  out.ssrc = packet.readUInt32BE(8);
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  return true;
}

export function newRtpHeader(): RtpHeader {
  return {
    payloadType: 0,
    marker: false,
    sequence: 0,
    timestamp: 0,
    ssrc: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/** Writes a 12-byte header (no CSRC, no extension) at the start of `packet`. */
export function writeRtpHeader(
  packet: Buffer,
  payloadType: number,
  marker: boolean,
  sequence: number,
  timestamp: number,
  ssrc: number,
): void {
  // Byte by byte: Buffer's writeUInt*BE check their arguments on every call (per packet).
  packet[0] = 0x80;
  packet[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  packet[2] = (sequence >>> 8) & 0xff;
  packet[3] = sequence & 0xff;
  packet[4] = timestamp >>> 24;
  packet[5] = (timestamp >>> 16) & 0xff;
  packet[6] = (timestamp >>> 8) & 0xff;
  packet[7] = timestamp & 0xff;
  packet[8] = ssrc >>> 24;
  packet[9] = (ssrc >>> 16) & 0xff;
  packet[10] = (ssrc >>> 8) & 0xff;
  packet[11] = ssrc & 0xff;
}
