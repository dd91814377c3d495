/**
 * Where provider calls run, whatever TEST_WORKERS says: in a call worker when there are
 * workers (its stream's socket on the main thread), on the main thread without; the same call
 * both ways (echo, DTMF, the agent's hang-up at Twilio's stand-in). A worker that dies ends its
 * provider calls at the provider and closes their streams.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dominantFrequency } from '../helpers/audio.js';
import { callsClosed } from '../helpers/gateway.js';
import { ProviderApiStandIn } from '../helpers/provider-api.js';
import { startProviderGateway, type ProviderGateway } from '../helpers/provider-gateway.js';
import { ACCOUNT_SID, AUTH_TOKEN, TwilioStream, twilioWebhook } from '../helpers/twilio-peer.js';

const api = new ProviderApiStandIn();
let apiBaseUrl: string;
let gw: ProviderGateway | undefined;
let calls = 0;
const nextCallSid = () => `CA${String(++calls).padStart(32, '7')}`;

async function start(workers: number, mediaPortMin: number): Promise<ProviderGateway> {
  gw = await startProviderGateway(
    mediaPortMin,
    { twilio: { accountSid: ACCOUNT_SID, authTokenEnv: 'TWILIO_TEST_TOKEN', apiBaseUrl } },
    { TWILIO_TEST_TOKEN: AUTH_TOKEN },
    (raw) => ((raw.media as Record<string, unknown>).workers = workers),
  );
  return gw;
}

async function twilioCall(gw: ProviderGateway, agent: string) {
  const callSid = nextCallSid();
  const answer = await twilioWebhook(gw.port, agent, callSid);
  expect(answer.status).toBe(200);
  const stream = await TwilioStream.open(gw.port, answer.streamUrl!);
  const answered = once(gw.tg.gateway.events, 'answered');
  stream.begin(callSid, answer.parameters);
  await answered;
  return { callSid, stream };
}

/** Echo and DTMF through the call, then the agent's hang-up reaching Twilio's API. */
async function echoThenHangUp(gw: ProviderGateway): Promise<void> {
  const { callSid, stream } = await twilioCall(gw, 'echo');
  stream.speak(1000);
  await stream.waitFor(() => stream.audio().length >= 8000, '1 s of echo');
  const audio = stream.audio();
  expect(
    Math.abs(dominantFrequency(audio.subarray(audio.length - 4000), 8000) - 1000),
  ).toBeLessThan(30);
  stream.dtmf('7');
  expect(await gw.agentGot((m) => m.type === 'dtmf')).toMatchObject({ digit: '7' });
  stream.stop(callSid);
  await callsClosed(gw.tg.gateway);
  expect(gw.outcomes.get(`twilio:${callSid}`)).toMatchObject({ ended: 'caller-hangup' });
  stream.close();

  const before = api.requests.length;
  const hangup = await twilioCall(gw, 'hangup');
  const closed = once(hangup.stream.ws, 'close');
  const request = await api.request(before + 1);
  expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${hangup.callSid}.json`);
  expect(request.form.get('Status')).toBe('completed');
  await closed;
  await callsClosed(gw.tg.gateway);
  expect(gw.outcomes.get(`twilio:${hangup.callSid}`)).toMatchObject({ ended: 'agent-hangup' });
}

beforeAll(async () => {
  apiBaseUrl = await api.listen();
});
afterEach(async () => {
  await gw?.tg.stop();
  gw = undefined;
});
afterAll(() => api.close());

describe('provider calls', () => {
  it('run in a call worker when there are workers', async () => {
    const gw = await start(2, 43700);
    const { callSid, stream } = await twilioCall(gw, 'echo');
    const perWorker = gw.tg.gateway.stats().workers!.map((w) => w.calls);
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(1);
    stream.stop(callSid);
    await callsClosed(gw.tg.gateway);
    stream.close();
    await echoThenHangUp(gw);
  });

  it('run on the main thread without workers', async () => {
    const gw = await start(1, 43720);
    expect(gw.tg.gateway.stats().workers).toBeUndefined();
    await echoThenHangUp(gw);
  });

  it('end at the provider, their stream closed, when their worker dies', async () => {
    const gw = await start(2, 43740);
    const before = api.requests.length;
    const { callSid, stream } = await twilioCall(gw, 'echo');
    const closed = once(stream.ws, 'close');
    const index = gw.tg.gateway.stats().workers!.findIndex((w) => w.calls === 1);
    await gw.tg.gateway.workerThreads[index].terminate();
    const request = await api.request(before + 1);
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${callSid}.json`);
    expect(request.form.get('Status')).toBe('completed');
    await closed;
    await callsClosed(gw.tg.gateway);
    expect(gw.outcomes.get(`twilio:${callSid}`)).toMatchObject({ ended: 'worker-failed' });
  });
});
