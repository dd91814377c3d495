/**
 * Loads every *.yaml / *.yml file of a config folder (in name order), merges them (lists are
 * concatenated, sections merged) and validates the result. Problems name the file, the path
 * inside it and what is wrong.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type TelgateConfig } from './config-schema.js';

export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.file}: ${p.path || '(root)'}: ${p.message}`).join('\n'));
  }
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `next` into `into`, remembering which file each top-level list item came from. */
function merge(into: Plain, next: Plain, file: string, origins: Map<string, string>): void {
  for (const [key, value] of Object.entries(next)) {
    const current = into[key];
    if (Array.isArray(current) && Array.isArray(value)) {
      value.forEach((_v, i) => origins.set(`${key}.${current.length + i}`, file));
      into[key] = [...current, ...value];
    } else if (isPlain(current) && isPlain(value)) {
      into[key] = { ...current, ...value };
      origins.set(key, file);
    } else {
      if (Array.isArray(value)) value.forEach((_v, i) => origins.set(`${key}.${i}`, file));
      into[key] = value;
      origins.set(key, file);
    }
  }
}

export async function loadConfig(dir: string): Promise<TelgateConfig> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    throw new ConfigError([
      { file: dir, path: '', message: `cannot read config folder: ${(err as Error).message}` },
    ]);
  }
  if (!names.length)
    throw new ConfigError([
      { file: dir, path: '', message: 'no *.yaml files in the config folder' },
    ]);
  const merged: Plain = {};
  const origins = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const doc = YAML.parseDocument(await fs.readFile(file, 'utf8'));
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const at = e.linePos?.[0];
        const where = at ? `line ${at.line}:${at.col}` : '';
        problems.push({ file, path: where, message: `YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    const value: unknown = doc.toJS() ?? {};
    if (!isPlain(value)) {
      problems.push({ file, path: '', message: 'the file must hold a mapping of sections' });
      continue;
    }
    merge(merged, value, file, origins);
  }
  if (problems.length) throw new ConfigError(problems);
  return validateConfig(
    merged,
    (p) => origins.get(p.slice(0, 2).join('.')) ?? origins.get(String(p[0])) ?? dir,
  );
}

/** Validates an already-parsed config; `fileOf` names the file a problem's path came from. */
export function validateConfig(
  value: unknown,
  fileOf: (path: PropertyKey[]) => string = () => '(config)',
): TelgateConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      file: fileOf(issue.path),
      path: issue.path.map(String).join('.'),
      message: issue.message,
    })),
  );
}
