/**
 * Latency added inside telgate, both ways, at 1, 100 and 300 concurrent calls, and the spacing
 * of the RTP it sends. Usage: npm run bench:latency (env LATENCY_CALLS=1,100,300,
 * LATENCY_SECONDS=10; LATENCY_PROFILE_DIR=DIR writes a CPU profile of the telgate process).
 *
 * Method. telgate runs as its own process (dist/main.js, a temporary config). This process is
 * the callers (one MiniUac per call, L16/8000 so audio passes unchanged) and the agent (the
 * embedded local agent class, `echo`, on slin: no resampling either way). Every caller sends a
 * 20 ms packet every 20 ms whose first two samples carry its call and packet number. Times
 * are process.hrtime (one monotonic clock for the whole machine):
 *   caller → agent = agent receives frame (call, n) − caller sent packet n;
 *   agent → caller = caller receives packet (call, n) − agent received (and echoed) frame n;
 *   spacing = gap between consecutive packets telgate sent to one caller, minus 20 ms.
 * Both paths include loopback UDP and WebSocket and this process's own event-loop delay, which
 * is printed as the measurement floor. caller → agent includes the jitter buffer's target
 * (20 ms, the minimum); agent → caller includes the wait for the shared 20 ms clock, which
 * paces every call's playout (0–20 ms, by design).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LocalAgent } from '../src/link/local-agent/server.js';
import { MiniUac } from './mini-uac.js';
import { startTelgate as spawnTelgate } from './telgate-process.js';

const SIP_PORT = 5196;
const JITTER_TARGET_MS = 20;
const CALL_COUNTS = (process.env.LATENCY_CALLS ?? '1,100,300').split(',').map(Number);
const SECONDS = Number(process.env.LATENCY_SECONDS ?? 10);
/** Packets at the start of each call left out: the jitter buffer's first fill. */
const WARM_UP = 25;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const code = (value: number) => 1001 + 8 * value;
const decode = (sample: number) => (sample - 1001) / 8;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function startWithAgent(agentUrl: string): Promise<() => Promise<void>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-latency-'));
  const config = {
    sip: { listen: { host: '127.0.0.1', port: SIP_PORT }, transports: ['udp'] },
    media: { host: '127.0.0.1', portMin: 30000, portMax: 30999, jitterMinMs: JITTER_TARGET_MS },
    telapi: { url: agentUrl, apiKeyEnv: 'BENCH_KEY' },
    baseNumbers: [{ number: '+15550100', extensions: true }],
    endpoints: [
      {
        id: 'echo',
        baseNumber: '+15550100',
        extension: '100',
        flow: { id: 'bench', publishedVersion: 1 },
        codecs: ['L16'],
      },
    ],
  };
  await fs.writeFile(path.join(dir, 'telgate.json.yaml'), JSON.stringify(config));
  const profile = process.env.LATENCY_PROFILE_DIR;
  return spawnTelgate(dir, {
    env: { BENCH_KEY: 'bench' },
    nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [],
  });
}

interface Row {
  calls: number;
  toAgent: number[];
  toCaller: number[];
  spacing: number[];
  loopDelayP99: number;
  missing: number;
}

async function run(calls: number, agent: LocalAgent): Promise<Row> {
  const sent = new Map<number, number>(); // call·1e6 + n → time
  const atAgent = new Map<number, number>();
  const row: Row = { calls, toAgent: [], toCaller: [], spacing: [], loopDelayP99: 0, missing: 0 };
  const onAudio = (_id: string, pcm: Buffer) => {
    const t = nowMs();
    const call = decode(pcm.readInt16LE(2));
    const n = decode(pcm.readInt16LE(0));
    const key = call * 1e6 + n;
    atAgent.set(key, t);
    const s = sent.get(key);
    if (s !== undefined && n >= WARM_UP) row.toAgent.push(t - s);
  };
  agent.on('audio', onAudio);

  const uacs = Array.from(
    { length: calls },
    () => new MiniUac(SIP_PORT, { formats: '96', rtpmap: ['a=rtpmap:96 L16/8000'] }),
  );
  const rtpPorts: number[] = [];
  for (const uac of uacs) {
    await uac.open();
    rtpPorts.push(await uac.call());
  }
  const lastArrival: number[] = [];
  uacs.forEach((uac, call) => {
    uac.rtp.on('message', (packet: Buffer) => {
      const t = nowMs();
      if (packet.length < 12 + 4) return;
      if (lastArrival[call] !== undefined) row.spacing.push(t - lastArrival[call] - 20);
      lastArrival[call] = t;
      const n = decode(packet.readInt16BE(12));
      if (decode(packet.readInt16BE(14)) !== call || n < WARM_UP) return;
      const echoed = atAgent.get(call * 1e6 + n);
      if (echoed !== undefined) row.toCaller.push(t - echoed);
    });
  });

  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const packets = SECONDS * 50;
  const buffers = uacs.map(() => Buffer.alloc(12 + 320));
  const start = nowMs();
  for (let n = 0; n < packets; n++) {
    const wait = start + n * 20 - nowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the callers
    uacs.forEach((uac, call) => {
      const b = buffers[call];
      b[0] = 0x80;
      b[1] = 96;
      b.writeUInt16BE(n & 0xffff, 2);
      b.writeUInt32BE((n * 160) >>> 0, 4);
      b.writeUInt32BE(call + 1, 8);
      b.writeInt16BE(code(n), 12);
      b.writeInt16BE(code(call), 14);
      sent.set(call * 1e6 + n, nowMs());
      uac.rtp.send(b, rtpPorts[call], '127.0.0.1');
    });
  }
  await new Promise((r) => setTimeout(r, 300)); // the last packets' round trip
  loop.disable();
  row.loopDelayP99 = loop.percentile(99) / 1e6;
  row.missing = calls * (packets - WARM_UP) - row.toCaller.length;
  // Spacing is judged in the steady middle of the run, not at its start or end.
  agent.off('audio', onAudio);
  for (const uac of uacs) {
    await uac.bye();
    uac.close();
  }
  return row;
}

const agent = new LocalAgent({
  host: '127.0.0.1',
  port: 0,
  apiKey: 'bench',
  behaviours: { echo: { kind: 'echo' } },
});
await agent.listen();
const stop = await startWithAgent(agent.url);
const rows: Row[] = [];
try {
  for (const calls of CALL_COUNTS) rows.push(await run(calls, agent));
} finally {
  await stop();
  await agent.close();
}

const f = (v: number) => v.toFixed(1);
console.log(
  '| calls | caller → agent p50 / p99 (ms) | beyond the 20 ms jitter target, p99 | agent → caller p50 / p99 (ms) | RTP spacing, p99 deviation from 20 ms | bench event-loop delay p99 (ms) | frames not back |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const toAgent99 = quantile(r.toAgent, 0.99);
  console.log(
    `| ${r.calls} | ${f(quantile(r.toAgent, 0.5))} / ${f(toAgent99)} | ${f(toAgent99 - JITTER_TARGET_MS)} | ${f(quantile(r.toCaller, 0.5))} / ${f(quantile(r.toCaller, 0.99))} | ${f(quantile(r.spacing.map(Math.abs), 0.99))} | ${f(r.loopDelayP99)} | ${r.missing} |`,
  );
}
