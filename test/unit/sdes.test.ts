/**
 * SDES (RFC 4568) in telgate's offer/answer: which a=crypto line it takes, what it answers, and
 * what it refuses (SRTP keys over cleartext SIP, a plain offer to an endpoint that requires
 * SRTP, suites its `ciphers` leave out, MKIs and session parameters).
 */
import { describe, expect, it } from 'vitest';
import { SessionDescription, type MediaSecurity } from '../../src/call/session-description.js';
import { readCrypto } from '../../src/media/sdes.js';
import { SRTP_SUITE_NAMES } from '../../src/media/srtp-keys.js';

const KEY30 = Buffer.alloc(30, 7).toString('base64');
const KEY28 = Buffer.alloc(28, 9).toString('base64');

function offer(protocol: string, crypto: string[]): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio 40000 ${protocol} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    ...crypto.map((c) => `a=crypto:${c}`),
    '',
  ].join('\r\n');
}

const security = (over: Partial<MediaSecurity> = {}): MediaSecurity => ({
  encryption: 'optional',
  suites: SRTP_SUITE_NAMES,
  keysAllowed: true,
  ...over,
});

const sd = (s: MediaSecurity) =>
  new SessionDescription(['PCMU'], '127.0.0.1', 8000, undefined, false, s);

describe('answering an SRTP offer', () => {
  it('takes the first line it can use and answers its tag with a key of its own', () => {
    const result = sd(security()).answer(
      offer('RTP/SAVP', [
        `1 F8_128_HMAC_SHA1_80 inline:${KEY30}`,
        `2 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}|2^20`,
        `3 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`,
      ]),
    );
    if (!result.ok) throw new Error('refused');
    expect(result.sdp).toMatch(/m=audio 0 RTP\/SAVP 0 101/);
    const line = /a=crypto:(\d+) (\S+) inline:(\S+)/.exec(result.sdp)!;
    expect(line[1]).toBe('2');
    expect(line[2]).toBe('AES_CM_128_HMAC_SHA1_32');
    expect(Buffer.from(line[3], 'base64')).toHaveLength(30);
    expect(line[3]).not.toBe(KEY30);
    expect(result.plan.srtp?.remote.masterKey).toEqual(Buffer.alloc(16, 7));
    expect(result.plan.srtp?.local.suite).toBe('AES_CM_128_HMAC_SHA1_32');
  });

  it('keeps its key over a re-INVITE of the same suite', () => {
    const desc = sd(security());
    const again = offer('RTP/SAVP', [`1 AEAD_AES_128_GCM inline:${KEY28}`]);
    const first = desc.answer(again);
    const second = desc.answer(again);
    if (!first.ok || !second.ok) throw new Error('refused');
    expect(second.plan.srtp?.local.masterKey).toEqual(first.plan.srtp?.local.masterKey);
  });

  it.each([
    [
      'keys over cleartext SIP',
      security({ keysAllowed: false }),
      offer('RTP/SAVP', [`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`]),
      /only over SIP over TLS/,
    ],
    [
      'a plain offer to an endpoint that requires SRTP',
      security({ encryption: 'required' }),
      offer('RTP/AVP', []),
      /requires SRTP/,
    ],
    [
      'suites the endpoint leaves out',
      security({ suites: ['AEAD_AES_256_GCM'] }),
      offer('RTP/SAVP', [`1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`]),
      /no acceptable crypto suite; supported AEAD_AES_256_GCM/,
    ],
    [
      'a key of the wrong length, an MKI, a session parameter',
      security(),
      offer('RTP/SAVP', [
        `1 AES_CM_128_HMAC_SHA1_80 inline:${KEY28}`,
        `2 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^20|1:4`,
        `3 AES_CM_128_HMAC_SHA1_80 inline:${KEY30} UNENCRYPTED_SRTP`,
      ]),
      /no acceptable crypto suite/,
    ],
  ])('refuses %s with 488', (_what, s, text, warning) => {
    const result = sd(s).answer(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.status).toBe(488);
    expect(result.rejection.headers?.[0][1]).toMatch(warning);
  });

  it('answers a plain offer plainly when SRTP is optional', () => {
    const result = sd(security()).answer(offer('RTP/AVP', []));
    if (!result.ok) throw new Error('refused');
    expect(result.sdp).toMatch(/RTP\/AVP/);
    expect(result.sdp).not.toMatch(/a=crypto/);
    expect(result.plan.srtp).toBeUndefined();
  });
});

describe('offering SRTP', () => {
  it('offers every allowed suite when required over TLS, and takes the answer’s choice', () => {
    const desc = sd(
      security({ encryption: 'required', suites: ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80'] }),
    );
    const ours = desc.offer();
    expect(ours).toMatch(/RTP\/SAVP/);
    const lines = [...ours.matchAll(/a=crypto:(\d+) (\S+) inline:(\S+)/g)];
    expect(lines.map((l) => [l[1], l[2]])).toEqual([
      ['1', 'AEAD_AES_128_GCM'],
      ['2', 'AES_CM_128_HMAC_SHA1_80'],
    ]);
    const plan = desc.applyAnswer(offer('RTP/SAVP', [`2 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`]));
    expect(plan?.srtp?.local.masterKey.toString('base64')).toBe(
      Buffer.from(lines[1][3], 'base64').subarray(0, 16).toString('base64'),
    );
    expect(plan?.srtp?.remote.masterSalt).toEqual(Buffer.alloc(14, 7));
    // A plain answer, or a tag it never offered, is no answer to an SRTP offer.
    expect(desc.applyAnswer(offer('RTP/AVP', []))).toBeUndefined();
    expect(
      desc.applyAnswer(offer('RTP/SAVP', [`7 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`])),
    ).toBeUndefined();
  });

  it('offers plain RTP when SRTP is only optional', () => {
    expect(sd(security()).offer()).toMatch(/m=audio 0 RTP\/AVP/);
  });
});

describe('a=crypto lines', () => {
  it('reads the key and salt of a line, and nothing of what it cannot use', () => {
    const key = readCrypto({
      id: 1,
      suite: 'AEAD_AES_256_GCM',
      config: `inline:${Buffer.alloc(44, 1).toString('base64')}`,
    });
    expect(key?.masterKey).toHaveLength(32);
    expect(key?.masterSalt).toHaveLength(12);
    expect(
      readCrypto({ id: 1, suite: 'AEAD_AES_256_GCM', config: `inline:${KEY28}` }),
    ).toBeUndefined();
    expect(readCrypto({ id: 1, suite: 'NOPE', config: `inline:${KEY30}` })).toBeUndefined();
    expect(
      readCrypto({
        id: 1,
        suite: 'AES_CM_128_HMAC_SHA1_80',
        config: `inline:${KEY30};inline:${KEY30}`,
      }),
    ).toBeUndefined();
  });
});
