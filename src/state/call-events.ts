/**
 * Call events: what happened to each admitted call, in order, for the platform to consume
 * (a Redis Stream with the Redis store: docs/operations.md § Call events). The zod schemas are
 * the contract; docs/call-events.schema.json is generated from them and the docs' examples and
 * the events of real calls are validated against it in the tests.
 */
import { z } from 'zod';

const common = {
  callId: z.string().min(1),
  /** The telgate instance that carries the call (state.instanceId). */
  instance: z.string().min(1),
  /** W3C trace context: the INVITE's `traceparent` trace id, or a new one. */
  traceId: z.string().regex(/^[0-9a-f]{32}$/),
  /** telgate's span for this call (the parent of TelAPI's session span). */
  spanId: z.string().regex(/^[0-9a-f]{16}$/),
  /** When it happened, ms since the epoch. */
  at: z.number().int().positive(),
  endpointId: z.string().min(1),
};

const quality = z.object({
  packetsReceived: z.number().int().min(0),
  packetsLost: z.number().int().min(0),
  lossPercent: z.number().min(0),
  jitterMs: z.number().min(0),
  late: z.number().int().min(0),
  concealedMs: z.number().min(0),
  recoveredMs: z.number().min(0),
  jitterBufferMs: z.number().min(0),
  framesDroppedToAgent: z.number().int().min(0),
  remoteLossPercent: z.number().min(0).optional(),
  remoteJitterMs: z.number().min(0).optional(),
  rttMs: z.number().min(0).optional(),
});

export const callEventSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('started'),
      ...common,
      caller: z.string(),
      dialed: z.string(),
      source: z.string(),
    })
    .strict(),
  z
    .object({
      type: z.literal('answered'),
      ...common,
      sessionId: z.string(),
      codec: z.string(),
      linkFormat: z.string(),
      /** From the INVITE to the 200 OK. */
      setupMs: z.number().int().min(0),
    })
    .strict(),
  z
    .object({
      type: z.literal('transferred'),
      ...common,
      target: z.string(),
      mode: z.enum(['blind', 'bridged', 'warm']),
      sipStatus: z.number().int().optional(),
    })
    .strict(),
  z
    .object({
      /** A call placed through a cloud provider: the provider's status callback, verified. */
      type: z.literal('provider-status'),
      ...common,
      provider: z.enum(['twilio', 'vobiz', 'exotel']),
      /** initiated, ringing, answered, completed, busy, no-answer, failed, canceled, unknown */
      status: z.enum([
        'initiated',
        'ringing',
        'answered',
        'completed',
        'busy',
        'no-answer',
        'failed',
        'canceled',
        'unknown',
      ]),
      /** The provider's own word (Twilio's `in-progress`, Vobiz's `timeout`, …). */
      providerStatus: z.string(),
      /** More from the provider: Vobiz's HangupCause, Twilio's SipResponseCode. */
      detail: z.string().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('ended'),
      ...common,
      /** 'refused' before the answer, 'ended' after it. */
      outcome: z.enum(['refused', 'ended']),
      /** The failure taxonomy's cause (docs/sip.md): `caller-hangup`, `link-unavailable`, … */
      cause: z.string(),
      /** The refusal's status, or 200 for an answered call. */
      sipStatus: z.number().int(),
      /** The Reason header telgate sent (its refusal or BYE), if it sent one. */
      reason: z.string().optional(),
      /** From the INVITE to the end. */
      durationMs: z.number().int().min(0),
      /** From the answer to the end; 0 when never answered. */
      talkMs: z.number().int().min(0),
      quality: quality.optional(),
    })
    .strict(),
]);

export type CallEvent = z.infer<typeof callEventSchema>;

/** The JSON Schema of an event as consumers read it (docs/call-events.schema.json). */
export function callEventsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(callEventSchema),
    $id: 'https://telgate.dev/schema/call-event.json',
    title: 'telgate call event (one entry of the call-events stream, fields decoded)',
  };
}
export type CallEventType = CallEvent['type'];

/** A Redis Stream entry is flat strings: objects travel as JSON, numbers as text. */
export function eventToFields(event: CallEvent): string[] {
  const fields: string[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined) continue;
    fields.push(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return fields;
}

const NUMERIC = new Set(['at', 'setupMs', 'sipStatus', 'durationMs', 'talkMs']);

/** The inverse of eventToFields, validated: for consumers, the CLI and the tests. */
export function eventFromFields(fields: string[]): CallEvent {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    raw[name] = name === 'quality' ? JSON.parse(value) : NUMERIC.has(name) ? Number(value) : value;
  }
  return callEventSchema.parse(raw);
}
