/**
 * SRTP against the published vectors: RFC 3711 Appendix B (AES-CM keystream, key derivation),
 * RFC 6188 §7.2 (AES-256 key derivation), libsrtp's AES_CM_128_HMAC_SHA1_80 SRTP and SRTCP
 * packets (master key in: derivation, cipher and tag together), RFC 7714 §16–17 (AES-GCM SRTP
 * and SRTCP, session keys given); then round trips of every suite, the replay window, tampering
 * and the rollover counter.
 */
import { describe, expect, it } from 'vitest';
import { ReplayWindow } from '../../src/media/replay-window.js';
import { estimateRoc, SrtpReceiver, SrtpSender } from '../../src/media/srtp.js';
import {
  deriveSessionKey,
  SRTP_SUITE_NAMES,
  SRTP_SUITES,
  type SessionKeys,
  type SrtpSuite,
} from '../../src/media/srtp-keys.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('RFC 3711 Appendix B', () => {
  it('B.2: the AES-CM keystream of session key 2B7E… from salt F0F1…FCFD', () => {
    const keys: SessionKeys = {
      cipherKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
      authKey: Buffer.alloc(20),
      salt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    };
    const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', { rtp: keys, rtcp: keys });
    const packet = Buffer.alloc(12 + 48);
    packet[0] = 0x80; // SSRC 0, sequence 0: the IV is the shifted salt
    const out = sender.protectRtp(packet);
    expect(out.subarray(12, 60)).toEqual(
      hex(`E03EAD0935C95E80E166B16DD92B4EB4
           D23513162B02D0F72A43A2FE4A5F97AB
           41E95B3BB0A2E8DD477901E4FCA894C0`),
    );
  });

  it('B.3: the session keys of master key E1F9… and salt 0EC6…', () => {
    const key = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
    const salt = hex('0EC675AD498AFEEBB6960B3AABE6');
    expect(deriveSessionKey(key, salt, 0, 16)).toEqual(hex('C61E7A93744F39EE10734AFE3FF7A087'));
    expect(deriveSessionKey(key, salt, 2, 14)).toEqual(hex('30CBBC08863D8C85D49DB34A9AE1'));
    expect(deriveSessionKey(key, salt, 1, 20)).toEqual(
      hex('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4'),
    );
  });

  it('RFC 6188 §7.2: the AES-256 session keys', () => {
    const key = hex('F0F04914B513F2763A1B1FA130F10E2998F6F6E43E4309D1E622A0E332B9F1B6');
    const salt = hex('3B04803DE51EE7C96423AB5B78D2');
    expect(deriveSessionKey(key, salt, 0, 32)).toEqual(
      hex('5BA1064E30EC51613CAD926C5A28EF731EC7FB397F70A960653CAF06554CD8C4'),
    );
    expect(deriveSessionKey(key, salt, 2, 14)).toEqual(hex('FA31791685CA444A9E07C6C64E93'));
  });
});

describe('libsrtp’s AES_CM_128_HMAC_SHA1_80 packets', () => {
  const master = {
    masterKey: hex('e1f97a0d3e018be0d64fa32c06de4139'),
    masterSalt: hex('0ec675ad498afeebb6960b3aabe6'),
  };

  it('SRTP: SSRC cafebabe, sequence 1234', () => {
    const plain = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
    const wire = hex(`800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402
                      b78d6acc99ea179b8dbb`);
    expect(new SrtpSender('AES_CM_128_HMAC_SHA1_80', master).protectRtp(plain)).toEqual(wire);
    const receiver = new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', master);
    expect(receiver.unprotectRtp(wire)).toEqual(plain);
    expect(receiver.unprotectRtp(wire)).toBeUndefined();
    expect(receiver.drops.replayed).toBe(1);
  });

  it('SRTCP: index 1, encrypted', () => {
    const plain = hex('81c8000bcafebabe' + 'ab'.repeat(16));
    const wire = hex(`81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001
                      993e08cd54d6c1230798`);
    const sender = new SrtpSender('AES_CM_128_HMAC_SHA1_80', master);
    sender.setRtcpIndex(0xcafebabe, 1);
    expect(sender.protectRtcp(plain)).toEqual(wire);
    expect(new SrtpReceiver('AES_CM_128_HMAC_SHA1_80', master).unprotectRtcp(wire)).toEqual(plain);
  });
});

