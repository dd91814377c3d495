/** Digest responses checked against the worked examples of RFC 2617 §3.5 and RFC 7616 §3.9.1. */
import { describe, expect, it } from 'vitest';
import { chooseChallenge, digestAuthorization, parseChallenge } from '../../src/sip/digest.js';

const RFC7616 = (algorithm: string) =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

describe('digest authentication', () => {
  it('RFC 2617 example: MD5, qop=auth', () => {
    const challenge = parseChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    )!;
    const { response, header } = digestAuthorization({
      challenge,
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
    expect(header).toContain('opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    expect(header).toContain('qop=auth, nc=00000001, cnonce="0a4f113b"');
  });

  it.each([
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ])('RFC 7616 example: %s', (algorithm, expected) => {
    const { response, header } = digestAuthorization({
      challenge: parseChallenge(RFC7616(algorithm))!,
      username: 'Mufasa',
      password: 'Circle of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    });
    expect(response).toBe(expected);
    expect(header).toContain(`algorithm=${algorithm}`);
  });

  it('prefers SHA-256 when offered next to MD5, and refuses what it cannot answer', () => {
    expect(chooseChallenge([RFC7616('MD5'), RFC7616('SHA-256')])?.algorithm).toBe('SHA-256');
    expect(parseChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseChallenge('Digest realm="x", nonce="n", algorithm=SHA-512-256')).toBeUndefined();
    expect(parseChallenge('Digest realm="x", nonce="n", qop="auth-int"')).toBeUndefined();
    expect(parseChallenge('Digest realm="x"')).toBeUndefined();
  });

  it('without qop the response leaves out nc and cnonce (RFC 2069 style)', () => {
    const { header } = digestAuthorization({
      challenge: parseChallenge('Digest realm="r", nonce="n"')!,
      username: 'u',
      password: 'p',
      method: 'INVITE',
      uri: 'sip:bob@example.com',
    });
    expect(header).not.toContain('qop=');
    expect(header).not.toContain('cnonce');
  });
});
