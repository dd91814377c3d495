/**
 * The cluster's figures: telgate processes behind a real Kamailio, sharing a real redis-server,
 * all on 127.0.0.1 (the test helpers start and stop them by PID).
 *
 * 1. Admission rate through Kamailio, one instance against two: sipp offers RATE calls/s for
 *    CLUSTER_SECONDS (each held 1 s, no audio) through a Kamailio whose dispatcher holds one
 *    instance, then through one holding both, CLUSTER_REPS times interleaved after a warm-up;
 *    the median of answered calls per second of wall time, failures (refusals by the overload
 *    guard, which Kamailio passes on as 500 once no instance is left) counted.
 * 2. Cap overshoot: 1000 INVITEs as fast as sipp sends them, half to each instance, against an
 *    endpoint capped at 50 with every call held 4 s (so all overlap); answered − 50. And 1000
 *    concurrent admissions straight at the two instances' stores, CLUSTER_REPS times.
 * 3. SIGKILL to free slots: an instance holding 10 calls is killed; the time until Redis holds
 *    no live slot of theirs (polled every 10 ms), with state.leaseSeconds 2.
 * 4. A rolling restart under load: 4 calls/s through Kamailio, each held 2 s, while each
 *    instance in turn is sent SIGTERM, waited for, started again and seen active by Kamailio;
 *    calls offered, answered, failed.
 * Usage: npm run bench:cluster (CLUSTER_RATES=50,100 CLUSTER_SECONDS=10 CLUSTER_REPS=3,
 * CLUSTER_ONLY=admission|cap|kill|rolling)
 */
import { pino } from 'pino';
import { RedisStore } from '../src/state/store-redis.js';
import { clusterConfig } from '../test/helpers/cluster.js';
import { startKamailio, type Kamailio } from '../test/helpers/kamailio.js';
import { killAll, signal } from '../test/helpers/processes.js';
import { startRedis, type TestRedis } from '../test/helpers/redis.js';
import { scenario, sippPorts, startSipp, WITHOUT_TONE, workDir } from '../test/helpers/sipp.js';
import { startTelgateProcess, type TelgateProcess } from '../test/helpers/telgate-process.js';
import { until } from '../test/helpers/wait.js';

const RATES = (process.env.CLUSTER_RATES ?? '50,100,150').split(',').map(Number);
const SECONDS = Number(process.env.CLUSTER_SECONDS ?? 10);
const REPS = Number(process.env.CLUSTER_REPS ?? 3);
const LEASE_SECONDS = 2;
/** Every process the bench starts is killed after this, whatever happens. */
const RUN_MS = 30 * 60_000;

interface Instance {
  name: string;
  sipPort: number;
  mediaMin: number;
  process?: TelgateProcess;
}

const instances: Instance[] = [
  { name: 'a', sipPort: 5361, mediaMin: 40000 },
  { name: 'b', sipPort: 5362, mediaMin: 42000 },
];
let redis: TestRedis;

function config(instance: Instance): Record<string, unknown> {
  return clusterConfig(instance, {
    redisUrl: redis.url,
    leaseSeconds: LEASE_SECONDS,
    drainMaxSeconds: 60,
    mediaPorts: 2000,
    capped: { capped: 50, ten: 10 },
  });
}

async function start(instance: Instance): Promise<TelgateProcess> {
  instance.process = await startTelgateProcess(config(instance), { LOG_LEVEL: 'warn' }, RUN_MS);
  return instance.process;
}

const uri = (i: Instance) => `sip:127.0.0.1:${i.sipPort}`;