describe('RFC 7714 AES-GCM', () => {
  const salt = hex('517569642070726f2071756f');
  const sessions = (key: string) => {
    const keys: SessionKeys = { cipherKey: hex(key), authKey: Buffer.alloc(0), salt };
    return { rtp: keys, rtcp: keys };
  };
  const key128 = sessions('000102030405060708090a0b0c0d0e0f');
  const key256 = sessions('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const rtp = hex(`8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976
                   69736120 696e2070 61727465 73207472 6573`);
  const rtcp = hex(`81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
                    deadbeef deadbeef deadbeef deadbeef deadbeef`);

  it('§16.1: SRTP with AEAD_AES_128_GCM', () => {
    const wire = hex(`8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5
                      0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439
                      0cce`);
    expect(new SrtpSender('AEAD_AES_128_GCM', key128).protectRtp(rtp)).toEqual(wire);
    expect(new SrtpReceiver('AEAD_AES_128_GCM', key128).unprotectRtp(wire)).toEqual(rtp);
  });

  it('§16.2: SRTCP with AEAD_AES_128_GCM, encrypted and tag only', () => {
    const wire = hex(`81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d
                      c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872
                      45d9eade 800005d4`);
    const sender = new SrtpSender('AEAD_AES_128_GCM', key128);
    sender.setRtcpIndex(0x4d617273, 0x5d4);
    expect(sender.protectRtcp(rtcp)).toEqual(wire);
    expect(new SrtpReceiver('AEAD_AES_128_GCM', key128).unprotectRtcp(wire)).toEqual(rtcp);
    const tagOnly = Buffer.concat([rtcp, hex('841dd968 3dd78ec9 2ae58790 125f62b3 000005d4')]);
    expect(new SrtpReceiver('AEAD_AES_128_GCM', key128).unprotectRtcp(tagOnly)).toEqual(rtcp);
  });

  it('§17.1: SRTP with AEAD_AES_256_GCM', () => {
    const wire = hex(`8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238
                      9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7
                      6c13`);
    expect(new SrtpSender('AEAD_AES_256_GCM', key256).protectRtp(rtp)).toEqual(wire);
    expect(new SrtpReceiver('AEAD_AES_256_GCM', key256).unprotectRtp(wire)).toEqual(rtp);
  });

  it('§17.2: SRTCP with AEAD_AES_256_GCM, encrypted and tag only', () => {
    const wire = hex(`81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50
                      a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c
                      b26ac3be 800005d4`);
    expect(new SrtpReceiver('AEAD_AES_256_GCM', key256).unprotectRtcp(wire)).toEqual(rtcp);
    const tagOnly = Buffer.concat([rtcp, hex('91db4afb feee5a97 8fab4393 ed2615fe 000005d4')]);
    expect(new SrtpReceiver('AEAD_AES_256_GCM', key256).unprotectRtcp(tagOnly)).toEqual(rtcp);
  });
});

/** A master key and salt of `suite`'s lengths, from one byte pattern. */
function masterOf(suite: SrtpSuite, fill: number) {
  const spec = SRTP_SUITES[suite];
  return {
    masterKey: Buffer.alloc(spec.keyLength, fill),
    masterSalt: Buffer.alloc(spec.saltLength, fill ^ 0x5a),
  };
}

function rtpPacket(seq: number, payload = Buffer.alloc(160, 0xd5)): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(seq * 160, 4);
  header.writeUInt32BE(0x11223344, 8);
  return Buffer.concat([header, payload]);
}

describe('every suite', () => {
  it.each(SRTP_SUITE_NAMES)('%s: round trip, tags of its length, tampering refused', (suite) => {
    const spec = SRTP_SUITES[suite];
    const sender = new SrtpSender(suite, masterOf(suite, 7));
    const receiver = new SrtpReceiver(suite, masterOf(suite, 7));
    const plain = rtpPacket(100);
    const wire = sender.protectRtp(plain);
    expect(wire.length).toBe(plain.length + spec.rtpTagLength);
    expect(wire.subarray(12, plain.length)).not.toEqual(plain.subarray(12));
    const tampered = Buffer.from(wire);
    tampered[20] ^= 1;
    expect(receiver.unprotectRtp(tampered)).toBeUndefined();
    expect(receiver.drops.authentication).toBe(1);
    expect(receiver.unprotectRtp(wire)).toEqual(plain);

    const report = Buffer.concat([hex('80c80006 11223344'), Buffer.alloc(20, 3)]);
    const secured = sender.protectRtcp(report);
    expect(secured.length).toBe(report.length + 4 + spec.rtcpTagLength);
    expect(receiver.unprotectRtcp(secured)).toEqual(report);
    expect(receiver.unprotectRtcp(secured)).toBeUndefined(); // replayed
    // Another key is not this one.
    expect(new SrtpReceiver(suite, masterOf(suite, 8)).unprotectRtp(wire)).toBeUndefined();
  });

  it('refuses a key or salt of another length', () => {
    expect(() => new SrtpSender('AEAD_AES_256_GCM', masterOf('AEAD_AES_128_GCM', 1))).toThrow(
      /32-octet key and a 12-octet salt/,
    );
  });
});

describe('sequence numbers, rollover and replays', () => {
  it('follows the rollover counter across a wrap, and packets reordered around it', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const sender = new SrtpSender(suite, masterOf(suite, 1));
    const receiver = new SrtpReceiver(suite, masterOf(suite, 1));
    const sent = [0xfffd, 0xfffe, 0xffff, 0, 1, 2].map((seq) => sender.protectRtp(rtpPacket(seq)));
    // Delivered out of order across the wrap: every one decrypts (the ROC guessed right).
    for (const i of [0, 2, 1, 3, 5, 4]) {
      expect(receiver.unprotectRtp(sent[i]), `packet ${i}`).toEqual(
        rtpPacket([0xfffd, 0xfffe, 0xffff, 0, 1, 2][i]),
      );
    }
    expect(receiver.drops).toEqual({ malformed: 0, authentication: 0, replayed: 0 });
  });

  it('estimates the rollover counter as RFC 3711 Appendix A does', () => {
    expect(estimateRoc(0, 100, 101)).toBe(0);
    expect(estimateRoc(0, 0xfff0, 5)).toBe(1);
    expect(estimateRoc(1, 5, 0xfff0)).toBe(0);
    expect(estimateRoc(0, 5, 0xfff0)).toBe(0);
    expect(estimateRoc(3, 40000, 30000)).toBe(3);
  });

  it('keeps 64 packets of history: an older or repeated index is a replay', () => {
    const window = new ReplayWindow();
    expect(window.fresh(1000)).toBe(true);
    window.mark(1000);
    expect(window.fresh(1000)).toBe(false);
    expect(window.fresh(999)).toBe(true);
    window.mark(999);
    expect(window.fresh(999)).toBe(false);
    expect(window.fresh(937)).toBe(true); // 63 behind
    expect(window.fresh(936)).toBe(false); // 64 behind: too old
    window.mark(1100); // a jump forward drops the old history
    expect(window.fresh(1000)).toBe(false);
    expect(window.fresh(1099)).toBe(true);
  });

  it('drops what is not SRTP at all', () => {
    const receiver = new SrtpReceiver('AEAD_AES_128_GCM', masterOf('AEAD_AES_128_GCM', 2));
    expect(receiver.unprotectRtp(Buffer.from('hello'))).toBeUndefined();
    expect(receiver.unprotectRtp(rtpPacket(1, Buffer.alloc(4)))).toBeUndefined();
    expect(receiver.unprotectRtcp(Buffer.alloc(10))).toBeUndefined();
    expect(receiver.drops.malformed).toBe(3);
  });
});
