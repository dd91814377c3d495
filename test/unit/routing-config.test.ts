import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateConfig } from '../../src/routing/config-load.js';
import { dialedNumber } from '../../src/routing/number.js';
import { Router } from '../../src/routing/resolve.js';
import { tempDir } from '../helpers/temp-dirs.js';

const live = { id: 'flow-1', publishedVersion: 3 };
const base = {
  providers: { 'openai-realtime': { nativeFormat: 'slin24' } },
  trunks: [
    { id: 'carrier', inbound: { allow: ['192.0.2.0/24', '2001:db8::/32', '127.0.0.1'] } },
    { id: 'out', outbound: { host: 'sbc.example.com', passwordEnv: 'SBC_PASSWORD' } },
  ],
  baseNumbers: [
    { number: '+15550100', extensions: true, trunk: 'carrier' },
    { number: '+1555010', extensions: false },
    { number: '+15559990', trunk: 'out' },
  ],
  endpoints: [
    { id: 'sales', baseNumber: '+15550100', extension: '100', flow: live },
    { id: 'draft', baseNumber: '+15550100', extension: '200', flow: { id: 'flow-2' } },
    { id: 'main', baseNumber: '+1555010', flow: live, provider: 'openai-realtime' },
    { kind: 'web-voice', id: 'web', slug: 'support', allowedIps: ['198.51.100.7'], flow: live },
    { kind: 'web-chat', id: 'chat', slug: 'chat' },
  ],
};

const at = (requestUri: string, source = '192.0.2.10', headers: Record<string, string> = {}) => ({
  requestUri,
  to: `<${requestUri}>`,
  source,
  header: (name: string) => headers[name.toLowerCase()],
});

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('routing', () => {
  const router = new Router(validateConfig(base));

  it('takes the longest base number and the extension after it', () => {
    expect(router.resolve(at('sip:+15550100100@gw'))).toMatchObject({
      ok: true,
      endpoint: { id: 'sales' },
      extension: '100',
    });
    expect(router.resolve(at('sip:1555010@gw'))).toMatchObject({
      ok: true,
      endpoint: { id: 'main' },
    });
    expect(router.resolve(at('tel:+1-555-0100-100'))).toMatchObject({
      ok: true,
      endpoint: { id: 'sales' },
    });
  });

  it('separates a missing extension from an unknown number', () => {
    expect(router.resolve(at('sip:+15550100@gw'))).toMatchObject({
      ok: false,
      cause: 'extension-missing',
    });
    expect(router.resolve(at('sip:+15550100999@gw'))).toMatchObject({
      ok: false,
      cause: 'unknown-number',
    });
    expect(router.resolve(at('sip:alice@gw'))).toMatchObject({
      ok: false,
      cause: 'unknown-number',
    });
  });

  it('refuses an inactive endpoint, a source outside the trunk ACL and a web chat slug', () => {
    expect(router.resolve(at('sip:+15550100200@gw'))).toMatchObject({ cause: 'not-active' });
    expect(router.resolve(at('sip:+15550100100@gw', '203.0.113.5'))).toMatchObject({
      cause: 'source-not-allowed',
    });
    expect(router.resolve(at('sip:+15550100100@gw', '2001:db8::7'))).toMatchObject({ ok: true });
    expect(router.resolve(at('sip:chat@gw'))).toMatchObject({ cause: 'web-chat-only' });
  });

  it('reaches a web voice endpoint by slug, from its allowed addresses only', () => {
    expect(router.resolve(at('sip:support@gw', '198.51.100.7'))).toMatchObject({
      ok: true,
      endpoint: { id: 'web' },
    });
    expect(router.resolve(at('sip:support@gw', '198.51.100.8'))).toMatchObject({
      cause: 'source-not-allowed',
    });
  });

  it('takes the extension from ;ext=, a configured header, or the To URI', () => {
    const cfg = validateConfig({
      ...base,
      routing: { extensionHeader: 'X-Extension', countryCode: '1', nationalPrefix: '1' },
    });
    const r = new Router(cfg);
    expect(r.resolve(at('tel:+15550100;ext=100'))).toMatchObject({ endpoint: { id: 'sales' } });
    expect(r.resolve(at('sip:+15550100@gw', '192.0.2.1', { 'x-extension': '100' }))).toMatchObject({
      endpoint: { id: 'sales' },
    });
    // National format: the national prefix 1 is replaced by the country code 1.
    expect(r.resolve(at('sip:15550100100@gw'))).toMatchObject({ endpoint: { id: 'sales' } });
    const byTo = new Router(validateConfig({ ...base, routing: { numberFrom: 'to' } }));
    expect(
      byTo.resolve({ ...at('sip:gw@gw'), to: '"Sales" <sip:+15550100100@gw>;tag=x' }),
    ).toMatchObject({ endpoint: { id: 'sales' } });
  });

  it('normalises visual separators in the dialed user part', () => {
    expect(
      dialedNumber('sip:+1%20555%200100@x', { internationalPrefix: '00', nationalPrefix: '0' })
        .digits,
    ).toBe('15550100');
  });
});

