/**
 * SIP/tel URI and name-addr parsing (RFC 3261 §19.1, §20.10; RFC 3966 for tel:).
 * Just enough structure for routing and dialogs; the original text is kept for
 * re-serialisation so nothing a peer sent is rewritten by accident.
 */

import type { SipTransport } from './message.js';
export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user?: string;
  host: string;
  port?: number;
  params: Map<string, string | null>;
  headers: string;
}

export interface NameAddr {
  display?: string;
  uri: string;
  params: Map<string, string | null>;
}

export function parseParams(text: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const part of text.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) params.set(p.toLowerCase(), null);
    else params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return params;
}

export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** Parses sip:, sips: and tel: URIs. Returns undefined for anything malformed. */
export function parseUri(text: string): SipUri | undefined {
  const m = /^(sips?|tel):(.*)$/i.exec(text.trim());
  if (!m) return undefined;
  const scheme = m[1].toLowerCase() as SipUri['scheme'];
  let rest = m[2];
  let headers = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!/^\+?[0-9A-Fa-f*#().-]+$/.test(number)) return undefined;
    return {
      scheme,
      user: number,
      host: '',
      params: parseParams(semi < 0 ? '' : rest.slice(semi + 1)),
      headers,
    };
  }
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (!user) return undefined;
    rest = rest.slice(at + 1);
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const params = parseParams(semi < 0 ? '' : rest.slice(semi + 1));
  const hp = parseHostPort(hostport);
  if (!hp) return undefined;
  return {
    scheme,
    user: user === undefined ? undefined : unescapeUser(user),
    ...hp,
    params,
    headers,
  };
}

function unescapeUser(user: string): string {
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

export function parseHostPort(text: string): { host: string; port?: number } | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return undefined;
    host = text.slice(1, end);
    const after = text.slice(end + 1);
    if (after && !after.startsWith(':')) return undefined;
    portText = after ? after.slice(1) : undefined;
  } else {
    const colon = text.lastIndexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return undefined;
  }
  if (!host) return undefined;
  if (portText === undefined) return { host };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Parses a From/To/Contact/Route value: `"Name" <uri>;params`, `<uri>;params` or a bare
 * addr-spec, where (RFC 3261 §20) the parameters after a bare URI belong to the header.
 */
export function parseNameAddr(text: string): NameAddr | undefined {
  const value = text.trim();
  const lt = findUnquoted(value, '<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    if (gt < 0) return undefined;
    let display: string | undefined = value.slice(0, lt).trim();
    if (display.startsWith('"') && display.endsWith('"') && display.length >= 2) {
      display = display.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const uri = value.slice(lt + 1, gt).trim();
    if (!uri) return undefined;
    return {
      display: display || undefined,
      uri,
      params: parseParams(value.slice(gt + 1)),
    };
  }
  const semi = value.indexOf(';');
  const uri = (semi < 0 ? value : value.slice(0, semi)).trim();
  if (!uri || /\s/.test(uri)) return undefined;
  return { uri, params: parseParams(semi < 0 ? '' : value.slice(semi)) };
}

const TOKEN_DISPLAY_RE = /^[A-Za-z0-9\-.!%*_+`'~ \t]*$/;
const QUOTED_RE = /^"(?:[^"\\]|\\.)*"$/;
const ABSOLUTE_URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>]+$/;

/**
 * Strict RFC 3261 §25.1 check of a From/To value: a display name that is tokens or one
 * balanced quoted string, no whitespace inside the angle brackets, an absolute URI.
 */
export function isValidNameAddr(text: string): boolean {
  const value = text.trim();
  const lt = findUnquoted(value, '<');
  if (lt < 0) {
    const semi = value.indexOf(';');
    return ABSOLUTE_URI_RE.test((semi < 0 ? value : value.slice(0, semi)).trim());
  }
  const display = value.slice(0, lt).trim();
  if (display && !QUOTED_RE.test(display) && !TOKEN_DISPLAY_RE.test(display)) return false;
  const gt = value.indexOf('>', lt);
  return gt > lt && ABSOLUTE_URI_RE.test(value.slice(lt + 1, gt));
}

function findUnquoted(text: string, ch: string): number {
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === ch) return i;
  }
  return -1;
}

export function formatNameAddr(addr: NameAddr): string {
  const display = addr.display ? `"${addr.display.replace(/(["\\])/g, '\\$1')}" ` : '';
  return `${display}<${addr.uri}>${formatParams(addr.params)}`;
}

/** The tag parameter of a From/To value, if any. */
export function tagOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return parseNameAddr(value)?.params.get('tag') ?? undefined;
}

/** SIP over WebSocket: the far end is reached only over the connection it opened. */
export function isWebSocket(transport: SipTransport): boolean {
  return transport === 'ws' || transport === 'wss';
}

const TRANSPORTS = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

/**
 * The transport a URI asks for: its `transport` parameter, TLS for a `sips:` URI (RFC 3261
 * §26.2.2), else `fallback`.
 */
export function transportOfUri(uri: string, fallback: SipTransport): SipTransport {
  const parsed = parseUri(uri);
  const param = parsed?.params.get('transport')?.toLowerCase();
  if (param && TRANSPORTS.has(param)) return param as SipTransport;
  return parsed?.scheme === 'sips' ? 'tls' : fallback;
}
