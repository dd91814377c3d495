/**
 * SIP devices over the settings API: made with a password that is turned into its HA1 and
 * never shown, refused with the field at fault, and served by the registrar at once (a client
 * written in the tests registers with the password, a changed password replaces the old one, a
 * deleted device no longer registers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  settingsApi,
  startProviderGateway,
  type ProviderGateway,
} from '../helpers/provider-gateway.js';
import { RegisterClient } from '../helpers/sip-register.js';

let gw: ProviderGateway;
let phone: RegisterClient;

beforeAll(async () => {
  gw = await startProviderGateway(43860, {}, {});
  phone = await RegisterClient.open('127.0.0.1', { host: '127.0.0.1', port: gw.tg.sipPort });
});
afterAll(async () => {
  phone?.close();
  await gw?.tg.stop();
});

const api = (method: string, url: string, body?: unknown) =>
  settingsApi(gw.port, method, url, body);
const contact = () => `<sip:phone@127.0.0.1:${phone.port}>`;

describe('devices over the settings API', () => {
  it('refuses what it cannot take, naming the field', async () => {
    expect(
      await api('POST', '/api/settings/devices', { username: 'x', password: 'short' }),
    ).toMatchObject({
      status: 400,
      body: { field: 'password' },
    });
    expect(
      await api('POST', '/api/settings/devices', {
        username: 'x',
        password: 'long enough',
        handler_endpoint: 'nowhere',
      }),
    ).toMatchObject({ status: 400, body: { field: 'handler_endpoint' } });
    expect(
      await api('POST', '/api/settings/devices', {
        username: 'x',
        password: 'long enough',
        pin: 1,
      }),
    ).toMatchObject({ status: 400, body: { field: 'pin' } });
    expect(
      await api('POST', '/api/settings/devices', {
        username: 'x',
        password: 'long enough',
        send_as: '+4930123456',
      }),
    ).toMatchObject({ status: 400, body: { field: 'send_as' } });
  });

  it('makes a device the registrar serves at once; never shows its secret', async () => {
    const made = await api('POST', '/api/settings/devices', {
      username: 'erin',
      password: 'correct horse',
      handler_endpoint: 'echo',
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({
      username: 'erin',
      algorithms: ['MD5'],
      handler_endpoint: 'echo',
      transfer_target: false,
      encryption: 'optional',
    });
    const listed = JSON.stringify((await api('GET', '/api/settings/devices')).body);
    expect(listed).toContain('erin');
    expect(listed).not.toMatch(/ha1|correct horse|password/);
    expect(
      (await api('POST', '/api/settings/devices', { username: 'erin', password: 'another one' }))
        .status,
    ).toBe(409);
    await api('POST', '/api/settings/devices', { username: 'frank', password: 'frank frank' });

    expect((await phone.registerWithAuth('erin', 'correct horse', [contact()])).reply.status).toBe(
      200,
    );
    expect((await phone.registerWithAuth('erin', 'wrong horse', [contact()])).reply.status).toBe(
      403,
    );

    // A new password replaces the old one.
    const id = made.body!.id as string;
    expect(
      (await api('PUT', `/api/settings/devices/${id}`, { password: 'battery staple' })).status,
    ).toBe(200);
    expect((await phone.registerWithAuth('erin', 'correct horse', [contact()])).reply.status).toBe(
      403,
    );
    expect((await phone.registerWithAuth('erin', 'battery staple', [contact()])).reply.status).toBe(
      200,
    );

    // Deleted: it no longer registers.
    expect((await api('DELETE', `/api/settings/devices/${id}`)).status).toBe(204);
    expect((await phone.registerWithAuth('erin', 'battery staple', [contact()])).reply.status).toBe(
      403,
    );
    expect((await api('DELETE', `/api/settings/devices/${id}`)).status).toBe(404);
  });
});
