/**
 * Child processes for tests (sipp, baresip, dumpcap): bounded in time, collected output,
 * and killed by PID when a test ends, whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
/** Children that serve a whole test file (a drachtio-server): killed after the file, not each test. */
const fileScoped = new Set<ChildProcess>();
/** Children started as process-group leaders: killed with their whole group (Kamailio forks). */
const groups = new Set<ChildProcess>();

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  output(): { stdout: string; stderr: string };
}

export function startProcess(
  command: string,
  args: string[],
  options: {
    cwd?: string;
    timeoutMs: number;
    group?: boolean;
    env?: NodeJS.ProcessEnv;
    /** Outlives each test; killed when the file's tests are done (test/setup.ts). */
    forFile?: boolean;
  },
): Running {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  (options.forFile ? fileScoped : live).add(child);
  if (options.group) groups.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => signal(child, 'SIGKILL'), options.timeoutMs);
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      live.delete(child);
      fileScoped.delete(child);
      groups.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    child.on('error', (err) => {
      stderr += String(err);
    });
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

export function runProcess(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<Finished> {
  return startProcess(command, args, options).done;
}

/**
 * Waits until the process prints `pattern` on stdout or stderr (or fails when it exits first);
 * with `since` (an earlier output()'s lengths), only what it printed after that counts.
 */
export function waitForOutput(
  running: Running,
  pattern: RegExp,
  timeoutMs: number,
  since: { stdout: number; stderr: number } = { stdout: 0, stderr: 0 },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const { stdout, stderr } = running.output();
      if (pattern.test(stdout.slice(since.stdout)) || pattern.test(stderr.slice(since.stderr))) {
        cleanup();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}: ${JSON.stringify(running.output())}`));
    }, timeoutMs);
    const onExit = () => {
      cleanup();
      reject(
        new Error(`process exited before printing ${pattern}: ${JSON.stringify(running.output())}`),
      );
    };
    const cleanup = () => {
      clearTimeout(timer);
      running.child.stdout?.off('data', check);
      running.child.stderr?.off('data', check);
      running.child.off('close', onExit);
    };
    running.child.stdout?.on('data', check);
    running.child.stderr?.on('data', check);
    running.child.once('close', onExit);
    check();
  });
}

/** Kills every child a test started and has not seen exit. */
export async function killAll(): Promise<void> {
  await killEach(live);
}

/** Kills what served the whole file, after its tests. */
export async function killFileScoped(): Promise<void> {
  await killEach(fileScoped);
}

async function killEach(children: Set<ChildProcess>): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of children) {
    waits.push(new Promise((r) => child.once('close', r)));
    signal(child, 'SIGKILL');
  }
  await Promise.all(waits);
}

/** Signals a child, or its whole process group when it leads one. */
export function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (groups.has(child) && child.pid) {
    try {
      process.kill(-child.pid, name);
    } catch {
      // the group is already gone
    }
  } else child.kill(name);
}
