/**
 * Captures RTP on loopback with dumpcap (sipp cannot record what it receives) and reads the
 * pcap back: one entry per UDP datagram, with its ports and payload.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { startProcess, waitForOutput, type Running } from './processes.js';

export interface Datagram {
  /** Capture time in seconds. */
  time: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export class Capture {
  private constructor(
    private readonly running: Running,
    private readonly file: string,
  ) {}

  static async start(dir: string, filter: string, timeoutMs = 30_000): Promise<Capture> {
    const file = path.join(dir, `cap-${Date.now()}.pcap`);
    const running = startProcess('dumpcap', ['-i', 'lo', '-f', filter, '-P', '-w', file], {
      timeoutMs,
    });
    await waitForOutput(running, /Capturing on/, 10_000);
    return new Capture(running, file);
  }

  async stop(): Promise<Datagram[]> {
    this.running.child.kill('SIGINT');
    await this.running.done;
    return readPcapUdp(await fs.readFile(this.file));
  }
}

/** Reads a classic little-endian pcap of Linux loopback (Ethernet framing) or cooked captures. */
export function readPcapUdp(buf: Buffer): Datagram[] {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4)
    throw new Error('not a little-endian pcap file');
  const linkType = buf.readUInt32LE(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 0 ? 4 : -1;
  if (linkHeader < 0) throw new Error(`unsupported link type ${linkType}`);
  const out: Datagram[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const time = buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) / 1e6;
    const capLen = buf.readUInt32LE(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + capLen);
    off += 16 + capLen;
    const ip = pkt.subarray(linkHeader);
    if (ip.length < 20 || ip[0] >> 4 !== 4 || ip[9] !== 17) continue;
    const ihl = (ip[0] & 0x0f) * 4;
    const udp = ip.subarray(ihl);
    const len = udp.readUInt16BE(4);
    out.push({
      time,
      srcPort: udp.readUInt16BE(0),
      dstPort: udp.readUInt16BE(2),
      payload: udp.subarray(8, len),
    });
  }
  return out;
}
