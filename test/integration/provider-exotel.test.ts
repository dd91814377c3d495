/**
 * Exotel numbers through telgate: the Voicebot applet's URL (Basic credentials) answered with
 * the stream URL as JSON, and the stream (16-bit PCM at 16 kHz, snake_case events) reaching the
 * embedded local agent; the agent's hang-up closes the stream, which ends the applet. Exotel
 * cannot be reached from here: the client speaks its documented messages.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../helpers/audio.js';
import { callsClosed } from '../helpers/gateway.js';
import { ProviderApiStandIn } from '../helpers/provider-api.js';
import { callEventSchema, type CallEvent } from '../../src/state/call-events.js';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { EXOTEL_KEY, EXOTEL_TOKEN, ExotelStream, exotelWebhook } from '../helpers/exotel-peer.js';

let gw: ProviderGateway;
const api = new ProviderApiStandIn(() => ({
  Call: { Sid: 'exo-placed-1', Status: 'in-progress' },
}));
let calls = 0;
const nextSid = () => `exo${String(++calls).padStart(8, '0')}`;

beforeAll(async () => {
  const apiBase = await api.listen();
  gw = await startProviderGateway(
    43480,
    {
      exotel: {
        accountSid: 'exotel-account',
        apiKey: EXOTEL_KEY,
        apiTokenEnv: 'EXOTEL_TEST_TOKEN',
        sampleRate: 16000,
        apiBase,
      },
    },
    { EXOTEL_TEST_TOKEN: EXOTEL_TOKEN },
  );
});

afterAll(async () => {
  await gw?.tg.stop();
  await api.close();
});

describe('an Exotel call', () => {
  it('answers the applet with the stream URL, echoes 16 kHz PCM in 320-byte multiples, takes DTMF', async () => {
    const callSid = nextSid();
    const answer = await exotelWebhook(gw.port, 'echo', callSid);
    expect(answer.status).toBe(200);
    expect(answer.url).toMatch(
      /^wss:\/\/tg\.example\.test\/telephony\/exotel\/stream\/[\w-]+\?sample-rate=16000$/,
    );
    const stream = await ExotelStream.open(gw.port, answer.url!);
    const answered = once(gw.tg.gateway.events, 'answered');
    stream.begin(callSid);
    await answered;
    stream.speak(1000);
    await stream.waitFor(() => stream.audio().length >= 16000, '1 s of echo');
    const media = stream.received.filter((m) => m.event === 'media');
    expect(media.every((m) => m.stream_sid === stream.streamSid)).toBe(true);
    for (const m of media) expect(Buffer.from(m.media!.payload, 'base64').length % 320).toBe(0);
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 8000), 16000) - 1000),
    ).toBeLessThan(30);

    stream.dtmf('7');
    expect(await gw.agentGot((m) => m.type === 'dtmf')).toMatchObject({ digit: '7' });

    stream.silence();
    stream.ws.send(
      JSON.stringify({
        event: 'stop',
        stream_sid: stream.streamSid,
        stop: { call_sid: callSid, reason: 'callended' },
      }),
    );
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`exotel:${callSid}`)).toMatchObject({ ended: 'caller-hangup' });
    await stream.close();
  });

  it('ends the applet the agent hung up by closing the stream', async () => {
    const callSid = nextSid();
    const answer = await exotelWebhook(gw.port, 'hangup', callSid);
    const stream = await ExotelStream.open(gw.port, answer.url!);
    const closed = once(stream.ws, 'close');
    stream.begin(callSid);
    const [code] = await closed;
    expect(code).toBe(1000);
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`exotel:${callSid}`)).toMatchObject({ ended: 'agent-hangup' });
  });

  it('refuses the applet without the account credentials', async () => {
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), `${EXOTEL_KEY}:wrong`)).status).toBe(
      401,
    );
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), 'x:y')).status).toBe(401);
  });

  it("takes the applet with its endpoint's own id and webhook secret, shown once", async () => {
    const created = await settingsApi(gw.port, 'POST', '/api/settings/endpoints', {
      phone_number: '+918012340777',
      provider: 'exotel',
      inbound_agent_name: 'echo',
      outbound_agent_name: 'echo',
    });
    expect(created.status).toBe(201);
    const id = created.body!.id as string;
    const secret = created.body!.webhook_secret as string;
    expect(secret).toMatch(/^[\w-]{32}$/);
    // Never shown again, nor its hash.
    const listed = await settingsApi(gw.port, 'GET', '/api/settings/endpoints');
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify(listed.body)).not.toContain('webhook_secret');

    const answered = await exotelWebhook(gw.port, 'echo', nextSid(), `${id}:${secret}`);
    expect(answered.status).toBe(200);
    expect(answered.url).toMatch(/\/telephony\/exotel\/stream\/[\w-]+\?sample-rate=16000$/);
    // Not a wrong secret, not for another agent than the endpoint's.
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), `${id}:x${secret}`)).status).toBe(401);
    expect((await exotelWebhook(gw.port, 'hangup', nextSid(), `${id}:${secret}`)).status).toBe(401);
    // A rotated secret replaces the old one.
    const rotated = await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, {
      rotate_webhook_secret: true,
    });
    const fresh = rotated.body!.webhook_secret as string;
    expect(fresh).not.toBe(secret);
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), `${id}:${secret}`)).status).toBe(401);
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), `${id}:${fresh}`)).status).toBe(200);
    // Not while the endpoint is inactive.
    await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: false });
    expect((await exotelWebhook(gw.port, 'echo', nextSid(), `${id}:${fresh}`)).status).toBe(401);
    await settingsApi(gw.port, 'DELETE', `/api/settings/endpoints/${id}`);
  });
});

describe('a call placed through Exotel (POST /api/calls)', () => {
  it('asks Exotel to connect the number to a bidirectional stream of the outbound agent', async () => {
    await settingsApi(gw.port, 'POST', '/api/settings/endpoints', {
      phone_number: '+918012340000',
      provider: 'exotel',
      inbound_agent_name: 'hangup',
      outbound_agent_name: 'echo',
    });
    const placed = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+919812340000',
      endpoint: '+918012340000',
    });
    expect(placed).toMatchObject({
      status: 201,
      body: { provider: 'exotel', call_id: 'exo-placed-1' },
    });
    const request = await api.request(1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/Accounts/exotel-account/Calls/connect.json');
    expect(request.auth).toBe(
      `Basic ${Buffer.from(`${EXOTEL_KEY}:${EXOTEL_TOKEN}`).toString('base64')}`,
    );
    expect(request.form.get('From')).toBe('+919812340000');
    expect(request.form.get('CallerId')).toBe('+918012340000');
    expect(request.form.get('StreamType')).toBe('bidirectional');
    expect(request.form.get('StatusCallback')).toEqual(
      expect.stringMatching(/^https:\/\/tg\.example\.test\/telephony\/exotel\/status\/[\w-]+$/),
    );
    const streamUrl = request.form.get('StreamUrl')!;
    expect(streamUrl).toMatch(
      /^wss:\/\/tg\.example\.test\/telephony\/exotel\/stream\/[\w-]+\?sample-rate=16000$/,
    );

    const stream = await ExotelStream.open(gw.port, streamUrl);
    const answered = once(gw.tg.gateway.events, 'answered');
    stream.begin('exo-placed-1');
    await answered;
    stream.speak(900);
    await stream.waitFor(() => stream.audio().length >= 16000, '1 s of echo');
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 8000), 16000) - 900),
    ).toBeLessThan(30);
    await stream.close();
    await callsClosed(gw.tg.gateway);

    // Exotel's status callback carries no signature nor credentials: its URL, good for this
    // placed call alone, is the check.
    const events: CallEvent[] = [];
    gw.tg.gateway.store.onEvent = (e) => events.push(e);
    const statusPath = new URL(request.form.get('StatusCallback')!).pathname;
    const report = (path: string) =>
      fetch(`http://127.0.0.1:${gw.port}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ CallSid: 'exo-placed-1', Status: 'completed' }).toString(),
      });
    expect((await report(`${statusPath}x`)).status).toBe(404);
    expect((await report(statusPath)).status).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'provider-status',
        callId: 'exotel:exo-placed-1',
        status: 'completed',
        providerStatus: 'completed',
      }),
    ]);
    callEventSchema.parse(events[0]);
  });
});
