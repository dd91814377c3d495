/**
 * SIP message parser (RFC 3261 §7, §25). Hand-written: no maintained npm parser handles
 * compact forms, folding, size limits and a partial parse for 400 answers together.
 *
 * A failed parse still returns whatever request headers it read, so the transport can answer
 * 400 with a reason when Via, From, To, Call-ID and CSeq are usable, and drop it otherwise.
 */
import { SipHeaders } from './headers.js';
import { parseCSeq, type SipMessage, type SipRequest } from './message.js';
import { isValidNameAddr } from './uri.js';
import { parseVia } from './via.js';

export interface ParseLimits {
  maxMessageBytes: number;
  maxHeaders: number;
  /** A larger body is refused with 413 (an SDP offer is a few hundred bytes). */
  maxBodyBytes: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = {
  maxMessageBytes: 65_535,
  maxHeaders: 256,
  maxBodyBytes: 16_384,
};

export type ParseResult =
  | { ok: true; message: SipMessage }
  | { ok: false; error: string; status: 400 | 413 | 505 | 513; partial?: SipRequest };

const METHOD_RE = /^[A-Za-z0-9!%*_+`'~.-]+$/;
const HEADER_NAME_RE = /^[A-Za-z0-9!%*_+`'~.-]+$/;

function fail(
  error: string,
  status: 400 | 413 | 505 | 513 = 400,
  partial?: SipRequest,
): ParseResult {
  return { ok: false, error, status, partial };
}

function findHeaderEnd(buf: Buffer): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headEnd: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headEnd: lf, bodyStart: lf + 2 };
  return undefined;
}

export function parseMessage(buf: Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParseResult {
  const end = findHeaderEnd(buf);
  const headText = buf.toString('latin1', 0, end ? end.headEnd : buf.length);
  const lines = headText.split(/\r?\n/);
  while (lines.length && lines[0] === '') lines.shift(); // RFC 3261 §7.5: ignore leading CRLFs
  if (!lines.length) return fail('empty message');

  const startLine = lines[0];
  const headers = new SipHeaders();
  const headerProblem = readHeaders(lines, headers, limits);
  const isResponse = startLine.startsWith('SIP/');

  let partial: SipRequest | undefined;
  let message: SipMessage;
  if (isResponse) {
    const m = /^SIP\/(\d+\.\d+) (\d{3})(?: (.*))?$/.exec(startLine);
    if (!m) return fail('malformed status line');
    if (m[1] !== '2.0') return fail('unsupported SIP version', 505);
    const status = Number(m[2]);
    if (status < 100 || status > 699) return fail('status code out of range');
    message = { kind: 'response', status, reason: m[3] ?? '', headers, body: Buffer.alloc(0) };
  } else {
    const m = /^(\S+) (\S+) (\S+)$/.exec(startLine);
    const method = /^\S+/.exec(startLine)?.[0] ?? '';
    if (!METHOD_RE.test(method)) return fail('malformed request line');
    // A usable method is enough for a 400 to be sent back, whatever else is wrong.
    const uri = m?.[2] ?? startLine.split(/\s+/)[1] ?? '';
    message = { kind: 'request', method, uri, headers, body: Buffer.alloc(0) };
    partial = message;
    if (!m) return fail('malformed request line', 400, partial);
    if (!/^SIP\/\d+\.\d+$/i.test(m[3])) return fail('malformed request line', 400, partial);
    if (m[3].toUpperCase() !== 'SIP/2.0') return fail('unsupported SIP version', 505, partial);
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(m[2])) {
      return fail('malformed Request-URI', 400, partial);
    }
    if (m[2].indexOf('?', m[2].lastIndexOf('@') + 1) >= 0) {
      return fail('headers are not allowed in a Request-URI', 400, partial);
    }
  }

  if (buf.length > limits.maxMessageBytes) return fail('message too large', 513, partial);
  if (headerProblem) return fail(headerProblem, 400, partial);
  if (!end) return fail('incomplete message: no end of headers', 400, partial);

  const problem = checkMandatoryHeaders(message);
  if (problem) return fail(problem, 400, partial);

  const available = buf.length - end.bodyStart;
  const lengthText = headers.get('content-length');
  let bodyLength = available;
  if (lengthText !== undefined) {
    if (!/^\s*\d{1,9}\s*$/.test(lengthText)) return fail('malformed Content-Length', 400, partial);
    bodyLength = Number(lengthText);
    if (bodyLength > limits.maxBodyBytes) return fail('body too large', 413, partial);
    if (bodyLength > available) return fail('body shorter than Content-Length', 400, partial);
  }
  message.body = buf.subarray(end.bodyStart, end.bodyStart + bodyLength);
  return { ok: true, message };
}

/** Reads header lines (with RFC 3261 §7.3.1 folding); returns a problem or undefined. */
function readHeaders(
  lines: string[],
  headers: SipHeaders,
  limits: ParseLimits,
): string | undefined {
  let problem: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    let line = lines[i];
    if (line === '') continue; // only at the very end of a message cut before its blank line
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1])) {
      line += ' ' + lines[++i].trim();
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (colon < 0 || !HEADER_NAME_RE.test(name)) {
      problem ??= `malformed header line ${i + 1}`;
      continue;
    }
    if (headers.entries.length >= limits.maxHeaders) {
      problem ??= 'too many headers';
      break;
    }
    headers.add(name, line.slice(colon + 1).trim());
  }
  return problem;
}

/** Headers that may appear once only (RFC 4475 §3.3.8, §3.3.9). */
const SINGLE_VALUE = [
  'call-id',
  'cseq',
  'from',
  'to',
  'max-forwards',
  'content-length',
  'content-type',
];

const RFC1123_GMT = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function checkMandatoryHeaders(message: SipMessage): string | undefined {
  const h = message.headers;
  for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!h.get(name)) return `missing ${name === 'cseq' ? 'CSeq' : name} header`;
  }
  for (const name of SINGLE_VALUE) {
    let count = 0;
    for (const [k] of h.entries) if (k === name) count++;
    if (count > 1) return `more than one ${name} header`;
  }
  if (!h.getAll('via').every((v) => parseVia(v))) return 'malformed Via';
  if (!isValidNameAddr(h.get('from')!)) return 'malformed From';
  if (!isValidNameAddr(h.get('to')!)) return 'malformed To';
  const date = h.get('date');
  if (date !== undefined && !RFC1123_GMT.test(date.trim())) return 'malformed Date';
  const cseq = parseCSeq(h.get('cseq'));
  if (!cseq) return 'malformed CSeq';
  if (message.kind === 'request' && cseq.method !== message.method) {
    return 'CSeq method does not match the request method';
  }
  if (message.kind === 'request') {
    const mf = h.get('max-forwards');
    if (mf !== undefined && (!/^\s*\d{1,9}\s*$/.test(mf) || Number(mf) > 255)) {
      return 'malformed Max-Forwards';
    }
  }
  return undefined;
}
