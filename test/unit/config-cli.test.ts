/** The config CLI and the JSON Schema, run as the real command on real folders. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/routing/config-json-schema.js';
import { tempDir } from '../helpers/temp-dirs.js';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '..', '..');
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'cli.ts'), ...args], {
    cwd: root,
    env: { ...process.env, SBC_PASSWORD: 'hunter2' },
  }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );

describe('telgate config', () => {
  it('check: the shipped example is valid', async () => {
    const r = await cli('config', 'check', 'config');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/config: valid \(1 base numbers, 7 endpoints\)/);
  });

  it('check: prints every problem as file: path: message and exits 1', async () => {
    const dir = await tempDir('telgate-cli-');
    await fs.writeFile(
      path.join(dir, 'numbers.yaml'),
      'baseNumbers:\n  - { number: "+15550100", extensions: true }\n  - { number: "0301234" }\n',
    );
    await fs.writeFile(
      path.join(dir, 'endpoints.yaml'),
      'endpoints:\n  - { id: a, baseNumber: "+15550100" }\n  - { id: b, baseNumber: "+15550100", extension: "100", provider: acme }\n',
    );
    const r = await cli('config', 'check', dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `${path.join(dir, 'numbers.yaml')}: baseNumbers.1.number: must be an E.164 number`,
    );
    expect(r.out).toContain(
      `${path.join(dir, 'endpoints.yaml')}: endpoints.0.extension: base number +15550100 has extensions`,
    );
    expect(r.out).toContain('endpoints.1.provider: unknown provider acme (none is configured)');
    expect(r.out).toMatch(/3 problem\(s\)/);
  });

  it('print: the resolved config with secrets shown as set or not, never their values', async () => {
    const dir = await tempDir('telgate-cli-');
    await fs.writeFile(
      path.join(dir, 'a.yaml'),
      'telapi: { url: "https://user:pw@telapi.example.com" }\nstate: { redis: { url: "redis://default:redispw@redis.example.com:6379" } }\ntrunks:\n  - id: out\n    outbound: { host: sbc.example.com, username: gw, passwordEnv: SBC_PASSWORD }\n',
    );
    const r = await cli('config', 'print', dir);
    expect(r.code).toBe(0);
    expect(r.out).toContain('passwordEnv: SBC_PASSWORD (set)');
    expect(r.out).toContain('url: https://***@telapi.example.com');
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toContain('pw@');
    expect(r.out).toContain('url: redis://default:***@redis.example.com:6379');
    expect(r.out).toContain('capStatus: 503'); // defaults are filled in
  });

  it('docs/config.schema.json is what the schema generates (npm run schema)', async () => {
    const committed = JSON.parse(
      await fs.readFile(path.join(root, 'docs', 'config.schema.json'), 'utf8'),
    );
    expect(committed).toEqual(configJsonSchema());
  });
});

describe('docs/config.md', () => {
  it('its multi-file example is a valid config', async () => {
    const text = await fs.readFile(path.join(root, 'docs', 'config.md'), 'utf8');
    const block = text.slice(text.lastIndexOf('```yaml') + 7, text.lastIndexOf('```'));
    const dir = await tempDir('telgate-doc-');
    const parts = block.split(/^# (\S+)\n/m);
    for (let i = 1; i < parts.length; i += 2) {
      await fs.writeFile(path.join(dir, parts[i]), parts[i + 1]);
    }
    const r = await cli('config', 'check', dir);
    expect(r.out).toMatch(/valid \(2 base numbers, 2 endpoints\)/);
  });
});
