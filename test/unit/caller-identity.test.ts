/**
 * What telgate vouches for about a caller and passes on to an egress trunk: an asserted
 * identity only when verified (a device, a trusted trunk), normalised; Privacy honoured;
 * Diversion and History-Info naming the dialed number; the trunk's STIR/SHAKEN verstat read.
 */
import { describe, expect, it } from 'vitest';
import { callerIdentityOf, egressIdentityHeaders } from '../../src/call/caller-identity.js';

function invite(from: string, headers: Record<string, string> = {}) {
  return { from, header: (name: string) => headers[name] };
}

describe('the caller identity', () => {
  it('asserts nothing for an untrusted source, its raw From least of all', () => {
    const id = callerIdentityOf(
      invite('<sip:+4930123@192.0.2.10:5060;user=phone>;tag=1'),
      undefined,
    );
    expect(id).toEqual({ asserted: undefined, privacy: false, verstat: undefined, signed: false });
    expect(egressIdentityHeaders('pai', id, '15550100100', 'trunk.example', 'sip:x@t')).toEqual([]);
  });

  it('a trusted trunk: its P-Asserted-Identity (else From), without port or parameters', () => {
    const withPai = callerIdentityOf(
      invite('<sip:anon@192.0.2.10>;tag=1', {
        'p-asserted-identity':
          '<sip:+4930123@carrier.example:5060;user=phone;verstat=TN-Validation-Passed>',
        identity: 'eyJhbGciOiJFUzI1NiJ9...;info=<https://cert.example/x.pem>',
      }),
      { trustedTrunk: true },
    );
    expect(withPai).toEqual({
      asserted: 'sip:+4930123@carrier.example',
      privacy: false,
      verstat: 'TN-Validation-Passed',
      signed: true,
    });
    expect(
      callerIdentityOf(invite('<sip:+4930123@192.0.2.10:5070>;tag=1'), { trustedTrunk: true })
        .asserted,
    ).toBe('sip:+4930123@192.0.2.10');
  });

  it('an authenticated device is asserted as itself; Privacy: id travels with it', () => {
    const id = callerIdentityOf(invite('<sip:alice@10.0.0.5:5062>;tag=1', { privacy: 'id' }), {
      device: 'alice',
      host: 'telgate',
    });
    expect(id.asserted).toBe('sip:alice@telgate');
    expect(egressIdentityHeaders('pai', id, '15550100100', 'trunk.example', 'sip:x@t')).toEqual([
      ['p-asserted-identity', '<sip:alice@telgate>'],
      ['privacy', 'id'],
    ]);
  });

  it('a device that sends as a number is asserted as it, and presented with its name', () => {
    const id = callerIdentityOf(invite('<sip:alice@10.0.0.5:5062>;tag=1'), {
      device: 'alice',
      host: 'telgate',
      sendAs: '+15550100',
      callerId: 'Front Desk',
    });
    expect(id.asserted).toBe('tel:+15550100');
    expect(id.presentAs).toEqual({ number: '+15550100', display: 'Front Desk' });
  });

  it('Diversion and History-Info name the dialed number (RFC 5806, RFC 7044 indexing)', () => {
    const id = callerIdentityOf(invite('<sip:a@b>;tag=1'), undefined);
    expect(
      egressIdentityHeaders(
        'diversion',
        id,
        '15550100100',
        'trunk.example',
        'sip:+1555@trunk.example',
      ),
    ).toEqual([['diversion', '<sip:+15550100100@trunk.example>;reason=unconditional;counter=1']]);
    expect(
      egressIdentityHeaders(
        'history-info',
        id,
        '+15550100100',
        'trunk.example',
        'sip:+15550199001@trunk.example:5060',
      ),
    ).toEqual([
      [
        'history-info',
        '<sip:+15550100100@trunk.example?Reason=SIP%3Bcause%3D302>;index=1, <sip:+15550199001@trunk.example:5060>;index=1.1;mp=1',
      ],
    ]);
  });
});
