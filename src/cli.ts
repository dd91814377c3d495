#!/usr/bin/env node
/**
 * The telgate command.
 *   telgate [run] [DIR]            start the gateway on the config folder DIR (default config/)
 *   telgate config check [DIR]     validate; print every problem as FILE: PATH: MESSAGE; exit 1
 *   telgate config print [DIR]     the resolved config (defaults filled) as YAML, secrets masked
 *   telgate config schema          the JSON Schema of the config files
 *   telgate calls [--json] [DIR]   the cluster's live calls (Redis, or this host's ops server)
 *   telgate events schema          the JSON Schema of the call events
 *   telgate providers schema       the JSON Schema of the providers' stream messages
 *   telgate device ha1 USER [--realm R]  a device's digest HA1s, the password read from stdin
 * Arguments are parsed with node:util parseArgs.
 */
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { ConfigError, loadConfig } from './routing/config-load.js';
import { configJsonSchema } from './routing/config-json-schema.js';
import { formatCalls, listLiveCalls } from './ops/cli-calls.js';
import { callEventsJsonSchema } from './state/call-events.js';
import { providerStreamsJsonSchema } from './call/provider-messages.js';
import { redacted } from './state/store-redis.js';
import { ha1Of } from './sip/digest-server.js';
import type { TelgateConfig } from './routing/config-schema.js';

const USAGE = `usage:
  telgate [run] [DIR]
  telgate config check [DIR]
  telgate config print [DIR]
  telgate config schema
  telgate calls [--json] [DIR]
  telgate events schema
  telgate providers schema
  telgate device ha1 USER [--realm R]   (password on stdin)`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      realm: { type: 'string', default: 'telgate' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const [command, sub, dirArg] = positionals;
  if (command === 'config') {
    const dir = dirArg ?? process.env.TELGATE_CONFIG ?? 'config';
    if (sub === 'check') return check(dir);
    if (sub === 'print') return print(dir);
    if (sub === 'schema') {
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
      return 0;
    }
    process.stderr.write(`telgate: unknown config command ${sub ?? '(none)'}\n${USAGE}\n`);
    return 2;
  }
  if (command === 'events' && sub === 'schema') {
    process.stdout.write(JSON.stringify(callEventsJsonSchema(), null, 2) + '\n');
    return 0;
  }
  if (command === 'providers' && sub === 'schema') {
    process.stdout.write(JSON.stringify(providerStreamsJsonSchema(), null, 2) + '\n');
    return 0;
  }
  if (command === 'device' && sub === 'ha1' && dirArg) {
    return printHa1(dirArg, values.realm ?? 'telgate');
  }
  if (command === 'calls') {
    const { source, calls } = await listLiveCalls(
      sub ?? process.env.TELGATE_CONFIG ?? 'config',
      process.env,
    );
    if (values.json) process.stdout.write(JSON.stringify(calls, null, 2) + '\n');
    else {
      process.stdout.write(`${calls.length} live call(s) from ${source}\n`);
      if (calls.length) process.stdout.write(formatCalls(calls) + '\n');
    }
    return 0;
  }
  const dir = command === 'run' ? sub : command;
  process.argv.splice(2, process.argv.length - 2, ...(dir ? [dir] : []));
  await import('./main.js');
  return -1; // the gateway runs until a signal stops it
}

/**
 * A device's `ha1` for the config: the password comes on stdin (never the command line, which
 * shell histories and process lists keep), one line.
 */
async function printHa1(username: string, realm: string): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!password) {
    process.stderr.write('telgate: give the password on stdin\n');
    return 2;
  }
  const ha1 = {
    MD5: ha1Of('MD5', username, realm, password),
    'SHA-256': ha1Of('SHA-256', username, realm, password),
  };
  process.stdout.write(YAML.stringify({ username, ha1 }));
  return 0;
}

async function check(dir: string): Promise<number> {
  try {
    const config = await loadConfig(dir);
    const endpoints = config.endpoints.length;
    process.stdout.write(
      `${dir}: valid (${config.baseNumbers.length} base numbers, ${endpoints} endpoints)\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) {
      process.stdout.write(`${p.file}: ${p.path || '(top)'}: ${p.message}\n`);
    }
    process.stdout.write(`${err.problems.length} problem(s)\n`);
    return 1;
  }
}

async function print(dir: string): Promise<number> {
  try {
    process.stdout.write(YAML.stringify(masked(await loadConfig(dir))));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.message + '\n');
    return 1;
  }
}

/**
 * Secrets live in the environment; the config names them. Print each name with whether it is
 * set, never its value, and hide credentials inside URLs.
 */
function masked(config: TelgateConfig): unknown {
  const envState = (name: string) => `${name} (${process.env[name] ? 'set' : 'NOT SET'})`;
  return {
    ...config,
    telapi: {
      ...config.telapi,
      url: config.telapi.url?.replace(/\/\/[^@/]*@/, '//***@'),
      apiKeyEnv: envState(config.telapi.apiKeyEnv),
    },
    state: {
      ...config.state,
      redis: {
        ...config.state.redis,
        url: config.state.redis.url && redacted(config.state.redis.url),
      },
    },
    ops: {
      ...config.ops,
      tokenEnv: config.ops.tokenEnv && envState(config.ops.tokenEnv),
    },
    trunks: config.trunks.map((t) =>
      t.outbound?.passwordEnv
        ? { ...t, outbound: { ...t.outbound, passwordEnv: envState(t.outbound.passwordEnv) } }
        : t,
    ),
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`telgate: ${err.message}\n`);
    process.exitCode = 1;
  },
);
