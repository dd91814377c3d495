/**
 * SIP header storage: ordered, case-insensitive, with RFC 3261 §7.3.3 compact forms expanded
 * on the way in so the rest of the stack only ever sees one spelling of each name.
 */

const COMPACT: Record<string, string> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  b: 'referred-by',
  o: 'event',
  u: 'allow-events',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
};

/** Canonical spelling used when serialising; anything else is written as received. */
const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rack: 'RAck',
  rseq: 'RSeq',
};

export function normalizeHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

export function canonicalHeaderName(lowerName: string): string {
  const fixed = CANONICAL[lowerName];
  if (fixed) return fixed;
  return lowerName.replace(
    /(^|-)([a-z])/g,
    (_m, dash: string, ch: string) => dash + ch.toUpperCase(),
  );
}

/** Headers whose values may be comma-joined lists (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set([
  'via',
  'route',
  'record-route',
  'contact',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-encoding',
  'allow-events',
]);

/** Splits on commas that are outside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let depthAngle = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (inQuote) {
      if (ch === 0x5c)
        i++; // backslash escape inside quoted-string
      else if (ch === 0x22) inQuote = false;
    } else if (ch === 0x22) inQuote = true;
    else if (ch === 0x3c) depthAngle++;
    else if (ch === 0x3e) depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === 0x2c && depthAngle === 0) {
      parts.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(value.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

export class SipHeaders {
  /** [lower-case canonical name, raw value] in wire order. */
  readonly entries: Array<[string, string]> = [];

  add(name: string, value: string): this {
    this.entries.push([normalizeHeaderName(name), value]);
    return this;
  }

  /** Replaces every occurrence of `name` with one value, at the first occurrence's place. */
  set(name: string, value: string): this {
    const key = normalizeHeaderName(name);
    const at = this.entries.findIndex((e) => e[0] === key);
    if (at < 0) {
      this.entries.push([key, value]);
      return this;
    }
    this.entries[at] = [key, value];
    for (let i = this.entries.length - 1; i > at; i--) {
      if (this.entries[i][0] === key) this.entries.splice(i, 1);
    }
    return this;
  }

  prepend(name: string, value: string): this {
    this.entries.unshift([normalizeHeaderName(name), value]);
    return this;
  }

  remove(name: string): this {
    const key = normalizeHeaderName(name);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i][0] === key) this.entries.splice(i, 1);
    }
    return this;
  }

  has(name: string): boolean {
    const key = normalizeHeaderName(name);
    return this.entries.some((e) => e[0] === key);
  }

  /** The first header line's raw value (not split on commas). */
  get(name: string): string | undefined {
    const key = normalizeHeaderName(name);
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }

  /** Every value, with list headers split on their top-level commas. */
  getAll(name: string): string[] {
    const key = normalizeHeaderName(name);
    const out: string[] = [];
    for (const [k, v] of this.entries) {
      if (k !== key) continue;
      if (LIST_HEADERS.has(key)) out.push(...splitHeaderList(v));
      else out.push(v);
    }
    return out;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const [k, v] of this.entries) copy.entries.push([k, v]);
    return copy;
  }
}
