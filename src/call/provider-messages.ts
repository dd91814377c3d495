/**
 * The providers' media-stream messages as telgate reads and writes them, one place for all
 * three: what each provider sends (`in`) and what telgate sends back (`out`). The readers
 * (provider-twilio-stream.ts, provider-vobiz.ts, provider-exotel.ts) take more than this
 * (unknown fields, numbers as strings or not); these schemas are the documented shapes,
 * published as docs/provider-streams.schema.json and checked against every example in
 * docs/providers.md.
 */
import { z } from 'zod';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const counter = z.union([z.string().regex(/^\d+$/), z.number().int().min(0)]);
const digit = z.string().regex(/^[0-9*#A-D]$/);

const twilioIn = z.discriminatedUnion('event', [
  z.object({ event: z.literal('connected'), protocol: z.string(), version: z.string() }),
  z.object({
    event: z.literal('start'),
    sequenceNumber: counter,
    streamSid: z.string(),
    start: z.object({
      accountSid: z.string(),
      streamSid: z.string(),
      callSid: z.string(),
      tracks: z.array(z.string()),
      customParameters: z.record(z.string(), z.string()),
      mediaFormat: z.object({
        encoding: z.literal('audio/x-mulaw'),
        sampleRate: z.literal(8000),
        channels: z.literal(1),
      }),
    }),
  }),
  z.object({
    event: z.literal('media'),
    sequenceNumber: counter,
    streamSid: z.string(),
    media: z.object({ track: z.string(), chunk: counter, timestamp: counter, payload: base64 }),
  }),
  z.object({
    event: z.literal('dtmf'),
    sequenceNumber: counter,
    streamSid: z.string(),
    dtmf: z.object({ track: z.string(), digit }),
  }),
  z.object({
    event: z.literal('mark'),
    sequenceNumber: counter,
    streamSid: z.string(),
    mark: z.object({ name: z.string() }),
  }),
  z.object({
    event: z.literal('stop'),
    sequenceNumber: counter,
    streamSid: z.string(),
    stop: z.object({ accountSid: z.string(), callSid: z.string() }),
  }),
]);

const twilioOut = z.discriminatedUnion('event', [
  z
    .object({
      event: z.literal('mark'),
      streamSid: z.string(),
      mark: z.object({ name: z.string() }),
    })
    .strict(),
  z
    .object({
      event: z.literal('media'),
      streamSid: z.string(),
      media: z.object({ payload: base64 }),
    })
    .strict(),
  z.object({ event: z.literal('clear'), streamSid: z.string() }).strict(),
]);

const vobizIn = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('start'),
    sequenceNumber: counter,
    start: z.object({
      callId: z.string(),
      streamId: z.string(),
      accountId: z.string(),
      tracks: z.array(z.string()),
      mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number() }),
    }),
  }),
  z.object({
    event: z.literal('media'),
    streamId: z.string(),
    media: z.object({ track: z.string(), timestamp: counter, chunk: counter, payload: base64 }),
  }),
  z.object({ event: z.literal('playedStream'), streamId: z.string(), name: z.string() }),
  z.object({ event: z.literal('clearedAudio'), streamId: z.string() }),
]);

const vobizOut = z.discriminatedUnion('event', [
  z
    .object({
      event: z.literal('playAudio'),
      streamId: z.string(),
      media: z.object({
        contentType: z.literal('audio/x-mulaw'),
        sampleRate: z.literal(8000),
        payload: base64,
      }),
    })
    .strict(),
  z.object({ event: z.literal('clearAudio'), streamId: z.string() }).strict(),
  z.object({ event: z.literal('checkpoint'), streamId: z.string(), name: z.string() }).strict(),
]);

const exotelIn = z.discriminatedUnion('event', [
  z.object({ event: z.literal('connected') }),
  z.object({
    event: z.literal('start'),
    sequence_number: counter,
    stream_sid: z.string(),
    start: z.object({
      stream_sid: z.string(),
      call_sid: z.string(),
      account_sid: z.string(),
      from: z.string(),
      to: z.string(),
      custom_parameters: z.record(z.string(), z.string()),
      media_format: z.object({ encoding: z.string(), sample_rate: counter, bit_rate: z.string() }),
    }),
  }),
  z.object({
    event: z.literal('media'),
    sequence_number: counter,
    stream_sid: z.string(),
    media: z.object({ chunk: counter, timestamp: counter, payload: base64 }),
  }),
  z.object({
    event: z.literal('dtmf'),
    sequence_number: counter,
    stream_sid: z.string(),
    dtmf: z.object({ digit, duration: counter }),
  }),
  z.object({
    event: z.literal('mark'),
    sequence_number: counter,
    stream_sid: z.string(),
    mark: z.object({ name: z.string() }),
  }),
  z.object({
    event: z.literal('stop'),
    sequence_number: counter,
    stream_sid: z.string(),
    stop: z.object({ call_sid: z.string(), account_sid: z.string(), reason: z.string() }),
  }),
]);

const exotelOut = z.discriminatedUnion('event', [
  z
    .object({
      event: z.literal('mark'),
      stream_sid: z.string(),
      mark: z.object({ name: z.string() }),
    })
    .strict(),
  z
    .object({
      event: z.literal('media'),
      stream_sid: z.string(),
      media: z.object({ payload: base64 }),
    })
    .strict(),
  z.object({ event: z.literal('clear'), stream_sid: z.string() }).strict(),
]);

/** Each provider's messages, by direction. */
export const PROVIDER_MESSAGES = {
  twilio: { in: twilioIn, out: twilioOut },
  vobiz: { in: vobizIn, out: vobizOut },
  exotel: { in: exotelIn, out: exotelOut },
} as const;

/** docs/provider-streams.schema.json: every provider's messages, each direction a definition. */
export function providerStreamsJsonSchema(): Record<string, unknown> {
  const $defs: Record<string, unknown> = {};
  for (const [provider, directions] of Object.entries(PROVIDER_MESSAGES)) {
    for (const [direction, schema] of Object.entries(directions)) {
      $defs[`${provider}-${direction}`] = z.toJSONSchema(schema);
    }
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://telgate.dev/schema/provider-streams.json',
    title: "cloud providers' media-stream messages as telgate reads (in) and writes (out) them",
    $defs,
  };
}
