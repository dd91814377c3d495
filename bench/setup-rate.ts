/**
 * Call set-up with the agent link: answered calls per second of one telgate process, the echo
 * agent (the embedded local agent's class) in its own process, sipp's UAC placing PCMU calls
 * that hang up after HOLD_MS (default 1000: at 300 calls/s that is 300 live calls, each with
 * telgate's RTP and link frames; 0 hangs up as soon as the call is answered, so the figure is
 * the set-up alone). Each answered call is a TelAPI session request, a WebSocket and an RTP
 * port in telgate. A ladder of rates (10 s each, -r RATE -m 10·RATE); a step passes when every
 * call is answered (no failure: no 503 from the overload guard, no timeout); the statuses of the
 * calls that failed are counted from sipp's error trace. Both process shapes run in the same invocation: every call on the main thread
 * (media.workers 1) and the default (a call worker per core).
 * Usage: npm run build && node --import tsx bench/setup-rate.ts (RATES=100,200 SHAPES=1,auto
 * HOLD_MS=1000)
 */
import { echoAgentConfig, startEchoAgent } from './echo-agent.js';
import { runCommand } from './run-command.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTelgate } from './telgate-process.js';

const SIP_PORT = 5293;
const AGENT_PORT = 29190;
const SECONDS = 10;
const RATES = (process.env.RATES ?? '100,200,300,400,500').split(',').map(Number);
const SHAPES = (process.env.SHAPES ?? '1,auto').split(',');
const HOLD_MS = Number(process.env.HOLD_MS ?? 1000);

async function configDir(workers: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-setup-'));
  const config = {
    sip: { listen: { host: '127.0.0.1', port: SIP_PORT }, transports: ['udp'] },
    media: {
      host: '127.0.0.1',
      portMin: 40000,
      portMax: 47999,
      workers: workers === 'auto' ? 'auto' : Number(workers),
    },
    ...echoAgentConfig(AGENT_PORT),
  };
  await fs.writeFile(path.join(dir, 'telgate.yaml'), JSON.stringify(config));
  return dir;
}

/** One step: sipp's built-in UAC at `rate` for SECONDS; counts from its final statistics. */
async function step(rate: number) {
  const calls = rate * SECONDS;
  const r = await runCommand(
    'sipp',
    [
      '-sn',
      'uac',
      '-s',
      '15550100100',
      `127.0.0.1:${SIP_PORT}`,
      '-i',
      '127.0.0.1',
      '-p',
      '5294',
      '-mp',
      '26000',
      '-r',
      String(rate),
      '-m',
      String(calls),
      '-l',
      String(3 * rate),
      '-d',
      String(HOLD_MS),
      '-nostdin',
      '-timeout',
      String(SECONDS + 30),
      '-timeout_error',
      '-max_socket',
      '4096',
    ],
    (SECONDS + 40) * 1000,
  );
  const counter = (name: string) => {
    const m = new RegExp(`${name}\\s*\\|[^|]*\\|\\s*(\\d+)`).exec(r.out);
    return m ? Number(m[1]) : NaN;
  };
  const ok = counter('Successful call');
  const failed = counter('Failed call');
  const why = reasons(r.out);
  if (process.env.SIPP_OUT) await fs.writeFile(process.env.SIPP_OUT, r.out);
  return { rate, ok, failed, calls, why, seconds: r.seconds };
}

/** The final statuses sipp did not expect, e.g. `503 ×12`, from the `-trace_err` lines it printed. */
function reasons(out: string): string {
  const counts = new Map<string, number>();
  for (const m of out.matchAll(/received 'SIP\/2\.0 (\d{3})/g)) {
    counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  return [...counts].map(([status, n]) => `${status} ×${n}`).join(', ');
}

const rows: string[] = [];
for (const shape of SHAPES) {
  const stopAgent = await startEchoAgent(AGENT_PORT);
  const dir = await configDir(shape);
  const stop = await startTelgate(dir, { env: { BENCH_KEY: 'bench' } });
  try {
    for (const rate of RATES) {
      const s = await step(rate);
      const passed = s.failed === 0 && s.ok === s.calls;
      rows.push(
        `| ${shape} | ${rate} | ${s.calls} | ${s.ok} | ${s.failed} | ${s.why || '–'} | ${passed ? 'yes' : 'no'} |`,
      );
      console.error(rows[rows.length - 1]);
    }
  } finally {
    await stop();
    stopAgent();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
console.log(
  '| media.workers | offered /s | offered | answered | failed | unexpected responses | passed |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
