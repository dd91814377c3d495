/**
 * What the provider server needs of one cloud provider (provider-twilio.ts, provider-vobiz.ts, provider-exotel.ts):
 * how its webhook is checked and answered, how its stream upgrade is authenticated, the audio
 * and messages of its media stream, and how a call is hung up at the provider.
 */
import type { StreamAudio } from './caller-leg-stream.js';

export type ProviderName = 'twilio' | 'vobiz' | 'exotel';

/** The webhook request as the server read it. */
export interface WebhookRequest {
  /** The public URL the provider used (publicBaseUrl + path and query). */
  url: string;
  headers: Record<string, string | undefined>;
  /** The form parameters of a POST. */
  params: Record<string, string>;
  /**
   * The request's HTTP Basic credentials are a telephony endpoint's own (its id and webhook
   * secret) for the agent the URL names: for a provider that signs nothing (Exotel).
   */
  endpointAuthenticated?: boolean;
}

/** A stream message, provider-neutral. */
export type StreamEvent =
  | { event: 'start'; callId: string; streamId: string }
  | { event: 'media'; payload: Buffer }
  | { event: 'dtmf'; digit: string }
  /** A mark telgate sent has been played out. */
  | { event: 'mark'; name: string }
  | { event: 'stop' }
  | { event: 'other' }
  | { event: 'unusable'; why: string };

export interface ProviderWire {
  readonly name: ProviderName;
  /** The webhook's call, or why it is refused (status and reason). */
  webhook(
    req: WebhookRequest,
  ): { callId: string; from: string; to: string } | { status: number; why: string };
  /** The answer that connects the call to `streamUrl`, and the one that refuses it as busy. */
  answer(streamUrl: string, agent: string): string;
  /** The answers' media type. */
  readonly contentType: string;
  busy(): { status: number; body: string };
  /** Whether the stream's upgrade request is the provider's (its signature, where it has one). */
  upgradeValid(url: string, headers: Record<string, string | undefined>): boolean;
  readonly audio: StreamAudio;
  /** A stream that drops may come back on the same URL for the same call. */
  readonly reconnects: boolean;
  read(text: string): StreamEvent;
  media(streamId: string, audio: Buffer): string;
  clear(streamId: string): string;
  /** A mark, echoed back by the provider once the audio before it has played. */
  mark(streamId: string, name: string): string;
  hangUp(callId: string): Promise<void>;
  /**
   * A placed call's status callback, checked as the provider allows (its signature where it
   * has one; the callback's unguessable URL is the check otherwise), or why it is refused.
   */
  status(req: WebhookRequest): CallStatusReport | { status: number; why: string };
  /**
   * Places a call from `from` to `to` through the provider's REST API, its audio to come on
   * `streamUrl` (answered through `answerUrl` where the provider asks an answer URL for it);
   * the provider's id of the call, when its answer says it.
   */
  place(call: OutboundRequest): Promise<{ callId: string | undefined }>;
}

export interface OutboundRequest {
  from: string;
  to: string;
  streamUrl: string;
  /** This call's answer URL, for a provider that fetches one (Vobiz). */
  answerUrl: string;
  /** Where the provider reports the call's progress. */
  statusUrl: string;
  agent: string;
}

/** A placed call's progress, provider-neutral. */
export type CallProgress =
  | 'initiated'
  | 'ringing'
  | 'answered'
  | 'completed'
  | 'busy'
  | 'no-answer'
  | 'failed'
  | 'canceled'
  | 'unknown';

/** The progress after which a call has no more: it was never answered, or it is over. */
export const FINAL_PROGRESS: ReadonlySet<CallProgress> = new Set([
  'completed',
  'busy',
  'no-answer',
  'failed',
  'canceled',
]);

export interface CallStatusReport {
  /** The provider's id of the call, when the callback names it. */
  callId: string | undefined;
  progress: CallProgress;
  /** The provider's own word for it. */
  providerStatus: string;
  /** More from the provider (a hang-up cause), when it says. */
  detail?: string;
}

/** The providers' status words (Twilio's CallStatus, Vobiz's and Exotel's) in one vocabulary. */
const PROGRESS: Record<string, CallProgress> = {
  queued: 'initiated',
  initiated: 'initiated',
  ringing: 'ringing',
  'in-progress': 'answered',
  answered: 'answered',
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no-answer',
  timeout: 'no-answer',
  failed: 'failed',
  canceled: 'canceled',
  cancel: 'canceled',
};

export function statusReport(
  callId: string | undefined,
  providerStatus: string | undefined,
  detail?: string,
): CallStatusReport {
  const word = (providerStatus ?? '').toLowerCase();
  return {
    callId: callId || undefined,
    progress: PROGRESS[word] ?? 'unknown',
    providerStatus: word || 'unknown',
    ...(detail && { detail }),
  };
}

/** Readers' shared parts: a JSON object or nothing, and the events every provider has. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

export const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' ? (v as Record<string, unknown>) : {};

export function mediaEvent(payload: unknown): StreamEvent {
  if (typeof payload !== 'string') return { event: 'unusable', why: 'media without payload' };
  return { event: 'media', payload: Buffer.from(payload, 'base64') };
}

export function dtmfEvent(digit: unknown): StreamEvent {
  if (typeof digit !== 'string' || !/^[0-9*#A-D]$/.test(digit)) {
    return { event: 'unusable', why: 'bad dtmf digit' };
  }
  return { event: 'dtmf', digit };
}

export function unknownEvent(event: unknown): StreamEvent {
  return { event: 'unusable', why: `unknown event ${JSON.stringify(event)?.slice(0, 40)}` };
}
