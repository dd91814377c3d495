/**
 * SRTP and SRTCP (RFC 3711) for the suites of srtp-keys.ts: AES counter mode with HMAC-SHA1
 * (80- or 32-bit tags, 128- or 256-bit keys, RFC 6188) and AES-GCM (RFC 7714). One SrtpSender
 * protects what telgate sends with its own master key; one SrtpReceiver checks and decrypts
 * what arrives with the far side's: the rollover counter estimated as RFC 3711 Appendix A says,
 * a 64-packet replay window per source, and nothing about a packet believed until its tag is
 * verified.
 *
 * Written on node:crypto (OpenSSL's AES and HMAC) because no npm package is good enough:
 * werift's SRTP has neither the 32-bit-tag and 256-bit suites nor replay protection, and the
 * others are unmaintained bindings of libsrtp.
 */
import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';
import { CtrKeystream, HmacSha1 } from './srtp-transforms.js';
import { ReplayWindow } from './replay-window.js';
import {
  aesGcm,
  SRTP_SUITES,
  sessionKeys,
  type SessionKeys,
  type SrtpSuite,
  type SuiteSpec,
} from './srtp-keys.js';

/** Why a packet was dropped, counted per receiver. */
export interface SrtpDrops {
  /** Too short, or not RTP/RTCP. */
  malformed: number;
  /** The tag did not verify: tampered, or another key. */
  authentication: number;
  /** Seen already, or older than the replay window. */
  replayed: number;
}

const SRTCP_E_BIT = 0x80000000;
const SRTCP_INDEX_MASK = 0x7fffffff;

/** The RTP header's length: fixed part, CSRCs and the extension; 0 when it is not RTP. */
function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < 12 || packet[0] >> 6 !== 2) return 0;
  let length = 12 + 4 * (packet[0] & 0x0f);
  if (packet[0] & 0x10) {
    if (packet.length < length + 4) return 0;
    length += 4 + 4 * packet.readUInt16BE(length + 2);
  }
  return length <= packet.length ? length : 0;
}

/**
 * Scratch for the IVs and the rollover counter's octets: each is consumed before the function
 * that filled it returns (OpenSSL copies an IV when a cipher is made), so one of each serves
 * every packet without an allocation.
 */
const CM_IV = Buffer.alloc(16);
const GCM_IV = Buffer.alloc(12);
const ROC = Buffer.alloc(4);

/** AES-CM's IV (RFC 3711 §4.1.1): salt · 2^16 XOR SSRC · 2^64 XOR index · 2^16. */
function cmIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = CM_IV;
  iv.fill(0);
  salt.copy(iv, 0, 0, 14);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  const high = Math.floor(index / 0x100000000);
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ high, 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ index) >>> 0, 10);
  return iv;
}

/** AES-GCM's IV (RFC 7714 §8.1, §9.1): 00 00 ‖ SSRC ‖ `high` ‖ `low` (16 bits) XOR salt. */
function gcmIv(salt: Buffer, ssrc: number, high: number, low: number, lowBits: 16 | 32): Buffer {
  const iv = GCM_IV;
  iv.fill(0);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  if (lowBits === 16) {
    iv.writeUInt32BE(high >>> 0, 6);
    iv.writeUInt16BE(low, 10);
  } else iv.writeUInt32BE(low >>> 0, 8);
  for (let i = 0; i < 12; i++) iv[i] ^= salt[i];
  return iv;
}

/** An AES-CM session key's keystream and HMAC, set up once. */
interface CmTransform {
  ctr: CtrKeystream;
  mac: HmacSha1;
}

