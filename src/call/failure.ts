/**
 * The one failure taxonomy: every way a call can be refused or ended is a typed value that
 * decides its SIP status, Reason header, log line and metric label together.
 */
import { sipReason } from '../sip/build.js';
import type { Rejection } from '../sip/engine.js';

/** Why an INVITE was refused before answer. */
export const REFUSALS = {
  'unknown-number': { status: 404, text: 'no endpoint for the dialed number' },
  'extension-missing': { status: 484, text: 'the dialed number needs an extension' },
  'not-active': { status: 480, text: 'endpoint not active: its flow has no published version' },
  'source-not-allowed': { status: 403, text: 'source address not allowed' },
  'origin-not-allowed': { status: 403, text: "the page's origin is not allowed" },
  'web-access-unset': {
    status: 403,
    text: 'the endpoint allows no origin or address (allowedOrigins, allowedIps or allowAnywhere)',
  },
  'identity-failed': { status: 403, text: 'caller identity failed verification (STIR/SHAKEN)' },
  'web-chat-only': { status: 404, text: 'a web chat endpoint takes no calls' },
  'over-cap': { status: 503, text: 'concurrent call limit reached' },
  'bad-sdp': { status: 488, text: 'SDP offer not usable' },
  'no-common-codec': { status: 488, text: 'no common codec' },
  'no-media-port': { status: 503, text: 'no free media port' },
  overloaded: { status: 503, text: 'telgate overloaded' },
  draining: { status: 503, text: 'telgate draining: try another instance' },
  'state-unavailable': { status: 503, text: 'shared state unavailable' },
  'sip-engine-down': { status: 503, text: 'SIP engine not connected to drachtio-server' },
  'link-unavailable': { status: 503, text: 'voice agent unavailable' },
  'provisioning-timeout': { status: 480, text: 'voice agent not ready in time' },
  cancelled: { status: 487, text: 'caller cancelled' },
  /** A call telgate placed: the callee's (or its trunk's) final status, busy or no answer. */
  'callee-refused': { status: 480, text: 'the called party did not answer' },
  internal: { status: 500, text: 'internal error' },
} as const satisfies Record<string, { status: number; text: string }>;

export type RefusalCause = keyof typeof REFUSALS;

export function rejectionFor(
  cause: RefusalCause,
  detail?: string,
  extra: Array<[string, string]> = [],
  statusOverride?: number,
): Rejection {
  const { text } = REFUSALS[cause];
  const status = statusOverride ?? REFUSALS[cause].status;
  const headers: Array<[string, string]> = [
    ['reason', sipReason(status, detail ? `${text}: ${detail}` : text)],
    ...extra,
  ];
  return { status, headers };
}

/** Why an answered call ended, with the Q.850 cause telgate puts in its BYE (RFC 3326). */
export const ENDINGS = {
  'caller-hangup': { q850: 16, text: 'caller hung up' },
  'agent-hangup': { q850: 16, text: 'agent hung up' },
  'link-lost': { q850: 41, text: 'voice agent connection lost' },
  'media-timeout': { q850: 41, text: 'no RTP from the caller' },
  'media-failed': { q850: 41, text: 'the WebRTC media connection failed' },
  'endpoint-expired': { q850: 16, text: 'the endpoint is gone' },
  'max-duration': { q850: 102, text: 'maximum call duration reached' },
  transferred: { q850: 16, text: 'transferred by the agent' },
  'transfer-target-hangup': { q850: 16, text: 'the transfer target hung up' },
  'no-ack': { q850: 41, text: 'no ACK for the 200 OK' },
  'no-usable-answer': { q850: 88, text: 'the ACK carried no usable SDP answer' },
  shutdown: { q850: 41, text: 'telgate shutting down' },
  'sip-engine-lost': { q850: 41, text: 'drachtio-server lost the dialog (restarted)' },
  'worker-failed': { q850: 41, text: 'telgate call worker failed' },
} as const satisfies Record<string, { q850: number; text: string }>;

export type EndCause = keyof typeof ENDINGS;

export function byeReason(cause: EndCause, detail?: string): string {
  const { q850, text } = ENDINGS[cause];
  const full = detail ? `${text}: ${detail}` : text;
  return `Q.850 ;cause=${q850} ;text="${full.replace(/["\\]/g, '')}"`;
}
