/**
 * Kamailio as the real proxy in front of telgate: the cluster's config, docker/kamailio/kamailio.cfg
 * (record-route, dispatcher round robin, OPTIONS probing), on its own port and scratch folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, signal, startProcess, waitForOutput, type Running } from './processes.js';
import { workDir } from './sipp.js';

const CONFIG = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docker',
  'kamailio',
  'kamailio.cfg',
);

export type LogMark = { stdout: number; stderr: number };

export interface Kamailio {
  port: number;
  dir: string;
  /** Waits until Kamailio's log (stderr) matches `pattern`, in what it logged after `mark`. */
  waitForLog(pattern: RegExp, timeoutMs: number, mark?: LogMark): Promise<void>;
  /** Where its log is now, for waitForLog. */
  mark(): LogMark;
  /** The dispatcher's destinations and their flags (`AP` active, `IP` inactive, probing). */
  destinations(): Promise<Array<{ uri: string; flags: string }>>;
  stop(): Promise<void>;
}

/** Starts Kamailio on `port` dispatching INVITEs to `destinations` (SIP URIs), killed after `timeoutMs`. */
export async function startKamailio(
  port: number,
  destinations: string[],
  timeoutMs = 120_000,
): Promise<Kamailio> {
  const dir = await workDir();
  const config = (await fs.readFile(CONFIG, 'utf8'))
    .replaceAll('@RUNDIR@', dir)
    .replaceAll('@LISTEN@', '127.0.0.1')
    .replaceAll('@PORT@', String(port));
  await fs.writeFile(path.join(dir, 'kamailio.cfg'), config);
  await fs.writeFile(
    path.join(dir, 'dispatcher.list'),
    destinations.map((d) => `1 ${d} 0 0\n`).join(''),
  );
  const running = startProcess(
    'kamailio',
    [
      '-f',
      path.join(dir, 'kamailio.cfg'),
      '-DD',
      '-E',
      '-Y',
      dir,
      '-P',
      path.join(dir, 'pid'),
      '-m',
      '64',
      '-M',
      '8',
    ],
    { cwd: dir, timeoutMs, group: true },
  );
  await untilReady(dir, running);
  return {
    port,
    dir,
    waitForLog: (pattern, timeoutMs, mark) => waitForOutput(running, pattern, timeoutMs, mark),
    destinations: async () => {
      const r = await runProcess('kamcmd', ['-s', `unix:${dir}/kamailio_ctl`, 'dispatcher.list'], {
        timeoutMs: 5000,
      });
      if (r.code !== 0) throw new Error(`kamcmd dispatcher.list failed: ${r.stdout}${r.stderr}`);
      return [...r.stdout.matchAll(/URI: (\S+)\s+FLAGS: (\S+)/g)].map((m) => ({
        uri: m[1]!,
        flags: m[2]!,
      }));
    },
    mark: () => {
      const { stdout, stderr } = running.output();
      return { stdout: stdout.length, stderr: stderr.length };
    },
    stop: async () => {
      signal(running.child, 'SIGTERM');
      await running.done;
    },
  };
}

/** Kamailio is ready when its control socket answers (bounded). */
async function untilReady(dir: string, running: Running): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (running.child.exitCode !== null) break;
    const r = await runProcess('kamcmd', ['-s', `unix:${dir}/kamailio_ctl`, 'core.uptime'], {
      timeoutMs: 2000,
    });
    if (r.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`kamailio did not start: ${JSON.stringify(running.output())}`);
}
