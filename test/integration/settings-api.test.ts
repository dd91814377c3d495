/**
 * The settings API: telephony endpoints (CRUD, validation, the computed webhook URL) and
 * telephony settings (partial updates, secrets masked) kept across a restart in the settings
 * file, shared through a real redis-server between two instances, and in force for the
 * providers' calls (a limit and a token set over the API).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callsClosed } from '../helpers/gateway.js';
import {
  API_KEY,
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { ACCOUNT_SID, AUTH_TOKEN, TwilioStream, twilioWebhook } from '../helpers/twilio-peer.js';

const KEY = API_KEY;
const ENV = { TELGATE_API_KEYS: `other, ${KEY}`, TWILIO_TEST_TOKEN: AUTH_TOKEN };
const REDIS_PORT = 19500 + (process.pid % 100);
let settingsFile: string;
let gw: ProviderGateway;

const twilio = { accountSid: ACCOUNT_SID, authTokenEnv: 'TWILIO_TEST_TOKEN' };
const start = (port: number, extra: Record<string, unknown> = {}) =>
  startProviderGateway(port, { twilio, settingsFile, ...extra }, ENV);

const api = (port: number, method: string, url: string, body?: unknown, key = KEY) =>
  settingsApi(port, method, url, body, key);

beforeAll(async () => {
  settingsFile = path.join(await tempDir(), 'telephony-settings.json');
  gw = await start(43520);
});

afterAll(async () => {
  await gw?.tg.stop();
});

const endpoint = {
  phone_number: '+15557650001',
  provider: 'twilio',
  inbound_agent_name: 'echo',
  outbound_agent_name: 'hangup',
  label: 'support line',
};

describe('telephony endpoints', () => {
  it('go round trip: create, list, update, delete', async () => {
    const created = await api(gw.port, 'POST', '/api/settings/endpoints', endpoint);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      ...endpoint,
      is_active: true,
      inbound_webhook_url: 'https://tg.example.test/telephony/twilio/inbound/echo',
    });
    expect(created.body!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(String(created.body!.created_at))).toBeGreaterThan(Date.now() - 60_000);
    const id = created.body!.id as string;

    expect((await api(gw.port, 'GET', '/api/settings/endpoints')).body).toEqual([created.body]);
    const updated = await api(gw.port, 'PUT', `/api/settings/endpoints/${id}`, {
      is_active: false,
      inbound_agent_name: 'barge',
      label: 'paused',
    });
    expect(updated.body).toMatchObject({
      is_active: false,
      label: 'paused',
      inbound_webhook_url: 'https://tg.example.test/telephony/twilio/inbound/barge',
    });
    expect((await api(gw.port, 'DELETE', `/api/settings/endpoints/${id}`)).status).toBe(204);
    expect((await api(gw.port, 'DELETE', `/api/settings/endpoints/${id}`)).status).toBe(404);
    expect((await api(gw.port, 'GET', '/api/settings/endpoints')).body).toEqual([]);
  });

  it('refuse bad input with the field and the reason', async () => {
    const bad = async (body: unknown, status: number, field: string, reason: RegExp) => {
      const r = await api(gw.port, 'POST', '/api/settings/endpoints', body);
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject({ field });
      expect(r.body!.error).toMatch(reason);
    };
    await bad({ ...endpoint, phone_number: '5557650001' }, 400, 'phone_number', /E\.164/);
    await bad(
      { ...endpoint, inbound_agent_name: 'nobody' },
      400,
      'inbound_agent_name',
      /unknown agent nobody/,
    );
    await bad({ ...endpoint, provider: 'skype' }, 400, 'provider', /./);
    await bad({ ...endpoint, colour: 'red' }, 400, 'colour', /unknown field/);
    await bad({ ...endpoint, label: undefined, phone_number: undefined }, 400, 'phone_number', /./);
    expect((await api(gw.port, 'POST', '/api/settings/endpoints', endpoint)).status).toBe(201);
    await bad(endpoint, 409, 'phone_number', /already has a twilio endpoint/);
    const id = (await api(gw.port, 'GET', '/api/settings/endpoints')).body![0].id as string;
    const r = await api(gw.port, 'PUT', `/api/settings/endpoints/${id}`, { is_active: 'yes' });
    expect(r).toMatchObject({ status: 400, body: { field: 'is_active' } });
  });

  it('need one of the API keys', async () => {
    expect((await api(gw.port, 'GET', '/api/settings/endpoints', undefined, 'wrong')).status).toBe(
      401,
    );
    expect((await api(gw.port, 'GET', '/api/settings/endpoints', undefined, 'other')).status).toBe(
      200,
    );
  });
});

describe('telephony settings', () => {
  it('take partial updates, mask secrets, and are in force for calls', async () => {
    const before = await api(gw.port, 'GET', '/api/settings/telephony');
    expect(before.body).toMatchObject({
      provider: 'twilio',
      public_base_url: 'https://tg.example.test',
      twilio_account_sid: ACCOUNT_SID,
      twilio_auth_token: '********',
      vobiz_auth_token: null,
    });
    const put = await api(gw.port, 'PUT', '/api/settings/telephony', {
      twilio_auth_token: 'rotated-token',
      twilio_max_concurrent: 1,
      twilio_phone_number: '+15557650002',
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ twilio_auth_token: '********', twilio_max_concurrent: 1 });
    expect(JSON.stringify(put.body)).not.toContain('rotated-token');
    const refused = await api(gw.port, 'PUT', '/api/settings/telephony', {
      twilio_max_concurrent: -1,
    });
    expect(refused).toMatchObject({ status: 400, body: { field: 'twilio_max_concurrent' } });

    // The token set over the API signs Twilio's requests now; the file's no longer does.
    expect((await twilioWebhook(gw.port, 'echo', 'CA' + '1'.repeat(32))).status).toBe(403);
    const callSid = 'CA' + '2'.repeat(32);
    const answer = await twilioWebhook(gw.port, 'echo', callSid, { token: 'rotated-token' });
    expect(answer.status).toBe(200);
    const stream = await TwilioStream.open(gw.port, answer.streamUrl!, 'rotated-token');
    stream.begin(callSid, answer.parameters);
    await new Promise<void>((resolve) => gw.tg.gateway.events.once('answered', () => resolve()));
    // max_concurrent 1 over the API: the next call is refused.
    const busy = await twilioWebhook(gw.port, 'echo', 'CA' + '3'.repeat(32), {
      token: 'rotated-token',
    });
    expect(busy.body).toContain('<Reject reason="busy"/>');
    stream.stop(callSid);
    await callsClosed(gw.tg.gateway);
    await stream.close();
  });

  it('are kept across a restart, with the endpoints (the settings file)', async () => {
    const endpoints = (await api(gw.port, 'GET', '/api/settings/endpoints')).body;
    await gw.tg.stop();
    gw = await start(43540);
    expect((await api(gw.port, 'GET', '/api/settings/endpoints')).body).toEqual(endpoints);
    expect((await api(gw.port, 'GET', '/api/settings/telephony')).body).toMatchObject({
      twilio_max_concurrent: 1,
      twilio_phone_number: '+15557650002',
    });
  });
});

describe('with Redis', () => {
  let redis: TestRedis;
  const instances: ProviderGateway[] = [];
  beforeAll(async () => {
    redis = await startRedis(REDIS_PORT);
  });
  afterAll(async () => {
    for (const i of instances) await i.tg.stop();
    await redis?.close();
  });

  it('every instance sees what one was given', async () => {
    for (const port of [43560, 43580]) {
      instances.push(
        await startProviderGateway(port, { twilio, settingsFile }, ENV, (raw) => {
          raw.state = { redis: { url: redis.url, keyPrefix: 'settings-test:' } };
        }),
      );
    }
    const [a, b] = instances;
    const created = await api(a.port, 'POST', '/api/settings/endpoints', {
      ...endpoint,
      phone_number: '+15557650009',
    });
    expect(created.status).toBe(201);
    expect((await api(b.port, 'GET', '/api/settings/endpoints')).body).toEqual([created.body]);
    await api(b.port, 'PUT', '/api/settings/telephony', { twilio_phone_number: '+15557650010' });
    expect(await redis.client.get('settings-test:telephony:settings')).toContain('+15557650010');
    expect(await redis.client.hlen('settings-test:telephony:endpoints')).toBe(1);
  });

  it('max_concurrent holds across the instances', async () => {
    const [a, b] = instances;
    await settingsApi(b.port, 'PUT', '/api/settings/telephony', { twilio_max_concurrent: 1 });
    const callSid = 'CA' + '4'.repeat(32);
    const answer = await twilioWebhook(a.port, 'echo', callSid);
    expect(answer.status).toBe(200);
    const stream = await TwilioStream.open(a.port, answer.streamUrl!);
    stream.begin(callSid, answer.parameters);
    await new Promise<void>((resolve) => a.tg.gateway.events.once('answered', () => resolve()));
    const busy = await twilioWebhook(b.port, 'echo', 'CA' + '5'.repeat(32));
    expect(busy.body).toContain('<Reject reason="busy"/>');
    stream.stop(callSid);
    await callsClosed(a.tg.gateway);
    await stream.close();
    // The slot is back: the next call is taken.
    expect((await twilioWebhook(b.port, 'echo', 'CA' + '6'.repeat(32))).body).toContain('<Stream');
  });
});
