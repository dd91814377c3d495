import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/sip/parse.js';
import { serializeMessage } from '../../src/sip/serialize.js';
import { parseNameAddr, parseUri } from '../../src/sip/uri.js';
import { parseVia } from '../../src/sip/via.js';
import { buildResponse } from '../../src/sip/build.js';

const INVITE = [
  'INVITE sip:+15550100100@127.0.0.1:5060;user=phone SIP/2.0',
  'v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKdef',
  'Via: SIP/2.0/UDP 10.0.0.3:5070;branch=z9hG4bKghi',
  'f: "Alice, A." <sip:alice@example.com>;tag=1928',
  't: <sip:+15550100100@example.com>',
  'i: a84b4c76e66710',
  'CSeq: 314159 INVITE',
  'Max-Forwards: 70',
  'Subject: folded',
  '  across lines',
  'm: <sip:alice@10.0.0.1:5062>',
  'c: application/sdp',
  'l: 4',
  '',
  'v=0\r\nextra bytes beyond Content-Length',
].join('\r\n');

describe('SIP parser', () => {
  it('reads compact forms, folded lines, multi-value Via and Content-Length framing', () => {
    const r = parseMessage(Buffer.from(INVITE));
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'request') throw new Error('expected a request');
    const m = r.message;
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:+15550100100@127.0.0.1:5060;user=phone');
    expect(m.headers.getAll('via')).toHaveLength(3);
    expect(parseVia(m.headers.getAll('via')[0])?.params.get('branch')).toBe('z9hG4bKabc');
    expect(m.headers.get('call-id')).toBe('a84b4c76e66710');
    expect(m.headers.get('subject')).toBe('folded across lines');
    expect(parseNameAddr(m.headers.get('from')!)).toMatchObject({
      display: 'Alice, A.',
      uri: 'sip:alice@example.com',
    });
    expect(m.body.toString()).toBe('v=0\r');
  });

  it('round-trips through the serializer with canonical names', () => {
    const r = parseMessage(Buffer.from(INVITE));
    if (!r.ok) throw new Error(r.error);
    const text = serializeMessage(r.message).toString();
    expect(text).toMatch(/^INVITE sip:\+15550100100@127\.0\.0\.1:5060;user=phone SIP\/2\.0\r\n/);
    expect(text).toContain('\r\nCall-ID: a84b4c76e66710\r\n');
    expect(text).toContain('\r\nContent-Length: 4\r\n\r\nv=0\r');
    const again = parseMessage(Buffer.from(text));
    expect(again.ok && again.message.headers.getAll('via')).toHaveLength(3);
  });

  it.each([
    [
      'no end of headers',
      'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n',
      /incomplete/,
      400,
    ],
    [
      'body shorter than Content-Length',
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nabc',
      /shorter/,
      400,
    ],
    [
      'CSeq method mismatch',
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n',
      /CSeq method/,
      400,
    ],
    [
      'missing Call-ID',
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCSeq: 1 OPTIONS\r\n\r\n',
      /missing call-id/,
      400,
    ],
    [
      'SIP/3.0',
      'OPTIONS sip:a@b SIP/3.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n',
      /version/,
      505,
    ],
    [
      'bad Content-Length',
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: -3\r\n\r\n',
      /Content-Length/,
      400,
    ],
  ])('refuses %s', (_name, text, error, status) => {
    const r = parseMessage(Buffer.from(text));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(error);
    expect(r.status).toBe(status);
    expect(r.partial?.kind).toBe('request');
  });

  it('refuses oversize messages with 513 and garbage without a partial request', () => {
    const big =
      'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nX-Pad: ' +
      'a'.repeat(70_000) +
      '\r\n\r\n';
    const r = parseMessage(Buffer.from(big));
    expect(!r.ok && r.status).toBe(513);
    const g = parseMessage(Buffer.from([0, 1, 2, 3]));
    expect(g.ok).toBe(false);
    expect(!g.ok && g.partial).toBeUndefined();
  });

  it('never throws on random bytes or random cuts of a valid message', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const valid = Buffer.from(INVITE);
    for (let i = 0; i < 3000; i++) {
      const cut = valid.subarray(0, Math.floor(rand() * valid.length));
      const noisy = Buffer.from(cut);
      for (let j = 0; j < 3; j++)
        noisy[Math.floor(rand() * noisy.length)] = Math.floor(rand() * 256);
      expect(() => parseMessage(noisy)).not.toThrow();
    }
  });
});

describe('URIs and responses', () => {
  it('parses sip and tel URIs and refuses bad ports', () => {
    expect(parseUri('sip:+15550100@[::1]:5070;transport=udp')).toMatchObject({
      user: '+15550100',
      host: '::1',
      port: 5070,
    });
    expect(parseUri('tel:+1-555-0100;ext=100')?.params.get('ext')).toBe('100');
    expect(parseUri('sip:a@host:99999')).toBeUndefined();
    expect(parseUri('http://x')).toBeUndefined();
  });

  it('builds a response that copies Via, From, Call-ID, CSeq and adds a To tag', () => {
    const r = parseMessage(Buffer.from(INVITE));
    if (!r.ok || r.message.kind !== 'request') throw new Error('parse');
    const res = buildResponse(r.message, 486, { toTag: 'xyz' });
    expect(res.headers.getAll('via')).toHaveLength(3);
    expect(res.headers.get('to')).toBe('<sip:+15550100100@example.com>;tag=xyz');
    expect(res.headers.get('cseq')).toBe('314159 INVITE');
    expect(res.reason).toBe('Busy Here');
  });
});
