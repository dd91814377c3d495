/**
 * Calls per second of the SIP stack, against sipp's own UAS as the reference, in one run.
 *
 * For each case (404 at once; answer then BYE, no media) and transport (UDP, TCP), sipp's UAC
 * offers a ladder of rates for 10 s each (-r RATE -m 10·RATE). A step passes when every call
 * succeeds (no failed call, no unexpected message) at ≥ 95 % of the offered rate, in one of
 * two tries (the machine is shared); the table gives, per UAS, the highest passing
 * step and the rate achieved there (successful calls / wall time of the sipp run).
 * Usage: npm run bench:cps (CPS_CASES=reject|answer, CPS_TRANSPORTS=u1|t1, CPS_UAS=telgate|sipp
 * and CPS_RATES=3000,4000 narrow a run)
 */
import { spawn } from 'node:child_process';
import { runCommand } from './run-command.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const scenarios = path.join(here, '..', 'test', 'scenarios');
const PORT = 5290;
const SECONDS = 10;

type Case = 'reject' | 'answer';
type Transport = 'u1' | 't1';
const LADDER: Record<Case, number[]> = {
  reject: [2000, 3000, 4000, 5000],
  answer: [1000, 2000, 3000, 4000],
};

/** Starts a UAS (telgate's engine or sipp's) and resolves when it listens; returns its stop. */
async function startUas(kind: 'telgate' | 'sipp', c: Case, t: Transport, dir: string) {
  const args =
    kind === 'telgate'
      ? ['--import', 'tsx', path.join(here, 'sip-uas.ts'), String(PORT), c]
      : [
          ...(c === 'reject' ? ['-sf', path.join(dir, 'uas_404.xml')] : ['-sn', 'uas']),
          '-i',
          '127.0.0.1',
          '-p',
          String(PORT),
          '-t',
          t,
          '-nostdin',
          '-max_socket',
          '5000',
          '-bg',
        ];
  if (kind === 'sipp') {
    const r = await runCommand('sipp', args, 10_000, dir); // -bg prints the PID and returns
    const pid = Number(/PID=\[(\d+)\]/.exec(r.out)?.[1]);
    await new Promise((res) => setTimeout(res, 300)); // sipp has no readiness signal
    return async () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  return async () => {
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
  };
}

async function step(c: Case, t: Transport, rate: number, dir: string) {
  const calls = rate * SECONDS;
  const uac = c === 'reject' ? ['-sf', path.join(dir, 'uac_404.xml')] : ['-sn', 'uac'];
  const r = await runCommand(
    'sipp',
    [
      ...uac,
      '-s',
      '15550100999',
      `127.0.0.1:${PORT}`,
      '-i',
      '127.0.0.1',
      '-p',
      '5291',
      '-t',
      t,
      '-r',
      String(rate),
      '-m',
      String(calls),
      '-l',
      String(rate * 3),
      '-nostdin',
      '-timeout',
      String(SECONDS * 4),
      '-timeout_error',
      '-max_socket',
      '5000',
    ],
    (SECONDS * 4 + 10) * 1000,
    dir,
  );
  const successful = Number(/Successful call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(r.out)?.[1] ?? 0);
  const failed = Number(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(r.out)?.[1] ?? 0);
  const seconds = r.seconds; // wall time of the sipp run, start to last call
  // A step also fails when the calls could not be offered at its rate (either side saturated).
  const achieved = successful / seconds;
  const ok = r.code === 0 && failed === 0 && successful === calls && achieved >= 0.95 * rate;
  return { ok, achieved, failed };
}

/** A comma-separated environment override (to rerun one case), or the full list. */
function pick(name: string, all: string[]): string[] {
  return process.env[name]?.split(',') ?? all;
}

async function main(dir: string) {
  const expect = await fs.readFile(path.join(scenarios, 'uac_expect.xml'), 'utf8');
  await fs.writeFile(path.join(dir, 'uac_404.xml'), expect.replaceAll('EXPECT', '404'));
  const code = await fs.readFile(path.join(scenarios, 'uas_code.xml'), 'utf8');
  await fs.writeFile(
    path.join(dir, 'uas_404.xml'),
    code.replaceAll('CODE', '404').replaceAll('REASON', 'Not Found'),
  );

  const rows: string[] = [];
  for (const c of pick('CPS_CASES', ['reject', 'answer']) as Case[]) {
    for (const t of pick('CPS_TRANSPORTS', ['u1', 't1']) as Transport[]) {
      const best: Record<string, { rate: number; achieved: number }> = {};
      for (const kind of pick('CPS_UAS', ['telgate', 'sipp']) as Array<'telgate' | 'sipp'>) {
        best[kind] = { rate: 0, achieved: 0 };
        for (const rate of pick('CPS_RATES', LADDER[c].map(String)).map(Number)) {
          // The machine is shared: a step that fails is tried once more before the ladder stops.
          let result = { ok: false, achieved: 0, failed: 0 };
          for (let attempt = 1; attempt <= 2 && !result.ok; attempt++) {
            const stop = await startUas(kind, c, t, dir);
            result = await step(c, t, rate, dir);
            await stop();
            console.error(
              `${c} ${t} ${kind} ${rate}/s try ${attempt}: ${result.ok ? 'pass' : 'fail'} achieved ${result.achieved.toFixed(0)}/s failed ${result.failed}`,
            );
          }
          if (!result.ok) break;
          best[kind] = { rate, achieved: result.achieved };
        }
      }
      const ratio = best.sipp.achieved ? best.telgate.achieved / best.sipp.achieved : NaN;
      rows.push(
        `| ${c === 'reject' ? '404 at once' : 'answer + BYE'} | ${t === 'u1' ? 'UDP' : 'TCP'} | ${best.telgate.rate} | ${best.telgate.achieved.toFixed(0)} | ${best.sipp.rate} | ${best.sipp.achieved.toFixed(0)} | ${ratio.toFixed(2)} |`,
      );
    }
  }
  console.log(
    '| case | transport | telgate: highest passing step /s | telgate achieved /s | sipp uas: highest passing step /s | sipp achieved /s | telgate / sipp |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-cps-'));
try {
  await main(dir);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
