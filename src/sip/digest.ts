/**
 * Digest authentication for the UAC (RFC 3261 §22, RFC 7616 algorithms as RFC 8760 brings them
 * to SIP): MD5 and SHA-256, their -sess variants, qop=auth or no qop. Of several challenges the
 * strongest supported one is answered.
 */
import { createHash, randomBytes } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  qop: string[];
  stale: boolean;
}

const ALGORITHMS: Record<string, DigestAlgorithm> = {
  md5: 'MD5',
  'md5-sess': 'MD5-sess',
  'sha-256': 'SHA-256',
  'sha-256-sess': 'SHA-256-sess',
};

/** Parses one WWW-Authenticate / Proxy-Authenticate value; undefined if not a usable Digest. */
export function parseChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const params = parseAuthParams(m[1]);
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const algorithm = ALGORITHMS[(params.get('algorithm') ?? 'MD5').toLowerCase()];
  if (realm === undefined || !nonce || !algorithm) return undefined;
  const qop = (params.get('qop') ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter(Boolean);
  if (qop.length && !qop.includes('auth')) return undefined; // auth-int only: not supported
  return {
    realm,
    nonce,
    opaque: params.get('opaque'),
    algorithm,
    qop,
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/** The challenge to answer among several: SHA-256 before MD5. */
export function chooseChallenge(values: string[]): DigestChallenge | undefined {
  const parsed = values.map(parseChallenge).filter((c): c is DigestChallenge => Boolean(c));
  return parsed.find((c) => c.algorithm.startsWith('SHA-256')) ?? parsed[0];
}

export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && m[0].length) {
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    params.set(m[1].toLowerCase(), value);
  }
  return params;
}

export interface DigestInput {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  uri: string;
  /** Fixed only by tests reproducing published examples. */
  cnonce?: string;
  nonceCount?: number;
}

function hashOf(algorithm: DigestAlgorithm): (text: string) => string {
  const name = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  return (text) => createHash(name).update(text, 'utf8').digest('hex');
}

/** The response value and the full Authorization / Proxy-Authorization header value. */
export function digestAuthorization(input: DigestInput): { response: string; header: string } {
  const { challenge: c, username, password, method, uri } = input;
  const h = hashOf(c.algorithm);
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex');
  const nc = (input.nonceCount ?? 1).toString(16).padStart(8, '0');
  let ha1 = h(`${username}:${c.realm}:${password}`);
  if (c.algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = h(`${method}:${uri}`);
  const useQop = c.qop.includes('auth');
  const response = useQop
    ? h(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`)
    : h(`${ha1}:${c.nonce}:${ha2}`);
  const parts = [
    `username="${quote(username)}"`,
    `realm="${quote(c.realm)}"`,
    `nonce="${quote(c.nonce)}"`,
    `uri="${quote(uri)}"`,
    `response="${response}"`,
    `algorithm=${c.algorithm}`,
  ];
  if (c.opaque !== undefined) parts.push(`opaque="${quote(c.opaque)}"`);
  if (useQop) parts.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  return { response, header: `Digest ${parts.join(', ')}` };
}

function quote(text: string): string {
  return text.replace(/(["\\])/g, '\\$1');
}
