/**
 * Digest authentication as the server side does it (RFC 3261 §22, RFC 7616, RFC 8760): the
 * challenge (qop=auth, MD5 or SHA-256), nonces that carry their own time and telgate's HMAC so
 * any instance with the same secret can check them without shared state, `stale=true` for an
 * expired one, a nonce count that must grow (a replayed Authorization fails), and the
 * response checked against the user's stored HA1 (the password itself is never kept).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseAuthParams } from './digest.js';

export type ServerAlgorithm = 'MD5' | 'SHA-256';

/** A user's HA1 per algorithm: H(username:realm:password), hex. */
export type StoredHa1 = Partial<Record<ServerAlgorithm, string>>;

export interface Credentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: ServerAlgorithm;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
}

export type Verdict =
  | { ok: true; username: string }
  /** No or unreadable credentials, or for another realm: challenge. */
  | { ok: false; why: 'missing' }
  /** The nonce is too old or not telgate's: challenge again with stale=true. */
  | { ok: false; why: 'stale' }
  /** A wrong response, an unknown user, a replayed nonce count: refuse (403). */
  | { ok: false; why: 'refused'; detail: string };

const HASH: Record<ServerAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

export function ha1Of(
  algorithm: ServerAlgorithm,
  username: string,
  realm: string,
  password: string,
): string {
  return createHash(HASH[algorithm]).update(`${username}:${realm}:${password}`).digest('hex');
}

/** Reads an Authorization / Proxy-Authorization Digest value (qop=auth or none). */
export function parseCredentials(value: string | undefined): Credentials | undefined {
  const m = value ? /^\s*digest\s+(.*)$/is.exec(value) : null;
  if (!m) return undefined;
  const p = parseAuthParams(m[1]);
  const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  if (!username || realm === undefined || !nonce || !uri || !response) return undefined;
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm,
    qop: p.get('qop')?.toLowerCase(),
    nc: p.get('nc')?.toLowerCase(),
    cnonce: p.get('cnonce'),
    opaque: p.get('opaque'),
  };
}

export interface DigestServerOptions {
  realm: string;
  /** Seconds a nonce is good for; then `stale=true`. */
  nonceTtlSeconds: number;
  /** Shared by the instances of a cluster so any of them checks any nonce; random otherwise. */
  secret?: Buffer;
}

/**
 * Nonces are `time-random.mac`: the minting time (ms, base 36), 72 random bits, and their HMAC
 * under the secret.
 */
export class DigestServer {
  private readonly secret: Buffer;
  /** The highest nonce count seen per nonce, while the nonce lives. */
  private readonly counts = new Map<string, { nc: number; expiresAt: number }>();

  constructor(private readonly options: DigestServerOptions) {
    this.secret = options.secret ?? randomBytes(32);
  }

  get realm(): string {
    return this.options.realm;
  }

  /** WWW-Authenticate / Proxy-Authenticate values, strongest first. */
  challenges(algorithms: readonly ServerAlgorithm[], stale = false): string[] {
    const nonce = this.mint();
    const order = [...algorithms].sort((a, b) => (a === b ? 0 : a === 'SHA-256' ? -1 : 1));
    return order.map(
      (algorithm) =>
        `Digest realm="${this.realm}", nonce="${nonce}", algorithm=${algorithm}, qop="auth"` +
        (stale ? ', stale=true' : ''),
    );
  }

  /** Checks `credentials` of a `method` request against the user's stored HA1 (if any). */
  verify(
    credentials: Credentials | undefined,
    method: string,
    ha1Of: (username: string) => StoredHa1 | undefined,
    now = Date.now(),
  ): Verdict {
    if (!credentials || credentials.realm !== this.realm) return { ok: false, why: 'missing' };
    const minted = this.mintedAt(credentials.nonce);
    if (minted === undefined || now - minted > this.options.nonceTtlSeconds * 1000) {
      return { ok: false, why: 'stale' };
    }
    const stored = ha1Of(credentials.username)?.[credentials.algorithm];
    if (!stored) return { ok: false, why: 'refused', detail: 'unknown user or algorithm' };
    const h = (text: string) => createHash(HASH[credentials.algorithm]).update(text).digest('hex');
    const ha2 = h(`${method}:${credentials.uri}`);
    let expected: string;
    if (credentials.qop === 'auth') {
      if (!credentials.nc || !/^[0-9a-f]{8}$/.test(credentials.nc) || !credentials.cnonce) {
        return { ok: false, why: 'refused', detail: 'qop=auth without nc or cnonce' };
      }
      expected = h(
        `${stored}:${credentials.nonce}:${credentials.nc}:${credentials.cnonce}:auth:${ha2}`,
      );
    } else if (credentials.qop === undefined) {
      expected = h(`${stored}:${credentials.nonce}:${ha2}`);
    } else return { ok: false, why: 'refused', detail: `qop ${credentials.qop} not offered` };
    const given = Buffer.from(credentials.response);
    const wanted = Buffer.from(expected);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      return { ok: false, why: 'refused', detail: 'wrong response' };
    }
    if (credentials.nc && !this.countFresh(credentials.nonce, parseInt(credentials.nc, 16), now)) {
      return { ok: false, why: 'refused', detail: 'nonce count replayed' };
    }
    return { ok: true, username: credentials.username };
  }

  /** A fresh nonce: unique (random part) even when many are minted in one millisecond. */
  private mint(now = Date.now()): string {
    const time = `${now.toString(36)}-${randomBytes(9).toString('base64url')}`;
    return `${time}.${this.mac(time)}`;
  }

  private mac(time: string): string {
    return createHmac('sha256', this.secret)
      .update(`${time}:${this.realm}`)
      .digest('base64url')
      .slice(0, 22);
  }

  private mintedAt(nonce: string): number | undefined {
    const [time, mac] = nonce.split('.');
    if (!time || !mac) return undefined;
    const expected = Buffer.from(this.mac(time));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const at = parseInt(time.split('-')[0], 36);
    return Number.isFinite(at) ? at : undefined;
  }

  /** Whether `nc` is above every count seen with `nonce`; remembers it if so. */
  private countFresh(nonce: string, nc: number, now: number): boolean {
    if (this.counts.size > 10_000) {
      for (const [key, seen] of this.counts) if (seen.expiresAt < now) this.counts.delete(key);
    }
    const seen = this.counts.get(nonce);
    if (seen && nc <= seen.nc) return false;
    this.counts.set(nonce, { nc, expiresAt: now + this.options.nonceTtlSeconds * 1000 });
    return true;
  }
}
