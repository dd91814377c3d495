/**
 * Cuts a SIP byte stream (TCP) into messages by Content-Length (RFC 3261 §18.3), and recognises
 * the RFC 5626 §3.5.1 keep-alive: a double CRLF "ping" between messages, answered with one CRLF.
 */

export type Framed =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  /** The message would exceed the size limit: its head is given so a 513 can be answered. */
  | { kind: 'oversize'; head: Buffer };

const CRLF2 = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$/im;

export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);
  /** Set once the stream can no longer be framed; the connection must be closed. */
  broken = false;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): Framed[] {
    if (this.broken) return [];
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: Framed[] = [];
    for (;;) {
      const framed = this.next();
      if (!framed) break;
      out.push(framed);
      if (framed.kind === 'oversize') {
        this.broken = true;
        this.buffer = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  private next(): Framed | undefined {
    const buf = this.buffer;
    if (buf.length >= 4 && buf.subarray(0, 4).equals(CRLF2)) {
      this.buffer = buf.subarray(4);
      return { kind: 'ping' };
    }
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) {
      if (buf.length - start >= 4 && buf.subarray(start, start + 4).equals(CRLF2)) break;
      start += 2;
    }
    if (start > 0) {
      this.buffer = buf.subarray(start);
      return this.next();
    }
    const headEnd = buf.indexOf(CRLF2);
    if (headEnd < 0) {
      if (buf.length > this.maxMessageBytes) return { kind: 'oversize', head: buf };
      return undefined;
    }
    const head = buf.toString('latin1', 0, headEnd);
    const lengthMatch = CONTENT_LENGTH_RE.exec(head);
    // A stream message without Content-Length has no body (RFC 3261 §18.3 makes it mandatory).
    const bodyLength = lengthMatch ? Number(lengthMatch[1]) : 0;
    const total = headEnd + 4 + bodyLength;
    if (total > this.maxMessageBytes)
      return { kind: 'oversize', head: buf.subarray(0, headEnd + 4) };
    if (buf.length < total) return undefined;
    const data = Buffer.from(buf.subarray(0, total));
    this.buffer = buf.subarray(total);
    return { kind: 'message', data };
  }
}
