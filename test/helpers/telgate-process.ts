/**
 * telgate as its own process (`node --import tsx src/main.ts DIR`), as an operator runs it:
 * for what only a process shows (SIGTERM's drain, SIGKILL, a rolling restart). Its config is
 * written to a scratch folder; its pino lines are kept for assertions.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { signal, startProcess, waitForOutput, type Running } from './processes.js';
import { workDir } from './sipp.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TelgateProcess {
  running: Running;
  sipPort: number;
  opsUrl: string;
  /** GET on the ops server: status and parsed JSON (or text for /metrics). */
  ops(pathname: string): Promise<{ status: number; body: string }>;
  signal(name: NodeJS.Signals): void;
  /** Resolves with the exit code once the process is gone. */
  exited(): Promise<number | null>;
  logs(): string;
}

export async function startTelgateProcess(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 300_000,
): Promise<TelgateProcess> {
  const dir = await workDir();
  await fs.writeFile(path.join(dir, 'telgate.yaml'), YAML.stringify(config));
  const running = startProcess(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'src', 'main.ts'), dir],
    { cwd: ROOT, timeoutMs, env: { ...process.env, LOG_LEVEL: 'info', ...env } },
  );
  await waitForOutput(running, /ops HTTP .* on http:\/\/[\d.]+:\d+/, 20_000);
  const banner = running.output().stderr;
  const sipPort = Number(/listening for SIP on \S+:(\d+)/.exec(banner)?.[1]);
  const opsUrl = /ops HTTP .* on (http:\/\/[\d.]+:\d+)/.exec(banner)![1]!;
  return {
    running,
    sipPort,
    opsUrl,
    ops: async (pathname) => {
      const response = await fetch(opsUrl + pathname);
      return { status: response.status, body: await response.text() };
    },
    signal: (name) => signal(running.child, name),
    exited: async () => (await running.done).code,
    logs: () => running.output().stdout,
  };
}
