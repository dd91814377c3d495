/** Builders for responses and for requests a UA sends inside a dialog. */
import { SipHeaders } from './headers.js';
import { reasonPhrase, type SipRequest, type SipResponse } from './message.js';
import { parseNameAddr, formatNameAddr } from './uri.js';

export interface ResponseOptions {
  reason?: string;
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  contentType?: string;
}

/** RFC 3261 §8.2.6: copies Via, From, To, Call-ID and CSeq; adds the To tag when given. */
export function buildResponse(
  request: SipRequest,
  status: number,
  options: ResponseOptions = {},
): SipResponse {
  const h = new SipHeaders();
  for (const via of request.headers.getAll('via')) h.add('via', via);
  h.add('from', request.headers.get('from') ?? '');
  let to = request.headers.get('to') ?? '';
  if (options.toTag && status !== 100) {
    const addr = parseNameAddr(to);
    if (addr && !addr.params.has('tag')) {
      addr.params.set('tag', options.toTag);
      to = formatNameAddr(addr);
    }
  }
  h.add('to', to);
  h.add('call-id', request.headers.get('call-id') ?? '');
  h.add('cseq', request.headers.get('cseq') ?? '');
  for (const [name, value] of options.headers ?? []) h.add(name, value);
  const body = options.body ?? Buffer.alloc(0);
  if (body.length && options.contentType) h.add('content-type', options.contentType);
  return {
    kind: 'response',
    status,
    reason: options.reason ?? reasonPhrase(status),
    headers: h,
    body,
  };
}

/** A Reason header (RFC 3326) value for a SIP status. */
export function sipReason(status: number, text: string): string {
  return `SIP ;cause=${status} ;text="${text.replace(/["\\]/g, '')}"`;
}
