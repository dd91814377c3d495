/**
 * W3C Trace Context for a call: the INVITE's `traceparent` (a proxy such as Kamailio can add
 * one) is continued, or a new trace is started. telgate's span is the call; TelAPI's session
 * is its child, so TelAPI gets `traceId` and `parentSpanId` (telgate's span id).
 */
import { randomBytes } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  /** telgate's own span for the call. */
  spanId: string;
  /** The caller side's span, when the INVITE carried a traceparent. */
  parentSpanId?: string;
  /** The header to send onward (to TelAPI): version 00, sampled as received. */
  traceparent: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = /^0+$/;

/** Continues a valid `traceparent` (W3C Trace Context §3.2) or starts a new trace. */
export function traceFor(traceparent: string | undefined): TraceContext {
  const spanId = randomBytes(8).toString('hex');
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  // Version ff is invalid; all-zero ids are invalid: a new trace then, as the spec says.
  if (m && m[1] !== 'ff' && !ZERO_TRACE.test(m[2]!) && !ZERO_TRACE.test(m[3]!)) {
    const [, , traceId, parentSpanId, flags] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    return { traceId, spanId, parentSpanId, traceparent: `00-${traceId}-${spanId}-${flags}` };
  }
  const traceId = randomBytes(16).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}