/** sipp's UAC: `calls` quiet calls to `service` at `rate`/s, each held `holdMs`. */
async function startLoad(
  target: number,
  service: string,
  calls: number,
  rate: number,
  holdMs: number,
) {
  const dir = await workDir();
  const started = process.hrtime.bigint();
  const running = startSipp({
    dir,
    scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
    service,
    target,
    ports: sippPorts(),
    calls,
    rate,
    extra: ['-d', String(holdMs), '-max_socket', '4000'],
    timeoutS: 120,
  });
  const result = running.done.then((r) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const count = (label: string) =>
      Number(new RegExp(`${label}\\s+\\|\\s+\\d+\\s+\\|\\s+(\\d+)`).exec(r.stdout)?.[1] ?? 0);
    return { ok: count('Successful call'), failed: count('Failed call'), seconds };
  });
  return { running, result };
}

async function sipp(target: number, service: string, calls: number, rate: number, holdMs: number) {
  return (await startLoad(target, service, calls, rate, holdMs)).result;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function admissionRate(one: Kamailio, two: Kamailio): Promise<string[]> {
  await sipp(two.port, '15550100100', 60, 20, 500); // warm-up: both instances' JIT
  const rows = [
    `| offered calls/s | one instance: answered/s, median of ${REPS} (failed, all reps) | two instances: answered/s, median (failed) | two ÷ one |`,
    '|---|---|---|---|',
  ];
  for (const rate of RATES) {
    const answered: [number[], number[]] = [[], []];
    const failed = [0, 0];
    for (let rep = 0; rep < REPS; rep++) {
      for (const [i, k] of [one, two].entries()) {
        const r = await sipp(k.port, '15550100100', rate * SECONDS, rate, 1000);
        // Answered calls per second of offering: the run's wall time less the last call's hold.
        answered[i]!.push(r.ok / Math.max(1, r.seconds - 1));
        failed[i]! += r.failed;
      }
    }
    const [m1, m2] = [median(answered[0]), median(answered[1])];
    rows.push(
      `| ${rate} | ${m1.toFixed(0)} (${failed[0]}) | ${m2.toFixed(0)} (${failed[1]}) | ${(m2 / m1).toFixed(2)} |`,
    );
  }
  const refusals = await Promise.all(instances.map((i) => refusalsOf(i)));
  rows.push('', `Refusals the instances counted: ${refusals.join('; ')}.`);
  return rows;
}

/** An instance's refusals by cause, from its /metrics. */
async function refusalsOf(instance: Instance): Promise<string> {
  const text = (await instance.process!.ops('/metrics')).body;
  const causes = [...text.matchAll(/^telgate_calls_refused_total\{cause="([^"]+)"\} (\d+)/gm)];
  return `${instance.name}: ${causes.map((m) => `${m[1]} ${m[2]}`).join(', ') || 'none'}`;
}

async function capOvershoot(): Promise<string[]> {
  const [a, b] = instances as [Instance, Instance];
  const results = await Promise.all([
    sipp(a.sipPort, '15550100200', 500, 1000, 4000),
    sipp(b.sipPort, '15550100200', 500, 1000, 4000),
  ]);
  const answered = results[0].ok + results[1].ok;
  const stores = [0, 1].map(
    () =>
      new RedisStore({
        url: redis.url,
        keyPrefix: 'bench:',
        leaseMs: 10_000,
        onOutage: 'refuse',
        eventsMaxLen: 100,
        commandTimeoutMs: 5000,
        logger: pino({ level: 'silent' }),
      }),
  );
  await Promise.all(stores.map((s) => s.start()));
  const admittedPerRep: number[] = [];
  const msPerRep: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const cap = [{ key: `endpoint:rep${rep}`, limit: 50 }];
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => stores[i % 2]!.acquire(`c${rep}-${i}`, cap)),
    );
    msPerRep.push(performance.now() - t0);
    admittedPerRep.push(results.filter((r) => r.ok).length);
  }
  await Promise.all(stores.map((s) => s.close()));
  return [
    '| attempts against a cap of 50 | admitted | overshoot |',
    '|---|---|---|',
    `| 1000 INVITEs, 500 to each instance at 1000/s, held 4 s | ${answered} | ${answered - 50} |`,
    `| 1000 concurrent store admissions from two clients, ${REPS} reps (median ${median(msPerRep).toFixed(0)} ms for all 1000) | ${admittedPerRep.join(', ')} | ${Math.max(...admittedPerRep) - 50} |`,
  ];
}

