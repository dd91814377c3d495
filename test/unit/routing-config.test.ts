import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateConfig } from '../../src/routing/config-load.js';
import { dialedDigits, Router } from '../../src/routing/resolve.js';

const base = {
  baseNumbers: [
    { number: '+15550100', extensions: true },
    { number: '+1555010', extensions: false },
  ],
  endpoints: [
    { id: 'sales', baseNumber: '+15550100', extension: '100' },
    { id: 'main', baseNumber: '+1555010' },
  ],
};

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
    expect(router.resolve('sip:+15550100100@gw')).toMatchObject({
      ok: true,
      endpoint: { id: 'sales' },
      extension: '100',
    });
    expect(router.resolve('sip:1555010@gw')).toMatchObject({ ok: true, endpoint: { id: 'main' } });
    expect(router.resolve('tel:+1-555-0100-100')).toMatchObject({
      ok: true,
      endpoint: { id: 'sales' },
    });
  });

  it('separates a missing extension from an unknown number', () => {
    expect(router.resolve('sip:+15550100@gw')).toMatchObject({
      ok: false,
      cause: 'extension-missing',
    });
    expect(router.resolve('sip:+15550100999@gw')).toMatchObject({
      ok: false,
      cause: 'unknown-number',
    });
    expect(router.resolve('sip:alice@gw')).toMatchObject({ ok: false, cause: 'unknown-number' });
  });

  it('normalises visual separators in the dialed user part', () => {
    expect(dialedDigits('sip:+1%20555%200100@x')).toBe('15550100');
  });
});

describe('config validation', () => {
  it('accepts the example and fills defaults', () => {
    const cfg = validateConfig(base);
    expect(cfg.sip.listen).toEqual({ host: '127.0.0.1', port: 5060 });
    expect(cfg.endpoints[0].codecs).toEqual(['PCMU', 'PCMA']);
  });

  it.each([
    [
      'a duplicate extension',
      {
        ...base,
        endpoints: [...base.endpoints, { id: 'dup', baseNumber: '+15550100', extension: '100' }],
      },
      /endpoints\.2\.extension: extension 100 of \+15550100 is already used/,
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
      'a 4-digit extension',
      { ...base, endpoints: [{ id: 'x', baseNumber: '+15550100', extension: '1000' }] },
      /must be a 3-digit extension code/,
    ],
    ['an unknown field', { ...base, sip: { lisen: {} } }, /sip: Unrecognized key: "lisen"/],
  ])('refuses %s with a message naming the path', (_n, raw, message) => {
    expect(problems(raw).join('\n')).toMatch(message);
  });

  it('names the file a problem comes from when loading a folder', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-cfg-'));
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
