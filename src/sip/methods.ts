/** Which methods the engine knows and which it serves (RFC 3261 §8.2.1: 405 versus 501). */

/** Methods this engine serves, for Allow headers. */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY, INFO';

/**
 * Extensions named in Supported: SIP outbound (RFC 5626) at the registrar. Replaces, 100rel and
 * session timers are not served, so not claimed.
 */
export const SUPPORTED = 'outbound';

const ALLOWED = new Set(ALLOW.split(', '));

/** Methods defined by RFC 3261 and its extensions: refused with 405, anything else with 501. */
const KNOWN = new Set([...ALLOWED, 'REGISTER', 'PRACK', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH']);

export function isAllowed(method: string): boolean {
  return ALLOWED.has(method);
}

/** 405 Method Not Allowed for a known method, 501 Not Implemented for one never heard of. */
export function refusalForMethod(method: string): 405 | 501 {
  return KNOWN.has(method) ? 405 : 501;
}