async function liveSlots(key: string): Promise<number> {
  const [s, us] = await redis.client.time();
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  return redis.client.zcount(key, `(${now}`, '+inf');
}

async function killToFree(two: Kamailio): Promise<string[]> {
  const a = instances[0]!;
  const times: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const holding = await startLoad(a.sipPort, '15550100300', 10, 100, 30_000);
    await until(
      () => liveSlots('voiceai:cap:endpoint:ten'),
      (n) => n === 10,
      10_000,
      '10 slots',
    );
    const killed = performance.now();
    signal(a.process!.running.child, 'SIGKILL');
    await a.process!.exited();
    while ((await liveSlots('voiceai:cap:endpoint:ten')) > 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    times.push(performance.now() - killed);
    signal(holding.running.child, 'SIGKILL'); // its calls died with the instance
    await holding.result;
    await start(a);
    await until(
      () => two.destinations(),
      (d) => d.find((x) => x.uri === uri(a))?.flags.startsWith('A') ?? false,
      20_000,
      'a active again',
    );
  }
  return [
    `| lease | SIGKILL → all 10 slots free, ms (${REPS} reps) | median |`,
    '|---|---|---|',
    `| ${LEASE_SECONDS} s (heartbeat every ${((LEASE_SECONDS * 1000) / 3).toFixed(0)} ms) | ${times.map((t) => t.toFixed(0)).join(', ')} | ${median(times).toFixed(0)} |`,
  ];
}

async function rollingRestart(two: Kamailio): Promise<string[]> {
  const rows = [
    '| rep | calls offered | answered and completed | failed | restart took, s |',
    '|---|---|---|---|---|',
  ];
  for (let rep = 0; rep < Math.min(REPS, 2); rep++) {
    const offered = 160;
    const load = sipp(two.port, '15550100100', offered, 4, 2000);
    await new Promise((r) => setTimeout(r, 3000)); // the load is steady before the first SIGTERM
    const t0 = performance.now();
    for (const instance of instances) {
      const old = instance.process!;
      old.signal('SIGTERM');
      await old.exited();
      await start(instance);
      await until(
        () => two.destinations(),
        (d) => d.find((x) => x.uri === uri(instance))?.flags.startsWith('A') ?? false,
        20_000,
        `${instance.name} active again`,
      );
    }
    const took = (performance.now() - t0) / 1000;
    const r = await load;
    rows.push(`| ${rep + 1} | ${offered} | ${r.ok} | ${r.failed} | ${took.toFixed(1)} |`);
  }
  return rows;
}

async function main(): Promise<void> {
  redis = await startRedis(6399, RUN_MS);
  await Promise.all(instances.map(start));
  const one = await startKamailio(5360, [uri(instances[0]!)], RUN_MS);
  const two = await startKamailio(5370, instances.map(uri), RUN_MS);
  try {
    const section = (title: string, rows: string[]) =>
      process.stdout.write([`### ${title}`, '', ...rows, '', ''].join('\n'));
    const only = process.env.CLUSTER_ONLY; // admission | cap | kill | rolling
    const run = (name: string) => !only || only === name;
    if (run('admission')) section('Admission rate through Kamailio', await admissionRate(one, two));
    if (run('cap'))
      section('Cap overshoot under concurrent attempts (goal 0)', await capOvershoot());
    if (run('kill')) section('SIGKILL to free slots', await killToFree(two));
    if (run('rolling'))
      section('Rolling restart under load (goal: 0 failed)', await rollingRestart(two));
  } finally {
    await one.stop();
    await two.stop();
    await killAll();
    await redis.close();
  }
}

await main();
