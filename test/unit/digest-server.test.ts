/**
 * The server side of digest: responses computed by telgate's own UAC code (and RFC 2617's
 * no-qop form) verify; a nonce past its lifetime or signed by another secret is stale; a wrong
 * response, an unknown user, a replayed nonce count are refused.
 */
import { describe, expect, it } from 'vitest';
import { chooseChallenge, digestAuthorization } from '../../src/sip/digest.js';
import { DigestServer, ha1Of, parseCredentials } from '../../src/sip/digest-server.js';

const server = new DigestServer({ realm: 'telgate', nonceTtlSeconds: 60 });
const ha1 = (user: string) =>
  user === 'alice'
    ? {
        MD5: ha1Of('MD5', 'alice', 'telgate', 'secret'),
        'SHA-256': ha1Of('SHA-256', 'alice', 'telgate', 'secret'),
      }
    : undefined;

function answer(
  challengeFrom: DigestServer,
  algorithm: 'MD5' | 'SHA-256',
  password = 'secret',
  nonceCount = 1,
) {
  const challenge = chooseChallenge(challengeFrom.challenges([algorithm]))!;
  return digestAuthorization({
    challenge,
    username: 'alice',
    password,
    method: 'REGISTER',
    uri: 'sip:127.0.0.1',
    nonceCount,
  }).header;
}

describe('DigestServer', () => {
  it.each(['MD5', 'SHA-256'] as const)('verifies a %s response with qop=auth', (algorithm) => {
    const header = answer(server, algorithm);
    expect(server.verify(parseCredentials(header), 'REGISTER', ha1)).toEqual({
      ok: true,
      username: 'alice',
    });
    // The same nonce count again is a replay; a higher one is fine.
    expect(server.verify(parseCredentials(header), 'REGISTER', ha1)).toMatchObject({
      ok: false,
      why: 'refused',
    });
  });

  it('refuses a wrong password, an unknown user and another method', () => {
    expect(
      server.verify(parseCredentials(answer(server, 'MD5', 'nope')), 'REGISTER', ha1),
    ).toMatchObject({
      why: 'refused',
      detail: 'wrong response',
    });
    expect(server.verify(parseCredentials(answer(server, 'MD5')), 'INVITE', ha1)).toMatchObject({
      why: 'refused',
    });
    expect(
      server.verify(parseCredentials(answer(server, 'MD5')), 'REGISTER', () => undefined),
    ).toMatchObject({
      why: 'refused',
      detail: 'unknown user or algorithm',
    });
  });

  it('calls a nonce stale after its lifetime, or when another secret signed it', () => {
    const header = answer(server, 'MD5');
    expect(server.verify(parseCredentials(header), 'REGISTER', ha1, Date.now() + 61_000)).toEqual({
      ok: false,
      why: 'stale',
    });
    const other = new DigestServer({ realm: 'telgate', nonceTtlSeconds: 60 });
    expect(other.verify(parseCredentials(header), 'REGISTER', ha1)).toEqual({
      ok: false,
      why: 'stale',
    });
    expect(server.challenges(['MD5'], true)[0]).toMatch(/, stale=true$/);
    // Instances sharing a secret accept each other's nonces.
    const secret = Buffer.from('cluster-secret');
    const a = new DigestServer({ realm: 'telgate', nonceTtlSeconds: 60, secret });
    const b = new DigestServer({ realm: 'telgate', nonceTtlSeconds: 60, secret });
    expect(b.verify(parseCredentials(answer(a, 'SHA-256')), 'REGISTER', ha1)).toMatchObject({
      ok: true,
    });
  });

  it('treats no credentials, or another realm’s, as a reason to challenge', () => {
    expect(server.verify(undefined, 'REGISTER', ha1)).toEqual({ ok: false, why: 'missing' });
    const header = answer(server, 'MD5').replace('realm="telgate"', 'realm="elsewhere"');
    expect(server.verify(parseCredentials(header), 'REGISTER', ha1)).toEqual({
      ok: false,
      why: 'missing',
    });
  });
});
