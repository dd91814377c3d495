/**
 * Twilio numbers through telgate: the voice webhook (signed), the TwiML answer, the Media
 * Stream Twilio opens (signed, with the call's one-time token) reaching the embedded local
 * agent, and the REST hang-up, against a stand-in for Twilio's API (Twilio cannot be reached
 * from here; the stream client speaks Twilio's documented messages).
 */
import { once } from 'node:events';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../helpers/audio.js';
import { callsClosed } from '../helpers/gateway.js';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { ACCOUNT_SID, AUTH_TOKEN, TwilioStream, twilioWebhook } from '../helpers/twilio-peer.js';
import { ProviderApiStandIn } from '../helpers/provider-api.js';
import { callEventSchema, type CallEvent } from '../../src/state/call-events.js';

let gw: ProviderGateway;
const PLACED_SID = `CA${'f'.repeat(32)}`;
const api = new ProviderApiStandIn((method, path) =>
  path.endsWith('/Calls.json') ? { sid: PLACED_SID, status: 'queued' } : { sid: 'CA0' },
);
let calls = 0;
const nextCallSid = () => `CA${String(++calls).padStart(32, '0')}`;

beforeAll(async () => {
  const apiBaseUrl = await api.listen();
  gw = await startProviderGateway(
    43400,
    {
      twilio: {
        accountSid: ACCOUNT_SID,
        authTokenEnv: 'TWILIO_TEST_TOKEN',
        apiBaseUrl,
        maxConcurrent: 3,
      },
    },
    { TWILIO_TEST_TOKEN: AUTH_TOKEN },
    (raw) => {
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours.barge = {
        kind: 'echo',
        steps: [
          { atMs: 0, do: 'play', frequency: 500, ms: 300 },
          { atMs: 0, do: 'mark', name: 'short' },
          { atMs: 0, do: 'play', frequency: 500, ms: 5000 },
          { atMs: 0, do: 'mark', name: 'long' },
          { atMs: 1500, do: 'clear' },
        ],
      };
    },
  );
});

afterAll(async () => {
  await gw?.tg.stop();
  await api.close();
});

