/** What every transaction needs from the layer below it, and its key (RFC 3261 §17.2.3). */
import type { SipPeer, SipRequest } from './message.js';
import type { SipTimers } from './timers.js';
import { BRANCH_MAGIC, parseVia, sentBy } from './via.js';

export interface TransactionContext {
  timers: SipTimers;
  send(data: Buffer, peer: SipPeer): void;
  /** Called exactly once when the transaction reaches Terminated. */
  terminated(key: string): void;
}

/**
 * Server transaction key: branch + sent-by + method, where ACK matches its INVITE. Requests from
 * RFC 2543 peers (no magic cookie) fall back to Call-ID + CSeq number + From tag + top Via.
 */
export function serverTransactionKey(request: SipRequest, methodOverride?: string): string {
  const topVia = request.headers.getAll('via')[0] ?? '';
  const via = parseVia(topVia);
  const method = methodOverride ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  const branch = via?.params.get('branch') ?? '';
  if (branch.startsWith(BRANCH_MAGIC) && via) return `${branch}|${sentBy(via)}|${method}`;
  const cseq = (request.headers.get('cseq') ?? '').split(/\s+/)[0];
  return `2543|${request.headers.get('call-id')}|${cseq}|${request.headers.get('from')}|${topVia}|${method}`;
}

export function clientTransactionKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}