/** A device config for alice, with `fields` over it. */
function device(fields: Record<string, unknown>) {
  return { id: 'alice-phone', username: 'alice', ha1: { MD5: 'a'.repeat(32) }, ...fields };
}

describe('config validation', () => {
  it('accepts the example and fills defaults', () => {
    const cfg = validateConfig(base);
    expect(cfg.sip.listen).toEqual({ host: '127.0.0.1', port: 5060 });
    expect(cfg.endpoints[0]).toMatchObject({
      kind: 'phone',
      codecs: ['PCMU', 'PCMA', 'G722', 'L16', 'opus'],
    });
  });

  it.each([
    [
      'a duplicate extension',
      {
        ...base,
        endpoints: [...base.endpoints, { id: 'dup', baseNumber: '+15550100', extension: '100' }],
      },
      /endpoints\.5\.extension: extension 100 of \+15550100 is already used/,
    ],
    [
      'a missing extension',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+15550100' }] },
      /endpoints\.0\.extension: base number \+15550100 has extensions: an extension code is required/,
    ],
    [
      'an unknown base number',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+4930123' }] },
      /endpoints\.0\.baseNumber: unknown base number \+4930123/,
    ],
    [
      'a bad E.164 number',
      { baseNumbers: [{ number: '0301234' }] },
      /baseNumbers\.0\.number: must be an E\.164 number/,
    ],
    [
      'an unknown egress base number',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+1555010', egressBaseNumber: '+4930' }] },
      /endpoints\.0\.egressBaseNumber: unknown egress base number \+4930 \(known: /,
    ],
    [
      'an egress base number without an outbound trunk',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+1555010', egressBaseNumber: '+15550100' }] },
      /egress base number \+15550100 has no trunk with an outbound side/,
    ],
    [
      'a bad CIDR',
      { trunks: [{ id: 't', inbound: { allow: ['10.0.0.0/33'] } }] },
      /trunks\.0\.inbound\.allow\.0: must be an IP address or CIDR block/,
    ],
    [
      'an unknown provider',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+1555010', provider: 'acme' }] },
      /endpoints\.0\.provider: unknown provider acme \(known: openai-realtime\)/,
    ],
    [
      'an unknown trunk',
      { baseNumbers: [{ number: '+15550100', trunk: 'nope' }] },
      /baseNumbers\.0\.trunk: unknown trunk nope \(none is configured\)/,
    ],
    [
      'a duplicate slug',
      {
        endpoints: [
          { kind: 'web-voice', id: 'a', slug: 'same' },
          { kind: 'web-chat', id: 'b', slug: 'same' },
        ],
      },
      /endpoints\.1\.slug: duplicate slug same/,
    ],
    [
      'a bad link format pin',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+1555010', audio: { linkFormat: 'mp3' } }] },
      /endpoints\.0\.audio\.linkFormat: Invalid option/,
    ],
    [
      'a 4-digit extension',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+15550100', extension: '1000' }] },
      /must be a 3-digit extension code/,
    ],
    ['an unknown field', { ...base, sip: { lisen: {} } }, /sip: Unrecognized key: "lisen"/],
    [
      'a device sending as a number that is not the team’s',
      { ...base, devices: [device({ sendAs: '+4930123' })] },
      /devices\.0\.sendAs: \+4930123 is not a base number \(known: /,
    ],
    [
      'a device whose handler endpoint is unknown',
      { ...base, devices: [device({ handler: { endpoint: 'nope' } })] },
      /devices\.0\.handler\.endpoint: unknown endpoint nope/,
    ],
    [
      'two devices with one username',
      { ...base, devices: [device({}), device({})] },
      /devices\.1\.username: duplicate device username alice/,
    ],
  ])('refuses %s with a message naming the path', (_n, raw, message) => {
    expect(problems(raw).join('\n')).toMatch(message);
  });

  it('names the file a problem comes from when loading a folder', async () => {
    const dir = await tempDir('telgate-cfg-');
    await fs.writeFile(
      path.join(dir, 'a.yaml'),
      'baseNumbers:\n  - number: "+15550100"\n    extensions: true\n',
    );
    await fs.writeFile(
      path.join(dir, 'b.yaml'),
      'endpoints:\n  - { id: x, baseNumber: "+15550100" }\n',
    );
    await expect(loadConfig(dir)).rejects.toThrow(/b\.yaml: endpoints\.0\.extension: base number/);
    await fs.writeFile(path.join(dir, 'b.yaml'), 'endpoints: [ {');
    await expect(loadConfig(dir)).rejects.toThrow(/b\.yaml: line 1:\d+: YAML:/);
  });

  it('loads the shipped example config', async () => {
    const cfg = await loadConfig(path.join(import.meta.dirname, '..', '..', 'config'));
    expect(cfg.localAgent.enabled).toBe(true);
    expect(cfg.endpoints.length).toBeGreaterThan(1);
  });
});
