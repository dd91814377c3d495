/**
 * Kernel-timestamped traffic on the loopback interface, for the latency bench: dumpcap writes
 * a classic pcap file; this reads it back as UDP datagrams and WebSocket frames (TCP streams
 * reassembled, the HTTP upgrade skipped, client frames unmasked), each with the time the
 * kernel saw its last byte. Timestamps taken this way leave out the measuring process's own
 * scheduling: what lies between two of them is the network stack and the process under test.
 *
 * Written here rather than taken from npm: the pcap readers there parse the file but none
 * reassembles TCP into WebSocket frames, which is most of the work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';

export interface Datagram {
  /** Milliseconds (kernel time of day, microsecond resolution). */
  t: number;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export interface WsFrame extends Datagram {
  opcode: number;
}

export interface Capture {
  udp: Datagram[];
  ws: WsFrame[];
}

/** Starts dumpcap on `lo` with a BPF filter; resolves once it captures, with its stop. */
export async function startCapture(file: string, filter: string): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn(
    'dumpcap',
    ['-i', 'lo', '-P', '-B', '256', '-s', '0', '-f', filter, '-w', file],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`dumpcap exited ${code}: ${err.trim()}`)));
  });
  return async () => {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  };
}

/** Segments held ahead of a gap before a stream is given up. */
const MAX_HELD_SEGMENTS = 1000;

interface Stream {
  next: number | undefined;
  data: Buffer;
  state: 'http' | 'ws' | 'other';
  held: Map<number, { t: number; data: Buffer }>;
}

/** Reads a pcap file written by startCapture (Ethernet or Linux cooked link types). */
export async function readCapture(file: string): Promise<Capture> {
  const buf = await fs.readFile(file);
  const magic = buf.readUInt32LE(0);
  const nanos = magic === 0xa1b23c4d;
  if (magic !== 0xa1b2c3d4 && !nanos) throw new Error(`${file}: not a little-endian pcap file`);
  const linkType = buf.readUInt32LE(20);
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 276 ? 20 : -1;
  if (linkHeader < 0) throw new Error(`${file}: link type ${linkType} not handled`);
  const capture: Capture = { udp: [], ws: [] };
  const streams = new Map<string, Stream>();
  for (let at = 24; at + 16 <= buf.length;) {
    const t = buf.readUInt32LE(at) * 1000 + buf.readUInt32LE(at + 4) / (nanos ? 1e6 : 1e3);
    const length = buf.readUInt32LE(at + 8);
    const frame = buf.subarray(at + 16, at + 16 + length);
    at += 16 + length;
    const ip = frame.subarray(linkHeader);
    if (ip.length < 20 || ip[0] >> 4 !== 4) continue;
    const ipLength = (ip[0] & 0x0f) * 4;
    const total = ip.readUInt16BE(2);
    const body = ip.subarray(ipLength, total);
    const protocol = ip[9];
    if (protocol === 17 && body.length >= 8) {
      capture.udp.push({
        t,
        srcPort: body.readUInt16BE(0),
        dstPort: body.readUInt16BE(2),
        payload: body.subarray(8),
      });
    } else if (protocol === 6 && body.length >= 20) {
      onSegment(streams, capture.ws, t, ip, body);
    }
  }
  return capture;
}

function onSegment(
  streams: Map<string, Stream>,
  out: WsFrame[],
  t: number,
  ip: Buffer,
  tcp: Buffer,
): void {
  const srcPort = tcp.readUInt16BE(0);
  const dstPort = tcp.readUInt16BE(2);
  const key = `${ip.readUInt32BE(12)}:${srcPort}>${ip.readUInt32BE(16)}:${dstPort}`;
  const seq = tcp.readUInt32BE(4);
  const flags = tcp[13];
  let stream = streams.get(key);
  if (flags & 0x02) {
    // SYN: the stream starts at the next sequence number.
    stream = { next: (seq + 1) >>> 0, data: Buffer.alloc(0), state: 'http', held: new Map() };
    streams.set(key, stream);
    return;
  }
  const data = tcp.subarray((tcp[12] >> 4) * 4);
  if (!stream && startsWebSocketFrame(data)) {
    // A connection older than the capture (dumpcap reports "Capturing on" a little before it
    // sees everything): read on from a segment that starts with a whole frame's header.
    stream = { next: seq, data: Buffer.alloc(0), state: 'ws', held: new Map() };
    streams.set(key, stream);
  }
  if (!stream || stream.next === undefined || data.length === 0) return;
  stream.held.set(seq, { t, data });
  // A segment the capture missed: the stream cannot be read past it, so it is given up.
  if (stream.held.size > MAX_HELD_SEGMENTS) {
    stream.held.clear();
    stream.state = 'other';
    return;
  }
  // In order: take what starts at (or overlaps) the next expected byte; hold what is ahead.
  for (let progressed = true; progressed;) {
    progressed = false;
    for (const [s, segment] of stream.held) {
      const offset = (stream.next - s) | 0;
      if (offset < 0) continue;
      stream.held.delete(s);
      if (offset < segment.data.length) {
        append(stream, segment.data.subarray(offset), segment.t, srcPort, dstPort, out);
        stream.next = (s + segment.data.length) >>> 0;
      }
      progressed = true;
    }
  }
}

/** A final data or control frame's header, with no reserved bits, that fits the segment. */
function startsWebSocketFrame(data: Buffer): boolean {
  if (data.length < 2 || (data[0] & 0xf0) !== 0x80) return false;
  if (![1, 2, 8, 9, 10].includes(data[0] & 0x0f)) return false;
  const length = data[1] & 0x7f;
  const header = 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (data[1] & 0x80 ? 4 : 0);
  return length < 126 ? data.length === header + length : data.length >= header;
}

function append(
  stream: Stream,
  data: Buffer,
  t: number,
  srcPort: number,
  dstPort: number,
  out: WsFrame[],
): void {
  if (stream.state === 'other') return;
  stream.data = stream.data.length ? Buffer.concat([stream.data, data]) : data;
  if (stream.state === 'http') {
    const end = stream.data.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = stream.data.subarray(0, end).toString('latin1');
    const upgrade = /^GET /.test(head) ? /upgrade:\s*websocket/i.test(head) : / 101 /.test(head);
    stream.state = upgrade ? 'ws' : 'other';
    stream.data = stream.data.subarray(end + 4);
    if (!upgrade) return;
  }
  let d = stream.data;
  for (;;) {
    if (d.length < 2) break;
    const opcode = d[0] & 0x0f;
    const masked = (d[1] & 0x80) !== 0;
    let length = d[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (d.length < 4) break;
      length = d.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (d.length < 10) break;
      length = Number(d.readBigUInt64BE(2));
      at = 10;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (d.length < at + length) break;
    const payload = Buffer.from(d.subarray(at, at + length));
    if (masked) for (let i = 0; i < length; i++) payload[i] ^= d[maskAt + (i & 3)];
    out.push({ t, srcPort, dstPort, opcode, payload });
    d = d.subarray(at + length);
  }
  stream.data = d;
}
