/** The transfer target policy and the agent's transfer message, on their own. */
import { describe, expect, it } from 'vitest';
import { parseAgentMessage } from '../../src/link/protocol.js';
import {
  checkTransferTarget,
  countryCodeOf,
  targetNumber,
} from '../../src/routing/transfer-policy.js';

const EGRESS = '+15550199';
const open = { allow: [], deny: [] };

describe('transfer policy', () => {
  it('reads country codes of one, two and three digits', () => {
    expect(['+15551234', '+4930123', '+35312345', '+79161234'].map(countryCodeOf)).toEqual([
      '1',
      '49',
      '353',
      '7',
    ]);
  });

  it('accepts a domestic number and refuses premium-rate and foreign ones by default', () => {
    expect(checkTransferTarget('+15550100200', open, EGRESS)).toEqual({
      ok: true,
      number: '+15550100200',
    });
    expect(checkTransferTarget('+19005550100', open, EGRESS)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('premium-rate'),
    });
    expect(checkTransferTarget('+442079460000', open, EGRESS)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('international'),
    });
  });

  it('lets the endpoint widen or narrow that', () => {
    const abroad = { ...open, allowInternational: true };
    expect(checkTransferTarget('+442079460000', abroad, EGRESS).ok).toBe(true);
    expect(checkTransferTarget('+19005550100', { ...open, allowPremium: true }, EGRESS).ok).toBe(
      true,
    );
    // An allow pattern lifts the defaults for what it names, and refuses everything else.
    const only = { allow: ['+4420*'], deny: [] };
    expect(checkTransferTarget('+442079460000', only, EGRESS).ok).toBe(true);
    expect(checkTransferTarget('+15550100200', only, EGRESS)).toMatchObject({ ok: false });
    // A broad allow pattern does not open premium-rate numbers: only allowPremium does.
    const broad = { allow: ['+1*'], deny: [] };
    expect(checkTransferTarget('+19005550100', broad, EGRESS)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/premium-rate/),
    });
    expect(checkTransferTarget('+19005550100', { ...broad, allowPremium: true }, EGRESS).ok).toBe(
      true,
    );
    // deny wins over allow.
    const both = { allow: ['+1555*'], deny: ['+1555019*'] };
    expect(checkTransferTarget('+15550199001', both, EGRESS)).toMatchObject({
      ok: false,
      reason: '+15550199001 is denied by +1555019*',
    });
  });

  it('takes numbers from sip: and tel: URIs; other SIP URIs only when allowed by name', () => {
    expect(targetNumber('sip:+15550100200@trunk.example.com')).toBe('+15550100200');
    expect(targetNumber('tel:+15550100200')).toBe('+15550100200');
    expect(targetNumber('sip:desk@pbx.example.com')).toBeUndefined();
    expect(checkTransferTarget('sip:desk@pbx.example.com', open, EGRESS).ok).toBe(false);
    const named = { allow: ['sip:desk@pbx.example.com'], deny: [] };
    expect(checkTransferTarget('sip:desk@pbx.example.com', named, EGRESS).ok).toBe(true);
  });
});

describe('the transfer message', () => {
  it('defaults to bridged with a 30 s ring timeout and keeps context headers', () => {
    expect(
      parseAgentMessage(
        JSON.stringify({
          type: 'transfer',
          target: '+15550100200',
          headers: { 'X-Context': 'billing', 'User-to-User': '56a390f3;encoding=hex' },
        }),
      ),
    ).toEqual({
      type: 'transfer',
      target: '+15550100200',
      mode: 'bridged',
      timeoutMs: 30_000,
      headers: [
        ['X-Context', 'billing'],
        ['User-to-User', '56a390f3;encoding=hex'],
      ],
    });
  });

  it('refuses headers that are not context headers or that would split the message', () => {
    const withHeaders = (headers: object) =>
      parseAgentMessage(JSON.stringify({ type: 'transfer', target: '+1555', headers }));
    expect(withHeaders({ Via: 'SIP/2.0/UDP evil' })).toBeUndefined();
    expect(withHeaders({ 'X-A': 'ok\r\nVia: evil' })).toBeUndefined();
    expect(parseAgentMessage('{"type":"transfer","target":"+1555","mode":"teleport"}')).toBe(
      undefined,
    );
  });
});
