/**
 * The STUN keep-alive answer of SIP outbound (RFC 5626 §4.4.2): what is a Binding request, and
 * the XOR-MAPPED-ADDRESS of the answer for IPv4 and IPv6 (RFC 5389 §15.2).
 */
import { describe, expect, it } from 'vitest';
import { isStunBindingRequest, stunBindingSuccess } from '../../src/sip/stun-keepalive.js';

const request = Buffer.from('000100002112a442' + '0102030405060708090a0b0c', 'hex');

describe('STUN keep-alives', () => {
  it('tells a Binding request from SIP and from other STUN messages', () => {
    expect(isStunBindingRequest(request)).toBe(true);
    expect(isStunBindingRequest(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'))).toBe(false);
    const indication = Buffer.from(request);
    indication.writeUInt16BE(0x0011, 0);
    expect(isStunBindingRequest(indication)).toBe(false);
    expect(isStunBindingRequest(request.subarray(0, 19))).toBe(false);
  });

  it('answers with the source XORed with the cookie (IPv4) and the transaction id (IPv6)', () => {
    const v4 = stunBindingSuccess(request, '192.0.2.1', 32853);
    expect(v4.toString('hex')).toBe(
      '0101000c2112a442' + '0102030405060708090a0b0c' + '00200008' + '0001a147e112a643',
    );
    const v6 = stunBindingSuccess(request, '2001:db8::1', 5060);
    expect(v6.readUInt16BE(2)).toBe(24);
    expect(v6.readUInt8(25)).toBe(2);
    const address = [...v6.subarray(28, 44)].map((b, i) => b ^ v6[4 + i]);
    expect(Buffer.from(address).toString('hex')).toBe('20010db8000000000000000000000001');
  });
});
