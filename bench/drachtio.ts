/**
 * The two SIP engines side by side: telgate with its own stack against telgate as an application
 * of drachtio-server, in one invocation, interleaved round by round. Each round and engine:
 * a fresh telgate (the built dist/main.js, default call workers) and, for the drachtio engine, a
 * fresh daemon (loglevel notice); the echo agent in its own process for both.
 *  - Live calls first (see below), then set-up: sipp's built-in UAC at each of RATES calls/s for 10 s, each call hung up at once after its
 *    ACK (-d 0): the answered calls per second, and the CPU per answered call of telgate's
 *    process plus the daemon's (/proc), over the sipp run.
 *  - Live calls: LIVE calls set up at 50/s, each streaming PCMU to the echo agent and hearing it
 *    back, then a 10 s window with all of them up: CPU per call-second of telgate (and daemon).
 * sipp and the agent share the 2 vCPUs with what is measured; compare the engines' rows of one
 * run, not runs.
 * Usage: npm run build && node --import tsx bench/drachtio.ts (ROUNDS=3 RATES=100,300 LIVE=100)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoAgentConfig, startEchoAgent } from './echo-agent.js';
import { runCommand } from './run-command.js';
import { cpuSeconds, startTelgate } from './telgate-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SIP_PORT = 5297;
const ADMIN_PORT = 29022;
const AGENT_PORT = 29191;
const SECONDS = 10;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RATES = (process.env.RATES ?? '100,300').split(',').map(Number);
const LIVE = Number(process.env.LIVE ?? 100);
const ENGINES = ['native', 'drachtio'] as const;
type Engine = (typeof ENGINES)[number];

async function startDaemon(dir: string): Promise<ChildProcess> {
  const file = path.join(dir, 'drachtio.conf.xml');
  await fs.writeFile(
    file,
    `<drachtio><admin port="${ADMIN_PORT}" secret="bench">127.0.0.1</admin>` +
      `<sip><contacts><contact>sip:127.0.0.1:${SIP_PORT};transport=udp</contact></contacts></sip>` +
      '<cdrs>false</cdrs><logging><console/><loglevel>notice</loglevel></logging></drachtio>',
  );
  const child = spawn('drachtio', ['-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const ready = (d: Buffer) => d.toString().includes('run loop started') && resolve();
    child.stdout!.on('data', ready);
    child.stderr!.on('data', ready); // its console log goes to either, by version
    child.once('exit', () => reject(new Error('drachtio exited at start')));
  });
  return child;
}

async function configDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-drachtio-bench-'));
  const config = {
    sip: {
      listen: { host: '127.0.0.1', port: SIP_PORT },
      transports: ['udp'],
      drachtio: { host: '127.0.0.1', port: ADMIN_PORT },
    },
    media: { host: '127.0.0.1', portMin: 40000, portMax: 47999 },
    ...echoAgentConfig(AGENT_PORT),
  };
  await fs.writeFile(path.join(dir, 'telgate.yaml'), JSON.stringify(config));
  const scenario = await fs.readFile(
    path.join(here, '..', 'test', 'scenarios', 'uac_rtp.xml'),
    'utf8',
  );
  await fs.writeFile(
    path.join(dir, 'uac_rtp.xml'),
    scenario.replace('tone.ul,1,0', 'tone.ul,-1,0'),
  );
  await runCommand(
    'sox',
    [
      '-n',
      '-r',
      '8000',
      '-c',
      '1',
      '-e',
      'u-law',
      '-t',
      'raw',
      'tone.ul',
      'synth',
      '2',
      'sine',
      '440',
    ],
    10_000,
    dir,
  );
  return dir;
}

function sippArgs(extra: string[], port = 5298): string[] {
  return [
    '-s',
    '15550100100',
    `127.0.0.1:${SIP_PORT}`,
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-nostdin',
    '-timeout_error',
    '-max_socket',
    '4096',
    ...extra,
  ];
}

const counter = (out: string, name: string) => {
  const m = new RegExp(`${name}\\s*\\|[^|]*\\|\\s*(\\d+)`).exec(out);
  return m ? Number(m[1]) : NaN;
};

async function cpuOf(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await cpuSeconds(pid);
  return total;
}

interface Row {
  engine: Engine;
  round: number;
  rate: number;
  answered: number;
  failed: number;
  perSecond: number;
  setupMs: number;
  setupMsTelgate: number;
  liveUs: number;
  liveUsTelgate: number;
  liveFailed: number;
}

async function measure(engine: Engine, round: number, dir: string): Promise<Row[]> {
  const daemon = engine === 'drachtio' ? await startDaemon(dir) : undefined;
  const stop = await startTelgate(dir, {
    env: { BENCH_KEY: 'bench', TELGATE_SIP_ENGINE: engine, DRACHTIO_SECRET: 'bench' },
  });
  const pids = [stop.pid, ...(daemon ? [daemon.pid!] : [])];
  try {
    // Live calls: LIVE calls of 20 s at 50/s, measured over 10 s with all of them up.
    const live = runCommand(
      'sipp',
      sippArgs(
        [
          '-sf',
          'uac_rtp.xml',
          '-r',
          '50',
          '-m',
          String(LIVE),
          '-l',
          String(LIVE),
          '-d',
          '20000',
          '-mp',
          '26000',
        ],
        5299,
      ),
      60_000,
      dir,
    );
    await new Promise((r) => setTimeout(r, (LIVE / 50) * 1000 + 3000));
    const liveBefore = await cpuOf(pids);
    const liveBeforeTelgate = await cpuSeconds(stop.pid);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const liveCpu = (await cpuOf(pids)) - liveBefore;
    const liveCpuTelgate = (await cpuSeconds(stop.pid)) - liveBeforeTelgate;
    const liveRun = await live;

    // Set-up: each rate for SECONDS, each call hung up as soon as it is answered.
    const steps = [];
    for (const rate of RATES) {
      const before = await cpuOf(pids);
      const beforeTelgate = await cpuSeconds(stop.pid);
      const setup = await runCommand(
        'sipp',
        sippArgs(['-sn', 'uac', '-r', String(rate), '-m', String(rate * SECONDS), '-d', '0']),
        (SECONDS + 40) * 1000,
        dir,
      );
      const answered = counter(setup.out, 'Successful call');
      steps.push({
        rate,
        answered,
        failed: counter(setup.out, 'Failed call'),
        perSecond: answered / setup.seconds,
        setupMs: (((await cpuOf(pids)) - before) * 1000) / answered,
        setupMsTelgate: (((await cpuSeconds(stop.pid)) - beforeTelgate) * 1000) / answered,
      });
    }

    return steps.map((step) => ({
      engine,
      round,
      ...step,
      liveUs: (liveCpu * 1e6) / (LIVE * SECONDS),
      liveUsTelgate: (liveCpuTelgate * 1e6) / (LIVE * SECONDS),
      liveFailed: counter(liveRun.out, 'Failed call'),
    }));
  } finally {
    await stop();
    daemon?.kill('SIGKILL');
    if (daemon) await new Promise((r) => daemon.once('exit', r));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const stopAgent = await startEchoAgent(AGENT_PORT);
const dir = await configDir();
const rows: Row[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const engine of round % 2 ? ENGINES : [...ENGINES].reverse()) {
      for (const row of await measure(engine, round, dir)) {
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    }
  }
} finally {
  stopAgent();
  await fs.rm(dir, { recursive: true, force: true });
}
const f = (n: number, digits = 1) => n.toFixed(digits);
console.log(
  `| engine | offered | answered (median) | failed | answered /s | CPU ms per set-up: telgate + daemon (telgate) | live: ${LIVE} calls, µs per call-second: telgate + daemon (telgate) | live failed |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const engine of ENGINES) {
  for (const rate of RATES) {
    const of = rows.filter((r) => r.engine === engine && r.rate === rate);
    const pick = (key: keyof Row) => median(of.map((r) => r[key] as number));
    console.log(
      `| ${engine} | ${rate}/s × ${SECONDS} s | ${pick('answered')} | ${of.map((r) => r.failed).join(', ')} | ${f(pick('perSecond'))} | ${f(pick('setupMs'), 2)} (${f(pick('setupMsTelgate'), 2)}) | ${f(pick('liveUs'), 0)} (${f(pick('liveUsTelgate'), 0)}) | ${of.map((r) => r.liveFailed).join(', ')} |`,
    );
  }
}
