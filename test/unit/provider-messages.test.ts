/**
 * The providers' stream messages as documented: the committed JSON Schema is the code's, every
 * example in docs/providers.md fits its schema and is read by telgate's own reader, every
 * message type is shown, and what telgate writes fits the `out` schemas.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROVIDER_MESSAGES, providerStreamsJsonSchema } from '../../src/call/provider-messages.js';
import { exotelWire, readExotelMessage } from '../../src/call/provider-exotel.js';
import { twilioWire } from '../../src/call/provider-twilio.js';
import { readVobizMessage, vobizWire } from '../../src/call/provider-vobiz.js';
import type { ProviderWire, StreamEvent } from '../../src/call/provider-wire.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
type Provider = keyof typeof PROVIDER_MESSAGES;

const env = { T: 'token' };
const WIRES: Record<Provider, ProviderWire> = {
  twilio: twilioWire(
    {
      accountSid: `AC${'0'.repeat(32)}`,
      authTokenEnv: 'T',
      maxConcurrent: 0,
      apiBaseUrl: 'https://api.twilio.com',
    },
    env,
  ),
  vobiz: vobizWire(
    { authId: 'MA', authTokenEnv: 'T', maxConcurrent: 0, apiBaseUrl: 'https://api.vobiz.ai' },
    env,
  ),
  exotel: exotelWire(
    {
      accountSid: 'a',
      apiKey: 'k',
      apiTokenEnv: 'T',
      maxConcurrent: 0,
      apiBase: 'https://api.exotel.com',
      sampleRate: 8000,
    },
    env,
  ),
};
const READERS: Record<Provider, (text: string) => StreamEvent> = {
  twilio: (text) => WIRES.twilio.read(text),
  vobiz: readVobizMessage,
  exotel: readExotelMessage,
};

async function examples(): Promise<
  Array<{ provider: Provider; direction: 'in' | 'out'; json: unknown }>
> {
  const doc = await fs.readFile(path.join(ROOT, 'docs', 'providers.md'), 'utf8');
  return [...doc.matchAll(/```json (twilio|vobiz|exotel)-(in|out)\n([\s\S]*?)```/g)].map((m) => ({
    provider: m[1] as Provider,
    direction: m[2] as 'in' | 'out',
    json: JSON.parse(m[3]!),
  }));
}

describe('provider stream messages', () => {
  it('docs/provider-streams.schema.json is what the code generates', async () => {
    const committed = JSON.parse(
      await fs.readFile(path.join(ROOT, 'docs', 'provider-streams.schema.json'), 'utf8'),
    );
    expect(committed).toEqual(providerStreamsJsonSchema());
  });

  it('every example in docs/providers.md fits its schema and is read as what it is', async () => {
    const all = await examples();
    expect(all.length).toBeGreaterThanOrEqual(20);
    for (const { provider, direction, json } of all) {
      const parsed = PROVIDER_MESSAGES[provider][direction].safeParse(json);
      expect(parsed.success, `${provider}-${direction} ${JSON.stringify(json)}`).toBe(true);
      if (direction === 'out') continue;
      const event = READERS[provider](JSON.stringify(json));
      expect(event.event, JSON.stringify(json)).not.toBe('unusable');
    }
  });

  it('shows every message type of every provider', async () => {
    const all = await examples();
    for (const [provider, directions] of Object.entries(PROVIDER_MESSAGES)) {
      for (const [direction, schema] of Object.entries(directions)) {
        const options = schema.options as ReadonlyArray<{ shape: { event: { value: string } } }>;
        const types = options.map((o) => o.shape.event.value);
        const shown = all
          .filter((e) => e.provider === provider && e.direction === direction)
          .map((e) => (e.json as { event: string }).event);
        expect(new Set(shown), `${provider}-${direction}`).toEqual(new Set(types));
      }
    }
  });

  it('what telgate writes fits the out schemas', () => {
    for (const [provider, wire] of Object.entries(WIRES) as Array<[Provider, ProviderWire]>) {
      const out = PROVIDER_MESSAGES[provider].out;
      expect(out.safeParse(JSON.parse(wire.media('s1', Buffer.from([1, 2, 3])))).success).toBe(
        true,
      );
      expect(out.safeParse(JSON.parse(wire.clear('s1'))).success).toBe(true);
      expect(out.safeParse(JSON.parse(wire.mark('s1', 'm1'))).success).toBe(true);
    }
  });

  it('a message of another shape fails its schema', () => {
    const twilio = PROVIDER_MESSAGES.twilio.in;
    expect(twilio.safeParse({ event: 'media', streamSid: 'MZ', media: {} }).success).toBe(false);
    expect(
      twilio.safeParse({
        event: 'dtmf',
        sequenceNumber: '1',
        streamSid: 'MZ',
        dtmf: { track: 't', digit: '55' },
      }).success,
    ).toBe(false);
    expect(PROVIDER_MESSAGES.exotel.out.safeParse({ event: 'clear', streamSid: 's' }).success).toBe(
      false,
    );
  });
});