/** A status callback to `url` (public), signed as Twilio signs it unless `signature` says. */
function postStatus(url: string, params: Record<string, string>, signature?: string) {
  return fetch(`http://127.0.0.1:${gw.port}${new URL(url).pathname}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signature ?? twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
}

/** A Twilio call to `agent`: webhook, then its stream opened and started. */
async function twilioCall(agent: string) {
  const callSid = nextCallSid();
  const answer = await twilioWebhook(gw.port, agent, callSid);
  expect(answer.status).toBe(200);
  expect(answer.streamUrl).toMatch(
    /^wss:\/\/tg\.example\.test\/telephony\/twilio\/stream\/[\w-]+$/,
  );
  const stream = await TwilioStream.open(gw.port, answer.streamUrl!);
  const answered = once(gw.tg.gateway.events, 'answered');
  stream.begin(callSid, answer.parameters);
  await answered;
  return { callSid, stream, streamUrl: answer.streamUrl! };
}

describe('a Twilio call', () => {
  it('answers the webhook with a Connect Stream and echoes the caller in µ-law 20 ms chunks', async () => {
    const { callSid, stream } = await twilioCall('echo');
    // In the live-call registry like a SIP call, under the provider's id.
    expect(await gw.tg.gateway.listCalls()).toContainEqual(
      expect.objectContaining({
        callId: `twilio:${callSid}`,
        endpointId: 'echo',
        caller: '+4915112345678',
        state: 'answered',
      }),
    );
    stream.speak(1000);
    await stream.waitFor(() => stream.audio().length >= 8000 * 1.5, '1.5 s of echo');
    const media = stream.received.filter((m) => m.event === 'media');
    expect(media.every((m) => m.streamSid === stream.streamSid)).toBe(true);
    expect(media.every((m) => Buffer.from(m.media!.payload, 'base64').length === 160)).toBe(true);
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 4000), 8000) - 1000),
    ).toBeLessThan(30);

    stream.dtmf('5');
    expect(await gw.agentGot((m) => m.type === 'dtmf')).toMatchObject({ digit: '5' });

    // The caller hangs up: Twilio's stop; telgate asks nothing of Twilio's API.
    stream.stop(callSid);
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`twilio:${callSid}`)).toMatchObject({ ended: 'caller-hangup' });
    expect(api.requests).toHaveLength(0);
    expect(await gw.tg.gateway.listCalls()).toEqual([]);
    stream.close();
  });

  it('passes marks to Twilio, played when it echoes them; a clear empties the queue here and at Twilio', async () => {
    gw.agentHeard.length = 0;
    const { callSid, stream } = await twilioCall('barge');
    // The long tone's mark was still queued here at the clear: cleared (after playback.cleared).
    await gw.agentGot((m) => m.type === 'mark' && m.name === 'long');
    // The short tone's mark went to Twilio behind its audio and came back: played.
    expect(stream.received).toContainEqual(
      expect.objectContaining({ event: 'mark', mark: { name: 'short' } }),
    );
    expect(gw.agentHeard).toContainEqual(
      expect.objectContaining({ type: 'mark', name: 'short', status: 'played' }),
    );
    expect(gw.agentHeard).toContainEqual(
      expect.objectContaining({ type: 'mark', name: 'long', status: 'cleared' }),
    );
    await stream.waitFor(() => stream.received.find((m) => m.event === 'clear'), 'clear');
    // After the clear nothing more of the 5 s tone reaches the caller.
    const atClear = stream.received.length;
    await new Promise((r) => setTimeout(r, 300)); // audio would keep coming every 20 ms
    expect(stream.received.slice(atClear).filter((m) => m.event === 'media').length).toBeLessThan(
      3,
    );
    stream.stop(callSid);
    await callsClosed(gw.tg.gateway);
    await stream.close();
  });

  it('reports a mark Twilio still held at a clear as cleared, not played', async () => {
    gw.agentHeard.length = 0;
    const callSid = nextCallSid();
    const answer = await twilioWebhook(gw.port, 'barge', callSid);
    const stream = await TwilioStream.open(gw.port, answer.streamUrl!);
    stream.echoMarks = false; // Twilio has not played it out yet
    stream.begin(callSid, answer.parameters);
    await gw.agentGot((m) => m.type === 'mark' && m.name === 'long');
    expect(stream.received).toContainEqual(
      expect.objectContaining({ event: 'mark', mark: { name: 'short' } }),
    );
    const marks = gw.agentHeard.filter((m) => m.type === 'mark');
    expect(marks).toEqual([
      expect.objectContaining({ name: 'short', status: 'cleared' }),
      expect.objectContaining({ name: 'long', status: 'cleared' }),
    ]);
    stream.stop(callSid);
    await callsClosed(gw.tg.gateway);
    await stream.close();
  });

  it('hangs up through the REST API when the agent hangs up, and closes the stream', async () => {
    const before = api.requests.length;
    const { callSid, stream } = await twilioCall('hangup');
    const closed = once(stream.ws, 'close');
    const request = await api.request(before + 1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`);
    expect(request.form.get('Status')).toBe('completed');
    expect(request.auth).toBe(
      `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
    );
    await closed;
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`twilio:${callSid}`)).toMatchObject({ ended: 'agent-hangup' });
  });
});

describe('what telgate refuses', () => {
  it('a webhook with a wrong signature, a tampered one, or for an unknown agent', async () => {
    expect((await twilioWebhook(gw.port, 'echo', nextCallSid(), { token: 'wrong' })).status).toBe(
      403,
    );
    expect((await twilioWebhook(gw.port, 'echo', nextCallSid(), { tamper: true })).status).toBe(
      403,
    );
    expect((await twilioWebhook(gw.port, 'nobody', nextCallSid())).status).toBe(404);
  });

  it('a stream with a token for another call, a second live stream, a spent token, a bad signature', async () => {
    const callSid = nextCallSid();
    const answer = await twilioWebhook(gw.port, 'echo', callSid);
    // Signed with the wrong token: refused before the upgrade.
    await expect(TwilioStream.open(gw.port, answer.streamUrl!, 'wrong')).rejects.toThrow(/403/);
    // Started for another call: closed with a policy violation.
    const other = await TwilioStream.open(gw.port, answer.streamUrl!);
    const closing = once(other.ws, 'close');
    other.begin(nextCallSid(), answer.parameters);
    const [code] = await closing;
    expect(code).toBe(1008);
    // That stream spent the token: it opens nothing more.
    await expect(TwilioStream.open(gw.port, answer.streamUrl!)).rejects.toThrow(/403/);

    const live = await twilioCall('echo');
    await expect(TwilioStream.open(gw.port, live.streamUrl)).rejects.toThrow(/409/);
    live.stream.stop(live.callSid);
    await callsClosed(gw.tg.gateway);
    live.stream.close();
    await expect(TwilioStream.open(gw.port, live.streamUrl)).rejects.toThrow(/403/);
  });

  it('a call over max_concurrent, answered with a busy Reject', async () => {
    const held = [await twilioCall('echo'), await twilioCall('echo'), await twilioCall('echo')];
    const refused = await twilioWebhook(gw.port, 'echo', nextCallSid());
    expect(refused.body).toContain('<Reject reason="busy"/>');
    for (const call of held) call.stream.stop(call.callSid);
    await callsClosed(gw.tg.gateway);
    for (const call of held) call.stream.close();
  });

  it('takes no inbound call for its number while its endpoint is not active', async () => {
    const created = await settingsApi(gw.port, 'POST', '/api/settings/endpoints', {
      phone_number: '+15550100999', // the To of the test webhooks
      provider: 'twilio',
      inbound_agent_name: 'echo',
      outbound_agent_name: 'echo',
    });
    const id = created.body!.id as string;
    await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: false });
    expect((await twilioWebhook(gw.port, 'echo', nextCallSid())).body).toContain(
      '<Reject reason="busy"/>',
    );
    await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: true });
    // Active again: taken (and hung up, so its place under max_concurrent is free again).
    const call = await twilioCall('echo');
    call.stream.stop(call.callSid);
    await callsClosed(gw.tg.gateway);
    await call.stream.close();
  });
});

describe('a call placed through Twilio (POST /api/calls)', () => {
  it('asks Twilio to call with inline TwiML streaming to the outbound agent', async () => {
    const endpoint = await settingsApi(gw.port, 'POST', '/api/settings/endpoints', {
      phone_number: '+15557650100',
      provider: 'twilio',
      inbound_agent_name: 'hangup',
      outbound_agent_name: 'echo',
      label: 'outbound',
    });
    expect(endpoint.status).toBe(201);
    const before = api.requests.length;
    const placed = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+4915112345678',
      endpoint: '+15557650100',
      metadata: { ticket: 42 },
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      call_id: PLACED_SID,
      provider: 'twilio',
      from: '+15557650100',
      to: '+4915112345678',
      agent: 'echo',
      status: 'queued',
      metadata: { ticket: 42 },
    });
    const request = await api.request(before + 1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls.json`);
    expect(request.auth).toBe(
      `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`,
    );
    expect(request.form.get('To')).toBe('+4915112345678');
    expect(request.form.get('From')).toBe('+15557650100');
    const statusUrl = request.form.get('StatusCallback')!;
    expect(statusUrl).toMatch(/^https:\/\/tg\.example\.test\/telephony\/twilio\/status\/[\w-]+$/);
    expect(request.form.getAll('StatusCallbackEvent')).toEqual([
      'initiated',
      'ringing',
      'answered',
      'completed',
    ]);
    const twiml = request.form.get('Twiml')!;
    const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)![1];
    expect(streamUrl).toMatch(/^wss:\/\/tg\.example\.test\/telephony\/twilio\/stream\/[\w-]+$/);

    const events: CallEvent[] = [];
    gw.tg.gateway.store.onEvent = (e) => events.push(e);
    // Twilio connects the answered call's stream: the outbound agent echoes the callee.
    const stream = await TwilioStream.open(gw.port, streamUrl);
    const answered = once(gw.tg.gateway.events, 'answered');
    stream.begin(PLACED_SID, { agent: 'echo' });
    await answered;
    stream.speak(800);
    await stream.waitFor(() => stream.audio().length >= 8000, '1 s of echo');
    const audio = stream.audio();
    expect(
      Math.abs(dominantFrequency(audio.subarray(audio.length - 4000), 8000) - 800),
    ).toBeLessThan(30);

    // Its status callbacks are Twilio's webhooks: signed, or refused; reported as call events.
    const status = { CallSid: PLACED_SID, CallStatus: 'in-progress', AccountSid: ACCOUNT_SID };
    expect((await postStatus(statusUrl, status)).status).toBe(200);
    expect((await postStatus(statusUrl, status, 'forged')).status).toBe(403);
    expect((await postStatus(`${statusUrl}x`, status)).status).toBe(404);
    const reported = events.filter((e) => e.type === 'provider-status');
    expect(reported).toEqual([
      expect.objectContaining({
        callId: `twilio:${PLACED_SID}`,
        endpointId: 'echo',
        provider: 'twilio',
        status: 'answered',
        providerStatus: 'in-progress',
      }),
    ]);
    // One trace for the placed call: its status reports and its stream's call events.
    const started = events.find((e) => e.type === 'started' && e.callId === reported[0].callId);
    expect(started?.traceId).toBe(reported[0].traceId);
    for (const event of reported) callEventSchema.parse(event);

    stream.stop(PLACED_SID);
    await callsClosed(gw.tg.gateway);
    await stream.close();
  });

  it('refuses an unknown or inactive endpoint, and a call over max_concurrent', async () => {
    const unknown = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+4915112345678',
      endpoint: '+15550000000',
    });
    expect(unknown).toMatchObject({ status: 404, body: { field: 'endpoint' } });
    const list = await settingsApi(gw.port, 'GET', '/api/settings/endpoints');
    const id = list.body![0].id as string;
    await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: false });
    const inactive = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+4915112345678',
      endpoint: id,
    });
    expect(inactive).toMatchObject({ status: 409, body: { field: 'endpoint' } });
    await settingsApi(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: true });
    // Three placed calls whose streams never came count against max_concurrent (3).
    for (let i = 0; i < 3; i++) {
      expect(
        (await settingsApi(gw.port, 'POST', '/api/calls', { to: '+4915112345678', endpoint: id }))
          .status,
      ).toBe(201);
    }
    const over = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+4915112345678',
      endpoint: id,
    });
    expect(over.status).toBe(503);
    expect(over.body!.error).toMatch(/max_concurrent 3/);
    // One of them was not answered: Twilio says so, and its place is free again.
    const statusUrl = api.requests.at(-1)!.form.get('StatusCallback')!;
    const noAnswer = { CallSid: PLACED_SID, CallStatus: 'no-answer', AccountSid: ACCOUNT_SID };
    expect((await postStatus(statusUrl, noAnswer)).status).toBe(200);
    const again = await settingsApi(gw.port, 'POST', '/api/calls', {
      to: '+4915112345678',
      endpoint: id,
    });
    expect(again.status).toBe(201);
    // A final status ends the placed call's reports: a late one is for no call.
    expect((await postStatus(statusUrl, noAnswer)).status).toBe(404);
  });
});
