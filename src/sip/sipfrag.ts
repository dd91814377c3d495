/** message/sipfrag bodies for REFER progress (RFC 3420, RFC 3515 §2.4.5). */
import { reasonPhrase } from './message.js';

export const SIPFRAG_TYPE = 'message/sipfrag;version=2.0';

export function sipfragBody(status: number, reason?: string): Buffer {
  return Buffer.from(`SIP/2.0 ${status} ${reason ?? reasonPhrase(status)}\r\n`);
}

/** The status code of a sipfrag's status line, or undefined if it has none. */
export function sipfragStatus(body: Buffer): number | undefined {
  const m = /^SIP\/2\.0 (\d{3})/.exec(body.toString('latin1').trimStart());
  return m ? Number(m[1]) : undefined;
}

/** Whether a Subscription-State header value says the subscription is over. */
export function subscriptionTerminated(value: string | undefined): boolean {
  return (value ?? '').trim().toLowerCase().startsWith('terminated');
}
