/**
 * SRTP's crypto suites (RFC 4568 §6.2, RFC 6188, RFC 7714) and its key derivation (RFC 3711
 * §4.3.1): from one master key and salt, the session keys of SRTP and of SRTCP. The key
 * derivation rate is 0 (SDES leaves it at its default), so the keys are derived once.
 */
import { createCipheriv } from 'node:crypto';

export interface SuiteSpec {
  /** Master and session key length, octets. */
  keyLength: number;
  /** Master and session salt length, octets (14 for AES-CM, 12 for GCM). */
  saltLength: number;
  /** The authentication tag of SRTP packets; SRTCP's is always the full one. */
  rtpTagLength: number;
  rtcpTagLength: number;
  /** AES-GCM (RFC 7714): the cipher authenticates; no HMAC key. */
  aead: boolean;
}

export const SRTP_SUITES = {
  AES_CM_128_HMAC_SHA1_80: {
    keyLength: 16,
    saltLength: 14,
    rtpTagLength: 10,
    rtcpTagLength: 10,
    aead: false,
  },
  AES_CM_128_HMAC_SHA1_32: {
    keyLength: 16,
    saltLength: 14,
    rtpTagLength: 4,
    rtcpTagLength: 10,
    aead: false,
  },
  AES_256_CM_HMAC_SHA1_80: {
    keyLength: 32,
    saltLength: 14,
    rtpTagLength: 10,
    rtcpTagLength: 10,
    aead: false,
  },
  AES_256_CM_HMAC_SHA1_32: {
    keyLength: 32,
    saltLength: 14,
    rtpTagLength: 4,
    rtcpTagLength: 10,
    aead: false,
  },
  AEAD_AES_128_GCM: {
    keyLength: 16,
    saltLength: 12,
    rtpTagLength: 16,
    rtcpTagLength: 16,
    aead: true,
  },
  AEAD_AES_256_GCM: {
    keyLength: 32,
    saltLength: 12,
    rtpTagLength: 16,
    rtcpTagLength: 16,
    aead: true,
  },
} as const satisfies Record<string, SuiteSpec>;

export type SrtpSuite = keyof typeof SRTP_SUITES;

export const SRTP_SUITE_NAMES = Object.keys(SRTP_SUITES) as SrtpSuite[];

export function isSrtpSuite(name: string): name is SrtpSuite {
  return Object.hasOwn(SRTP_SUITES, name);
}

/** The HMAC-SHA1 key length of the AES-CM suites. */
const AUTH_KEY_LENGTH = 20;

/** RFC 3711 §4.3.1's labels: SRTP's three keys, then SRTCP's. */
const LABELS = {
  rtp: { cipher: 0, auth: 1, salt: 2 },
  rtcp: { cipher: 3, auth: 4, salt: 5 },
} as const;

export interface SessionKeys {
  cipherKey: Buffer;
  /** HMAC-SHA1 key; empty for the AEAD suites. */
  authKey: Buffer;
  salt: Buffer;
}

/**
 * One session key: AES in counter mode under the master key, from the master salt (padded to
 * 14 octets) with the label in its eighth octet; `length` octets of keystream.
 */
export function deriveSessionKey(
  masterKey: Buffer,
  masterSalt: Buffer,
  label: number,
  length: number,
): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0, 0, Math.min(14, masterSalt.length));
  iv[7] ^= label;
  const cipher = createCipheriv(aesCtr(masterKey.length), masterKey, iv);
  return cipher.update(Buffer.alloc(length));
}

/** The session keys of SRTP (`rtcp` false) or SRTCP for `suite`'s master key and salt. */
export function sessionKeys(
  suite: SrtpSuite,
  masterKey: Buffer,
  masterSalt: Buffer,
  rtcp: boolean,
): SessionKeys {
  const spec = SRTP_SUITES[suite];
  if (masterKey.length !== spec.keyLength || masterSalt.length !== spec.saltLength) {
    throw new RangeError(
      `${suite} takes a ${spec.keyLength}-octet key and a ${spec.saltLength}-octet salt`,
    );
  }
  const labels = rtcp ? LABELS.rtcp : LABELS.rtp;
  return {
    cipherKey: deriveSessionKey(masterKey, masterSalt, labels.cipher, spec.keyLength),
    authKey: spec.aead
      ? Buffer.alloc(0)
      : deriveSessionKey(masterKey, masterSalt, labels.auth, AUTH_KEY_LENGTH),
    salt: deriveSessionKey(masterKey, masterSalt, labels.salt, spec.saltLength),
  };
}

export function aesCtr(keyLength: number): 'aes-128-ctr' | 'aes-256-ctr' {
  return keyLength === 32 ? 'aes-256-ctr' : 'aes-128-ctr';
}

export function aesGcm(keyLength: number): 'aes-128-gcm' | 'aes-256-gcm' {
  return keyLength === 32 ? 'aes-256-gcm' : 'aes-128-gcm';
}
