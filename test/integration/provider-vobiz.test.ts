/**
 * Vobiz numbers through telgate: the answer_url webhook (V3 signature), the `<Stream>` answer,
 * the bidirectional stream reaching the embedded local agent, a dropped stream coming back for
 * the same call, and the REST hang-up against a stand-in for Vobiz's API (Vobiz cannot be
 * reached from here; the stream client speaks Vobiz's documented messages).
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../helpers/audio.js';
import { callsClosed } from '../helpers/gateway.js';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { ProviderApiStandIn } from '../helpers/provider-api.js';
import { callEventSchema, type CallEvent } from '../../src/state/call-events.js';
import {
  VOBIZ_AUTH_ID,
  VOBIZ_TOKEN,
  vobizSign,
  VobizStream,
  vobizWebhook,
} from '../helpers/vobiz-peer.js';

let gw: ProviderGateway;
const api = new ProviderApiStandIn();
let calls = 0;
const nextUuid = () => `00000000-0000-4000-8000-${String(++calls).padStart(12, '0')}`;

beforeAll(async () => {
  const apiBaseUrl = await api.listen();
  gw = await startProviderGateway(
    43440,
    { vobiz: { authId: VOBIZ_AUTH_ID, authTokenEnv: 'VOBIZ_TEST_TOKEN', apiBaseUrl } },
    { VOBIZ_TEST_TOKEN: VOBIZ_TOKEN },
  );
});

afterAll(async () => {
  await gw?.tg.stop();
  await api.close();
});

async function vobizCall(agent: string) {
  const callId = nextUuid();
  const answer = await vobizWebhook(gw.port, agent, callId);
  expect(answer.status).toBe(200);
  const stream = await VobizStream.open(gw.port, answer.streamUrl!);
  const answered = once(gw.tg.gateway.events, 'answered');
  stream.begin(callId);
  await answered;
  return { callId, stream, streamUrl: answer.streamUrl! };
}

describe('a Vobiz call', () => {
  it('answers with a bidirectional µ-law Stream and echoes the caller as playAudio', async () => {
    const callId = nextUuid();
    const answer = await vobizWebhook(gw.port, 'echo', callId);
    expect(answer.body).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?><Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio\/x-mulaw;rate=8000">wss:\/\/tg\.example\.test\/telephony\/vobiz\/stream\/[\w-]+<\/Stream><\/Response>$/,
    );
    const stream = await VobizStream.open(gw.port, answer.streamUrl!);
    stream.begin(callId);
    stream.speak(1000);
    await stream.waitFor(() => stream.audio().length >= 8000, '1 s of echo');
    const played = stream.received.filter((m) => m.event === 'playAudio');
    expect(played.every((m) => m.streamId === stream.streamId)).toBe(true);
    expect(played[0].media).toMatchObject({ contentType: 'audio/x-mulaw', sampleRate: 8000 });
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 4000), 8000) - 1000),
    ).toBeLessThan(30);

    // The stream drops; Vobiz reconnects on the same URL with a new streamId: the call goes on.
    await stream.close();
    const again = await VobizStream.open(gw.port, answer.streamUrl!);
    again.begin(callId);
    again.speak(600);
    await again.waitFor(() => again.audio().length >= 8000 * 0.6, 'echo after the reconnect');
    const replayed = again.received.filter((m) => m.event === 'playAudio');
    expect(replayed.every((m) => m.streamId === again.streamId)).toBe(true);
    expect(gw.outcomes.has(`vobiz:${callId}`)).toBe(false);

    // No stop in Vobiz's protocol: the socket closes and no reconnect comes.
    await again.close();
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`vobiz:${callId}`)).toMatchObject({ ended: 'caller-hangup' });
    expect(api.requests).toHaveLength(0);
  });

  it('a stream that comes back gets the agent only after its own start, under its streamId', async () => {
    const { callId, stream, streamUrl } = await vobizCall('tone');
    await stream.waitFor(() => stream.audio().length >= 1600, 'the tone');
    await stream.close();
    const again = await VobizStream.open(gw.port, streamUrl);
    // The tone goes on at 50 frames a second: any frame sent before this socket's start would
    // land within the window (there is no event for a frame not sent).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.received).toEqual([]);
    again.begin(callId);
    await again.waitFor(() => again.audio().length >= 1600, 'the tone after the reconnect');
    const played = again.received.filter((m) => m.event === 'playAudio');
    expect(played.every((m) => m.streamId === again.streamId)).toBe(true);
    await again.close();
    await callsClosed(gw.tg.gateway);
  });

  it('hangs up through the REST API when the agent hangs up', async () => {
    const { callId, stream } = await vobizCall('hangup');
    const closed = once(stream.ws, 'close');
    const request = await api.request(1);
    expect(request.method).toBe('DELETE');
    expect(request.path).toBe(`/api/v1/Account/${VOBIZ_AUTH_ID}/Call/${callId}/`);
    expect(request.headers['x-auth-id']).toBe(VOBIZ_AUTH_ID);
    expect(request.headers['x-auth-token']).toBe(VOBIZ_TOKEN);
    await closed;
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`vobiz:${callId}`)).toMatchObject({ ended: 'agent-hangup' });
  });

  it('refuses a bad signature, a stream for another call and a second live stream', async () => {
    expect((await vobizWebhook(gw.port, 'echo', nextUuid(), { token: 'wrong' })).status).toBe(403);
    const callId = nextUuid();
    const answer = await vobizWebhook(gw.port, 'echo', callId);
    const other = await VobizStream.open(gw.port, answer.streamUrl!);
    const closing = once(other.ws, 'close');
    other.begin(nextUuid());
    expect((await closing)[0]).toBe(1008);
    await expect(VobizStream.open(gw.port, answer.streamUrl!)).rejects.toThrow(/403/);

    const live = await vobizCall('echo');
    await expect(VobizStream.open(gw.port, live.streamUrl)).rejects.toThrow(/409/);
    await live.stream.close();
    await callsClosed(gw.tg.gateway);
  });
});

describe('a call placed through Vobiz (POST /api/calls)', () => {
  it('asks Vobiz to call with an answer_url that streams to the outbound agent', async () => {
    await settingsApi(gw.port, 'POST', '/api/settings/endpoints', {
      phone_number: '+918012345678',
      provider: 'vobiz',
      inbound_agent_name: 'hangup',
      outbound_agent_name: 'echo',
    });
    const before = api.requests.length;
    const placed = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+919812345678',
      endpoint: '+918012345678',
    });
    expect(placed).toMatchObject({ status: 201, body: { provider: 'vobiz', call_id: null } });
    const request = await api.request(before + 1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/api/v1/Account/${VOBIZ_AUTH_ID}/Call/`);
    expect(request.headers['x-auth-id']).toBe(VOBIZ_AUTH_ID);
    expect(request.headers['x-auth-token']).toBe(VOBIZ_TOKEN);
    const body = JSON.parse(request.text) as Record<string, string>;
    expect(body).toMatchObject({
      from: '918012345678',
      to: '919812345678',
      answer_method: 'POST',
      hangup_url: expect.stringMatching(
        /^https:\/\/tg\.example\.test\/telephony\/vobiz\/status\/[\w-]+$/,
      ),
    });
    expect(body.answer_url).toMatch(
      /^https:\/\/tg\.example\.test\/telephony\/vobiz\/outbound\/[\w-]+$/,
    );

    // The callee answers: Vobiz fetches the answer_url (signed), then opens the stream.
    const callId = nextUuid();
    const answerPath = new URL(body.answer_url).pathname;
    const nonce = 'outbound-nonce';
    const res = await fetch(`http://127.0.0.1:${gw.port}${answerPath}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-vobiz-signature-v3': vobizSign(body.answer_url, nonce),
        'x-vobiz-signature-v3-nonce': nonce,
      },
      body: new URLSearchParams({
        CallUUID: callId,
        From: '918012345678',
        To: '919812345678',
      }).toString(),
    });
    const xml = await res.text();
    const streamUrl = />(wss:\/\/[^<]+)<\/Stream>/.exec(xml)![1];
    const stream = await VobizStream.open(gw.port, streamUrl);
    const answered = once(gw.tg.gateway.events, 'answered');
    stream.begin(callId);
    await answered;
    stream.speak(700);
    await stream.waitFor(() => stream.audio().length >= 8000, '1 s of echo');
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 4000), 8000) - 700),
    ).toBeLessThan(30);
    await stream.close();
    await callsClosed(gw.tg.gateway);

    // Vobiz reports the end on the hangup_url, signed: a call event with its cause.
    const events: CallEvent[] = [];
    gw.tg.gateway.store.onEvent = (e) => events.push(e);
    const hangup = (signature: string) =>
      fetch(`http://127.0.0.1:${gw.port}${new URL(body.hangup_url).pathname}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-vobiz-signature-v3': signature,
          'x-vobiz-signature-v3-nonce': nonce,
        },
        body: new URLSearchParams({
          CallUUID: callId,
          CallStatus: 'completed',
          HangupCause: 'NORMAL_CLEARING',
        }).toString(),
      });
    expect((await hangup('forged')).status).toBe(403);
    expect((await hangup(vobizSign(body.hangup_url, nonce))).status).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'provider-status',
        callId: `vobiz:${callId}`,
        status: 'completed',
        detail: 'NORMAL_CLEARING',
      }),
    ]);
    callEventSchema.parse(events[0]);
  });
});
