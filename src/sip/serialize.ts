/** SIP message serialisation; Content-Length is always written from the actual body. */
import { canonicalHeaderName } from './headers.js';
import type { SipMessage } from './message.js';

export function serializeMessage(message: SipMessage): Buffer {
  let head =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0\r\n`
      : `SIP/2.0 ${message.status} ${message.reason}\r\n`;
  for (const [name, value] of message.headers.entries) {
    if (name === 'content-length') continue;
    head += `${canonicalHeaderName(name)}: ${value}\r\n`;
  }
  head += `Content-Length: ${message.body.length}\r\n\r\n`;
  if (!message.body.length) return Buffer.from(head, 'latin1');
  return Buffer.concat([Buffer.from(head, 'latin1'), message.body]);
}
