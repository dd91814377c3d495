/**
 * SDES (RFC 4568): SRTP keys carried in SDP `a=crypto` lines. Reads an offer's lines into
 * usable keys (a suite telgate has, one inline key of that suite's lengths, no MKI, no session
 * parameters it does not know) and writes its own lines with fresh random keys. The keys are
 * secrets: they belong only in SDP that travels over TLS, which the caller of this module
 * decides.
 */
import { randomBytes } from 'node:crypto';
import { isSrtpSuite, SRTP_SUITES, type SrtpSuite } from './srtp-keys.js';

/** An `a=crypto` line as the SDP parser gives it. */
export interface CryptoLine {
  id: number;
  suite: string;
  config: string;
  sessionConfig?: string;
}

/** A usable offered (or answered) key. */
export interface SdesKey {
  tag: number;
  suite: SrtpSuite;
  masterKey: Buffer;
  masterSalt: Buffer;
}

/** The first usable line of `lines` whose suite is in `allowed`, in the offer's order. */
export function chooseCrypto(
  lines: readonly CryptoLine[],
  allowed: readonly SrtpSuite[],
): SdesKey | undefined {
  for (const line of lines) {
    const key = readCrypto(line);
    if (key && allowed.includes(key.suite)) return key;
  }
  return undefined;
}

/**
 * One line's key, or undefined when telgate cannot use it: an unknown suite, several keys or an
 * MKI (telgate keys one stream with one key), a key of the wrong length, or a session parameter
 * (UNENCRYPTED_SRTP and the like change the transform: RFC 4568 §6.3 says refuse them).
 */
export function readCrypto(line: CryptoLine): SdesKey | undefined {
  if (!Number.isInteger(line.id) || line.id < 0 || line.id > 999_999_999) return undefined;
  if (!isSrtpSuite(line.suite) || line.sessionConfig?.trim()) return undefined;
  const params = line.config.trim().split(';');
  if (params.length !== 1) return undefined;
  const m = /^inline:([A-Za-z0-9+/=]+)(\|[^|]*)?(\|[^|]*)?$/.exec(params[0]);
  if (!m) return undefined;
  const rest = [m[2], m[3]].filter(Boolean).map((p) => p!.slice(1));
  if (rest.some((p) => p.includes(':'))) return undefined; // an MKI
  const spec = SRTP_SUITES[line.suite];
  const material = Buffer.from(m[1], 'base64');
  if (material.length !== spec.keyLength + spec.saltLength) return undefined;
  return {
    tag: line.id,
    suite: line.suite,
    masterKey: material.subarray(0, spec.keyLength),
    masterSalt: material.subarray(spec.keyLength),
  };
}

/** A fresh random key of `suite`, under `tag`. */
export function newSdesKey(suite: SrtpSuite, tag: number): SdesKey {
  const spec = SRTP_SUITES[suite];
  return {
    tag,
    suite,
    masterKey: randomBytes(spec.keyLength),
    masterSalt: randomBytes(spec.saltLength),
  };
}

/** The `a=crypto` attribute value of `key`: `1 AES_CM_128_HMAC_SHA1_80 inline:…`. */
export function cryptoAttribute(key: SdesKey): string {
  const material = Buffer.concat([key.masterKey, key.masterSalt]).toString('base64');
  return `${key.tag} ${key.suite} inline:${material}`;
}
