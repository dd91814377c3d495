/**
 * The UDP keep-alive of SIP outbound (RFC 5626 §4.4.2): a device sends STUN Binding requests
 * (RFC 5389) to the SIP port it registered through, and the answer's XOR-MAPPED-ADDRESS tells it
 * whether its NAT mapping changed. Only that one exchange is needed, with no authentication or
 * other attributes, so it is written here (a dozen lines) rather than taken from a STUN library
 * built for ICE.
 */
import net from 'node:net';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;

/** Whether a datagram is a STUN Binding request (never a SIP message: those start with a letter). */
export function isStunBindingRequest(data: Buffer): boolean {
  return (
    data.length >= 20 &&
    data.readUInt16BE(0) === BINDING_REQUEST &&
    data.readUInt32BE(4) === MAGIC_COOKIE &&
    data.readUInt16BE(2) === data.length - 20
  );
}

/** The Binding success response to `request`, naming `address`:`port` as the source seen. */
export function stunBindingSuccess(request: Buffer, address: string, port: number): Buffer {
  if (address.startsWith('::ffff:') && address.includes('.')) address = address.slice(7);
  const v6 = net.isIPv6(address);
  const addressBytes = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  const response = Buffer.alloc(20 + 4 + 4 + addressBytes.length);
  response.writeUInt16BE(BINDING_SUCCESS, 0);
  response.writeUInt16BE(4 + 4 + addressBytes.length, 2);
  request.copy(response, 4, 4, 20); // magic cookie and transaction id
  response.writeUInt16BE(XOR_MAPPED_ADDRESS, 20);
  response.writeUInt16BE(4 + addressBytes.length, 22);
  response.writeUInt8(v6 ? 0x02 : 0x01, 25);
  response.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 26);
  // The address is XORed with the cookie (and, for IPv6, the transaction id after it).
  for (let i = 0; i < addressBytes.length; i++) {
    response[28 + i] = addressBytes[i] ^ response[4 + i];
  }
  return response;
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(Math.max(0, missing)).fill('0'), ...groups(tail)];
  const bytes = Buffer.alloc(16);
  all.forEach((g, i) => bytes.writeUInt16BE(Number.parseInt(g, 16) & 0xffff, i * 2));
  return bytes;
}
