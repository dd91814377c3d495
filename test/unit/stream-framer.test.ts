/** TCP framing by Content-Length: pipelined and split messages, keep-alive pings, size limit. */
import { describe, expect, it } from 'vitest';
import { StreamFramer } from '../../src/sip/stream-framer.js';

const message = (id: string, body = '') =>
  `OPTIONS sip:a@b SIP/2.0\r\nCall-ID: ${id}\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('stream framer', () => {
  it('splits pipelined messages and joins a message cut anywhere', () => {
    const stream = Buffer.from(message('one', 'hello') + message('two') + message('three', 'x'));
    for (let cut = 1; cut < stream.length; cut += 7) {
      const framer = new StreamFramer(65535);
      const out = [...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut))];
      expect(out.map((f) => (f.kind === 'message' ? f.data.toString() : f.kind))).toEqual([
        message('one', 'hello'),
        message('two'),
        message('three', 'x'),
      ]);
    }
  });

  it('answers a double-CRLF ping and skips single CRLFs between messages', () => {
    const framer = new StreamFramer(65535);
    const out = framer.push(Buffer.from(`\r\n\r\n${message('a')}\r\n${message('b')}`));
    expect(out.map((f) => f.kind)).toEqual(['ping', 'message', 'message']);
  });

  it('a message over the limit is reported once and the stream is given up', () => {
    const framer = new StreamFramer(200);
    const out = framer.push(Buffer.from(message('big', 'x'.repeat(500))));
    expect(out.map((f) => f.kind)).toEqual(['oversize']);
    expect(framer.broken).toBe(true);
    expect(framer.push(Buffer.from(message('after')))).toEqual([]);
  });

  it('endless headers without a blank line are cut off at the limit', () => {
    const framer = new StreamFramer(1000);
    let out: ReturnType<StreamFramer['push']> = [];
    for (let i = 0; i < 100 && !out.length; i++)
      out = framer.push(Buffer.from('X-Pad: 0123456789\r\n'));
    expect(out.map((f) => f.kind)).toEqual(['oversize']);
  });
});