function cmTransform(keys: SessionKeys): CmTransform {
  return { ctr: new CtrKeystream(keys.cipherKey), mac: new HmacSha1(keys.authKey) };
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** The rollover counter's octets for an SRTP tag, in the shared scratch. */
function rocOctets(roc: number): Buffer {
  ROC.writeUInt32BE(roc >>> 0);
  return ROC;
}

/** The keys of one direction, for SRTP and SRTCP. */
class Keys {
  readonly spec: SuiteSpec;
  readonly rtp: SessionKeys;
  readonly rtcp: SessionKeys;
  /** The AES-CM suites' transforms (none for AES-GCM). */
  readonly rtpCm: CmTransform | undefined;
  readonly rtcpCm: CmTransform | undefined;

  constructor(
    readonly suite: SrtpSuite,
    keys: { masterKey: Buffer; masterSalt: Buffer } | { rtp: SessionKeys; rtcp: SessionKeys },
  ) {
    this.spec = SRTP_SUITES[suite];
    if ('rtp' in keys) {
      this.rtp = keys.rtp;
      this.rtcp = keys.rtcp;
    } else {
      this.rtp = sessionKeys(suite, keys.masterKey, keys.masterSalt, false);
      this.rtcp = sessionKeys(suite, keys.masterKey, keys.masterSalt, true);
    }
    this.rtpCm = this.spec.aead ? undefined : cmTransform(this.rtp);
    this.rtcpCm = this.spec.aead ? undefined : cmTransform(this.rtcp);
  }
}

type KeySource = ConstructorParameters<typeof Keys>[1];

/** Protects what telgate sends: one rollover counter and SRTCP index per source. */
export class SrtpSender {
  private readonly keys: Keys;
  private readonly rtpState = new Map<number, { roc: number; lastSeq: number }>();
  private readonly rtcpIndex = new Map<number, number>();

  constructor(suite: SrtpSuite, source: KeySource) {
    this.keys = new Keys(suite, source);
  }

  /** The SRTP packet of RTP `packet` (a new buffer). */
  protectRtp(packet: Buffer): Buffer {
    const header = rtpHeaderLength(packet);
    if (!header) throw new RangeError('not an RTP packet');
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    let state = this.rtpState.get(ssrc);
    if (!state) this.rtpState.set(ssrc, (state = { roc: 0, lastSeq: seq }));
    else if (seq < state.lastSeq && state.lastSeq - seq > 0x8000) state.roc = (state.roc + 1) >>> 0;
    state.lastSeq = seq;
    const { spec, rtp } = this.keys;
    const payload = packet.subarray(header);
    const out = Buffer.allocUnsafe(packet.length + spec.rtpTagLength);
    packet.copy(out, 0, 0, header);
    if (spec.aead) {
      const cipher = createCipheriv(
        aesGcm(spec.keyLength),
        rtp.cipherKey,
        gcmIv(rtp.salt, ssrc, state.roc, seq, 16),
        { authTagLength: 16 },
      );
      cipher.setAAD(packet.subarray(0, header));
      cipher.update(payload).copy(out, header);
      cipher.final();
      cipher.getAuthTag().copy(out, packet.length);
      return out;
    }
    const index = state.roc * 0x10000 + seq;
    const cm = this.keys.rtpCm!;
    cm.ctr.xor(cmIv(rtp.salt, ssrc, index), payload, out, header);
    const authenticated = out.subarray(0, packet.length);
    cm.mac.tag(spec.rtpTagLength, authenticated, rocOctets(state.roc)).copy(out, packet.length);
    return out;
  }

  /** The next SRTCP index of `ssrc` is `index` (tests replaying the RFCs' vectors). */
  setRtcpIndex(ssrc: number, index: number): void {
    this.rtcpIndex.set(ssrc >>> 0, index);
  }

  /** The SRTCP packet of RTCP `packet` (a compound packet), encrypted. */
  protectRtcp(packet: Buffer): Buffer {
    if (packet.length < 8 || packet[0] >> 6 !== 2) throw new RangeError('not an RTCP packet');
    const ssrc = packet.readUInt32BE(4);
    const index = this.rtcpIndex.get(ssrc) ?? 0;
    this.rtcpIndex.set(ssrc, (index + 1) & SRTCP_INDEX_MASK);
    const { spec, rtcp } = this.keys;
    const eIndex = u32((SRTCP_E_BIT | index) >>> 0);
    const body = packet.subarray(8);
    if (spec.aead) {
      const out = Buffer.allocUnsafe(packet.length + 16 + 4);
      packet.copy(out, 0, 0, 8);
      const cipher = createCipheriv(
        aesGcm(spec.keyLength),
        rtcp.cipherKey,
        gcmIv(rtcp.salt, ssrc, 0, index, 32),
        { authTagLength: 16 },
      );
      cipher.setAAD(Buffer.concat([packet.subarray(0, 8), eIndex]));
      cipher.update(body).copy(out, 8);
      cipher.final();
      cipher.getAuthTag().copy(out, packet.length);
      eIndex.copy(out, packet.length + 16);
      return out;
    }
    const out = Buffer.allocUnsafe(packet.length + 4 + spec.rtcpTagLength);
    packet.copy(out, 0, 0, 8);
    const cm = this.keys.rtcpCm!;
    cm.ctr.xor(cmIv(rtcp.salt, ssrc, index), body, out, 8);
    eIndex.copy(out, packet.length);
    const authenticated = out.subarray(0, packet.length + 4);
    cm.mac.tag(spec.rtcpTagLength, authenticated).copy(out, packet.length + 4);
    return out;
  }
}

/** Checks and decrypts what arrives: per source its rollover counter and replay windows. */
export class SrtpReceiver {
  private readonly keys: Keys;
  private readonly rtpState = new Map<
    number,
    { roc: number; highestSeq: number; window: ReplayWindow }
  >();
  private readonly rtcpWindows = new Map<number, ReplayWindow>();
  readonly drops: SrtpDrops = { malformed: 0, authentication: 0, replayed: 0 };

  constructor(suite: SrtpSuite, source: KeySource) {
    this.keys = new Keys(suite, source);
  }

  /** The RTP packet inside SRTP `packet`, or undefined (dropped, and counted). */
  unprotectRtp(packet: Buffer): Buffer | undefined {
    const { spec, rtp } = this.keys;
    const header = rtpHeaderLength(packet);
    if (!header || packet.length < header + spec.rtpTagLength) return this.drop('malformed');
    const seq = packet.readUInt16BE(2);
    const ssrc = packet.readUInt32BE(8);
    const state = this.rtpState.get(ssrc);
    const roc = state ? estimateRoc(state.roc, state.highestSeq, seq) : 0;
    const index = roc * 0x10000 + seq;
    if (state && !state.window.fresh(index)) return this.drop('replayed');
    const end = packet.length - spec.rtpTagLength;
    const tag = packet.subarray(end);
    let plain: Buffer;
    if (spec.aead) {
      const decipher = createDecipheriv(
        aesGcm(spec.keyLength),
        rtp.cipherKey,
        gcmIv(rtp.salt, ssrc, roc, seq, 16),
        { authTagLength: 16 },
      );
      decipher.setAAD(packet.subarray(0, header));
      decipher.setAuthTag(tag);
      const clear = decipher.update(packet.subarray(header, end));
      try {
        decipher.final();
      } catch {
        return this.drop('authentication');
      }
      plain = Buffer.concat([packet.subarray(0, header), clear]);
    } else {
      const cm = this.keys.rtpCm!;
      const expected = cm.mac.tag(spec.rtpTagLength, packet.subarray(0, end), rocOctets(roc));
      if (!timingSafeEqual(expected, tag)) return this.drop('authentication');
      plain = Buffer.allocUnsafe(end);
      packet.copy(plain, 0, 0, header);
      cm.ctr.xor(cmIv(rtp.salt, ssrc, index), packet.subarray(header, end), plain, header);
    }
    if (!state) {
      const window = new ReplayWindow();
      window.mark(index);
      this.rtpState.set(ssrc, { roc, highestSeq: seq, window });
    } else {
      state.window.mark(index);
      if (index > state.roc * 0x10000 + state.highestSeq) {
        state.roc = roc;
        state.highestSeq = seq;
      }
    }
    return plain;
  }

  /** The RTCP packet inside SRTCP `packet`, or undefined (dropped, and counted). */
  unprotectRtcp(packet: Buffer): Buffer | undefined {
    const { spec, rtcp } = this.keys;
    const trailer = 4 + spec.rtcpTagLength;
    if (packet.length < 8 + trailer || packet[0] >> 6 !== 2) return this.drop('malformed');
    const ssrc = packet.readUInt32BE(4);
    // AES-CM: … ‖ E‖index ‖ tag; AES-GCM: … ‖ tag ‖ E‖index.
    const eAt = spec.aead ? packet.length - 4 : packet.length - trailer;
    const eIndex = packet.readUInt32BE(eAt);
    const encrypted = (eIndex & SRTCP_E_BIT) !== 0;
    const index = eIndex & SRTCP_INDEX_MASK;
    let window = this.rtcpWindows.get(ssrc);
    if (window && !window.fresh(index)) return this.drop('replayed');
    let plain: Buffer;
    if (spec.aead) {
      const tagAt = eAt - 16;
      const decipher = createDecipheriv(
        aesGcm(spec.keyLength),
        rtcp.cipherKey,
        gcmIv(rtcp.salt, ssrc, 0, index, 32),
        { authTagLength: 16 },
      );
      const eField = packet.subarray(eAt);
      decipher.setAAD(
        Buffer.concat([encrypted ? packet.subarray(0, 8) : packet.subarray(0, tagAt), eField]),
      );
      decipher.setAuthTag(packet.subarray(tagAt, eAt));
      const clear = encrypted ? decipher.update(packet.subarray(8, tagAt)) : Buffer.alloc(0);
      try {
        decipher.final();
      } catch {
        return this.drop('authentication');
      }
      plain = encrypted
        ? Buffer.concat([packet.subarray(0, 8), clear])
        : Buffer.from(packet.subarray(0, tagAt));
    } else {
      const tagAt = packet.length - spec.rtcpTagLength;
      const cm = this.keys.rtcpCm!;
      const expected = cm.mac.tag(spec.rtcpTagLength, packet.subarray(0, tagAt));
      if (!timingSafeEqual(expected, packet.subarray(tagAt))) return this.drop('authentication');
      plain = Buffer.from(packet.subarray(0, eAt));
      if (encrypted) cm.ctr.xor(cmIv(rtcp.salt, ssrc, index), packet.subarray(8, eAt), plain, 8);
    }
    if (!window) this.rtcpWindows.set(ssrc, (window = new ReplayWindow()));
    window.mark(index);
    return plain;
  }

  private drop(why: keyof SrtpDrops): undefined {
    this.drops[why]++;
    return undefined;
  }
}

/**
 * The rollover counter of a packet with sequence number `seq`, from the highest one seen
 * (`highestSeq` under `roc`): RFC 3711 Appendix A's guess, within half the sequence space.
 */
export function estimateRoc(roc: number, highestSeq: number, seq: number): number {
  if (highestSeq < 0x8000) {
    return seq - highestSeq > 0x8000 && roc > 0 ? roc - 1 : roc;
  }
  return highestSeq - 0x8000 > seq ? (roc + 1) >>> 0 : roc;
}
