/** Runs the built telgate (dist/main.js) as a child process for a benchmark, until stopped. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Starts telgate on `configDir`; resolves once it listens, with a function that stops it. */
export async function startTelgate(
  configDir: string,
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; cpu?: number } = {},
): Promise<(() => Promise<void>) & { pid: number }> {
  const node = [
    process.execPath,
    ...(options.nodeArgs ?? []),
    path.join(here, '..', 'dist', 'main.js'),
    configDir,
  ];
  // taskset execs node in its place: the child's PID is telgate's own.
  const command =
    options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node];
  const child = spawn(command[0], command.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('SIP on ')) resolve(); // either engine's first line
    });
    child.once('exit', () => reject(new Error(`telgate exited: ${err}`)));
  });
  const stop = async () => {
    child.kill('SIGINT'); // at once: SIGTERM would drain
    await new Promise((r) => child.once('exit', r));
  };
  return Object.assign(stop, { pid: child.pid! });
}

/** A process's CPU time so far (user + system), in seconds (Linux /proc; 0 where there is none). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100 || 0; // utime, stime in clock ticks
}
