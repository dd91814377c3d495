/** Small helpers of the native engine: keep-alives, Via rewriting, next-hop resolution. */
import dns from 'node:dns/promises';
import net from 'node:net';
import { splitHeaderList } from './headers.js';
import type { SipMessage, SipPeer, SipRequest } from './message.js';
import { parseUri } from './uri.js';
import { parseVia } from './via.js';

/** Rewrites only the first Via value, wherever it sits (a header line may hold several). */
export function replaceTopVia(request: SipRequest, value: string): void {
  const entry = request.headers.entries.find((e) => e[0] === 'via');
  if (!entry) return;
  const values = splitHeaderList(entry[1]);
  values[0] = value;
  entry[1] = values.join(', ');
}

/** A datagram of CRLFs only: a keep-alive, not a message. */
export function isKeepAlive(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}

/** A 400 can only be routed back when the headers a response copies are present. */
export function canAnswer(request: SipMessage): boolean {
  const h = request.headers;
  return Boolean(
    parseVia(h.getAll('via')[0] ?? '') &&
    h.get('from') &&
    h.get('to') &&
    h.get('call-id') &&
    h.get('cseq'),
  );
}

/**
 * The address and port to send to for a SIP URI: an IP literal as is, a name through the
 * system resolver (A/AAAA; RFC 3263 NAPTR/SRV lookups are not done), port 5060 by default
 * (5061 over TLS).
 */
export async function resolveUri(
  uri: string,
  transport: SipPeer['transport'],
): Promise<SipPeer | undefined> {
  const parsed = parseUri(uri);
  if (!parsed || parsed.scheme === 'tel') return undefined;
  const port = parsed.port ?? (transport === 'tls' ? 5061 : 5060);
  if (net.isIP(parsed.host)) return { transport, address: parsed.host, port };
  try {
    const { address } = await dns.lookup(parsed.host);
    return { transport, address, port };
  } catch {
    return undefined;
  }
}
