/**
 * Latency added inside telgate, both ways, at 1, 100 and 300 concurrent calls, and the spacing
 * of the RTP it sends. Usage: npm run bench:latency (env LATENCY_CALLS=1,100,300,
 * LATENCY_SECONDS=10, LATENCY_CPS=20, LATENCY_SIPP=1,100 for the sipp reference rows;
 * LATENCY_PROFILE_DIR=DIR writes a CPU profile of the telgate process, LATENCY_NODE_ARGS adds
 * flags to its node, LATENCY_TELGATE_CPU=N pins it to core N).
 *
 * Method. telgate runs as its own process (dist/main.js, a temporary config), free to use
 * both cores (LATENCY_TELGATE_CPU=N pins it); this process, pinned to the first core once
 * telgate runs, is the callers (one MiniUac per call, L16/8000 so audio passes unchanged) and
 * the agent (the embedded local agent class, `echo`, on slin).
 * Calls arrive at LATENCY_CPS (20) a second, and each caller sends a 20 ms packet every 20 ms
 * from its answer on (telgate sets up calls while the earlier ones stream, and the phases fall
 * where the answers do), until LATENCY_SECONDS after the last call was set up; the first two
 * samples carry the call and packet number. Refused calls (503 from the overload guard) are
 * counted, not measured. dumpcap records the
 * loopback traffic, and every figure comes from the kernel's timestamps of it:
 *   caller → agent = WebSocket frame (call, n) leaving telgate − RTP packet n reaching it;
 *   agent → caller = RTP packet (call, n) leaving telgate − the agent's echo of frame n
 *     reaching it;
 *   spacing = gap between consecutive packets telgate sent to one caller, minus 20 ms.
 * So neither this process's scheduling nor its event-loop delay is in a figure; what is in them
 * is telgate and the loopback stack. caller → agent includes the jitter buffer's target (20 ms,
 * the minimum); agent → caller includes the playout delay (`media.playoutDelayMs`, 20 ms). A
 * tag found later in a packet (playout skipped part of a frame) counts as heard that much
 * later. Every figure is for all calls up: from a second after the last call's set-up (and past
 * each call's own first second: jitter buffer fill, talkspurt alignment); frames not back are
 * those the playout skipped to bring its delay down, or lost.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LocalAgent } from '../src/link/local-agent/server.js';
import { CallRefused, MiniUac } from './mini-uac.js';
import { measureSippSpacing, type SippSpacing } from './sipp-spacing.js';
import { cpuSeconds, startTelgate as spawnTelgate } from './telgate-process.js';
import { readCapture, startCapture, type Capture } from './wire-capture.js';

const SIP_PORT = 5196;
const MEDIA_PORTS = [30000, 30999] as const;
const JITTER_TARGET_MS = 20;
const PLAYOUT_DELAY_MS = 20;
const CALL_COUNTS = (process.env.LATENCY_CALLS ?? '1,100,300')
  .split(',')
  .filter(Boolean)
  .map(Number);
const SECONDS = Number(process.env.LATENCY_SECONDS ?? 10);
/** Call counts for the reference rows: sipp's rtp_stream spacing next to telgate's. */
const SIPP_COUNTS = (process.env.LATENCY_SIPP ?? '1,100').split(',').filter(Boolean).map(Number);
/** How fast the calls of a row arrive. */
const CALLS_PER_SECOND = Number(process.env.LATENCY_CPS ?? 20);
/** Packets at the start of each call left out (one second): the buffers' fill, the alignment. */
const WARM_UP = 50;
const PINNED = os.cpus().length >= 2;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const code = (value: number) => 1001 + 8 * value;
const decode = (sample: number) => (sample - 1001) / 8;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function startWithAgent(agentUrl: string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-latency-'));
  const config = {
    sip: { listen: { host: '127.0.0.1', port: SIP_PORT }, transports: ['udp'] },
    media: {
      host: '127.0.0.1',
      portMin: MEDIA_PORTS[0],
      portMax: MEDIA_PORTS[1],
      jitterMinMs: JITTER_TARGET_MS,
      playoutDelayMs: PLAYOUT_DELAY_MS,
    },
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
      {
        id: 'echo-pcmu',
        baseNumber: '+15550100',
        extension: '101',
        flow: { id: 'bench', publishedVersion: 1 },
        codecs: ['PCMU'],
      },
    ],
  };
  await fs.writeFile(path.join(dir, 'telgate.json.yaml'), JSON.stringify(config));
  const profile = process.env.LATENCY_PROFILE_DIR;
  const stop = await spawnTelgate(dir, {
    env: { BENCH_KEY: 'bench' },
    nodeArgs: [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
      ...(process.env.LATENCY_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    cpu:
      process.env.LATENCY_TELGATE_CPU === undefined
        ? undefined
        : Number(process.env.LATENCY_TELGATE_CPU),
  }).catch(async (err) => {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  });
  return Object.assign(
    async () => {
      await stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
    { pid: stop.pid },
  );
}

interface Row {
  calls: number;
  toAgent: number[];
  toCaller: number[];
  spacing: number[];
  loopDelayP99: number;
  missing: number;
  /** Calls telgate refused (503 when overloaded). */
  refused: number;
  /** telgate's CPU (user + system) while the callers sent, % of one core. */
  telgateCpu: number;
  /** This process's CPU (callers and agent) in the same time, % of one core. */
  benchCpu: number;
  /** telgate's resident memory once the callers have sent, MB. */
  telgateRssMb: number;
}

/** A process's resident memory, MB (Linux /proc; 0 where there is none). */
async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** An answered caller: its RTP goes to `rtpPort`, packet n at `start + 20 n`. */
interface Caller {
  uac: MiniUac;
  /** Its own RTP port, and telgate's. */
  localPort: number;
  rtpPort: number;
  start: number;
  sent: number;
}

interface Streamed {
  /** The answered callers, in order: the index is the call number in the tags. */
  callers: Caller[];
  refused: number;
  /** When the last call was answered (or refused). */
  allUpAt: number;
}

/**
 * Calls arrive at CALLS_PER_SECOND, and each caller streams from its answer on, as real calls
 * do (telgate sets up new calls while the earlier ones' audio flows), until SECONDS after the
 * last call was set up. `onAllUp` runs then.
 */
async function callAndStream(
  uacs: MiniUac[],
  calls: number,
  onAllUp: () => Promise<void>,
): Promise<Streamed> {
  const callers: Caller[] = [];
  let refused = 0;
  let endAt = Infinity;
  let allUpAt = 0;
  let wake: (() => void) | undefined;
  const setup = (async () => {
    try {
      const first = nowMs();
      for (let i = 0; i < calls; i++) {
        const due = first + (i * 1000) / CALLS_PER_SECOND;
        if (due > nowMs()) await new Promise((r) => setTimeout(r, due - nowMs())); // the pace
        const uac = new MiniUac(SIP_PORT, { formats: '96', rtpmap: ['a=rtpmap:96 L16/8000'] });
        uacs.push(uac);
        await uac.open();
        try {
          const rtpPort = await uac.call();
          callers.push({
            uac,
            localPort: uac.rtp.address().port,
            rtpPort,
            start: nowMs() + 20,
            sent: 0,
          });
          wake?.();
        } catch (err) {
          if (!(err instanceof CallRefused)) throw err;
          refused++;
        }
      }
    } catch (err) {
      endAt = 0; // a set-up that failed ends the row at once, not after SECONDS of streaming
      wake?.();
      throw err;
    }
    allUpAt = nowMs();
    await onAllUp();
    endAt = allUpAt + SECONDS * 1000;
    wake?.();
  })();
  setup.catch(() => undefined); // its failure is thrown by `await setup` below, once streaming stops
  const buffers: Buffer[] = [];
  for (;;) {
    const now = nowMs();
    if (now >= endAt) break;
    let soonest = endAt;
    callers.forEach((caller, call) => {
      const n = caller.sent;
      const due = caller.start + n * 20;
      if (due > now) return void (soonest = Math.min(soonest, due));
      const b = (buffers[call] ??= Buffer.alloc(12 + 320));
      b[0] = 0x80;
      b[1] = 96;
      b.writeUInt16BE(n & 0xffff, 2);
      b.writeUInt32BE((n * 160) >>> 0, 4);
      b.writeUInt32BE(call + 1, 8);
      b.writeInt16BE(code(n), 12);
      b.writeInt16BE(code(call), 14);
      caller.uac.rtp.send(b, caller.rtpPort, '127.0.0.1');
      caller.sent++;
      soonest = Math.min(soonest, due + 20);
    });
    // Until the next packet is due, or a new caller is answered.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, Math.min(soonest, now + 1000) - nowMs()));
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }
  await setup;
  return { callers, refused, allUpAt };
}

/** The tag (call, packet number) in an RTP payload of L16/8000, and its sample offset. */
function findTag(rtp: Buffer, call: number): { n: number; offset: number } | undefined {
  for (let at = 12; at + 4 <= rtp.length; at += 2) {
    const n = decode(rtp.readInt16BE(at));
    if (Number.isInteger(n) && n >= 0 && decode(rtp.readInt16BE(at + 2)) === call) {
      return { n, offset: (at - 12) / 2 };
    }
  }
  return undefined;
}

/** The figures, from the capture: every packet matched by its call and number. */
function measure(capture: Capture, streamed: Streamed, agentPort: number, row: Row): void {
  const { callers, allUpAt } = streamed;
  const callOfPort = new Map(callers.map((caller, call) => [caller.localPort, call]));
  // Each call's packets from a second after the last call was up (and its own first second).
  const firstMeasured = callers.map((caller) =>
    Math.max(WARM_UP, Math.ceil((allUpAt + 1000 - caller.start) / 20)),
  );
  const inMedia = (port: number) => port >= MEDIA_PORTS[0] && port <= MEDIA_PORTS[1];
  const rtpIn = new Map<number, number>();
  const rtpOut = new Map<number, number>();
  // Spacing: every gap between the first and the last echoed packet past the warm-up of a
  // call (silence in between included), not the call's set-up or the stream's end.
  const sentTo = new Map<number, Array<{ t: number; tagged: boolean }>>();
  for (const d of capture.udp) {
    if (d.payload.length < 16 || (d.payload[0] & 0xc0) !== 0x80) continue;
    const toTelgate = inMedia(d.dstPort) && callOfPort.has(d.srcPort);
    const fromTelgate = inMedia(d.srcPort) && callOfPort.has(d.dstPort);
    if (!toTelgate && !fromTelgate) continue;
    const call = callOfPort.get(toTelgate ? d.srcPort : d.dstPort)!;
    const tag = findTag(d.payload, call);
    const tagged = tag !== undefined && tag.n >= firstMeasured[call];
    if (fromTelgate) {
      if (!sentTo.has(call)) sentTo.set(call, []);
      sentTo.get(call)!.push({ t: d.t, tagged });
    }
    // A tag later in a packet (playout skipped part of a frame) is heard that much later.
    if (tagged) (toTelgate ? rtpIn : rtpOut).set(call * 1e6 + tag.n, d.t + tag.offset / 8);
  }
  for (const packets of sentTo.values()) {
    const first = packets.findIndex((p) => p.tagged);
    let last = packets.length - 1;
    while (last > first && !packets[last].tagged) last--;
    for (let i = first + 1; first >= 0 && i <= last; i++) {
      row.spacing.push(packets[i].t - packets[i - 1].t - 20);
    }
  }
  const wsIn = new Map<number, number>();
  for (const f of capture.ws) {
    if (f.opcode !== 2 || f.payload.length < 4) continue;
    const n = decode(f.payload.readInt16LE(0));
    const call = decode(f.payload.readInt16LE(2));
    if (!Number.isInteger(n) || !Number.isInteger(call) || !(n >= firstMeasured[call])) continue;
    const key = call * 1e6 + n;
    if (f.dstPort === agentPort) {
      const arrived = rtpIn.get(key);
      if (arrived !== undefined) row.toAgent.push(f.t - arrived);
    } else if (f.srcPort === agentPort) wsIn.set(key, f.t);
  }
  for (const [key, t] of rtpOut) {
    const echoed = wsIn.get(key);
    if (echoed !== undefined) row.toCaller.push(t - echoed);
  }
  row.missing = rtpIn.size - rtpOut.size;
}

async function run(
  index: number,
  calls: number,
  agentPort: number,
  telgatePid: number,
): Promise<Row> {
  const row: Row = {
    calls,
    toAgent: [],
    toCaller: [],
    spacing: [],
    loopDelayP99: 0,
    missing: 0,
    refused: 0,
    telgateCpu: 0,
    benchCpu: 0,
    telgateRssMb: 0,
  };
  const file = path.join(os.tmpdir(), `telgate-latency-${process.pid}-${index}.pcap`);
  const filter = `udp portrange ${MEDIA_PORTS.join('-')} or tcp port ${agentPort}`;
  const stopCapture = await startCapture(file, filter);
  const uacs: MiniUac[] = [];
  let streamed: Streamed | undefined;
  try {
    const loop = monitorEventLoopDelay({ resolution: 1 });
    let cpuBefore = 0;
    let benchBefore = process.cpuUsage();
    let steadyFrom = 0;
    streamed = await callAndStream(uacs, calls, async () => {
      // The figures are for all calls up: CPU and event-loop delay from here on.
      cpuBefore = await cpuSeconds(telgatePid);
      benchBefore = process.cpuUsage();
      steadyFrom = nowMs();
      loop.enable();
    });
    row.refused = streamed.refused;
    const seconds = (nowMs() - steadyFrom) / 1000;
    row.telgateCpu = (100 * ((await cpuSeconds(telgatePid)) - cpuBefore)) / seconds;
    const bench = process.cpuUsage(benchBefore);
    row.benchCpu = (bench.user + bench.system) / 1e4 / seconds;
    row.telgateRssMb = await rssMb(telgatePid);
    await new Promise((r) => setTimeout(r, 300)); // the last packets' round trip
    loop.disable();
    row.loopDelayP99 = loop.percentile(99) / 1e6;
    for (const caller of streamed.callers) await caller.uac.bye();
  } finally {
    // Whatever failed, no socket or dumpcap outlives the row.
    for (const uac of uacs) uac.close();
    await stopCapture();
  }
  try {
    measure(await readCapture(file), streamed, agentPort, row);
  } finally {
    if (!process.env.LATENCY_KEEP) await fs.rm(file, { force: true });
  }
  return row;
}

const agent = new LocalAgent({
  host: '127.0.0.1',
  port: 0,
  apiKey: 'bench',
  behaviours: { echo: { kind: 'echo' }, 'echo-pcmu': { kind: 'echo' } },
});
await agent.listen();
const agentPort = Number(new URL(agent.url).port);
const stop = await startWithAgent(agent.url);
// Once telgate runs (free to use both cores): this process, and dumpcap after it, on the first.
if (PINNED) execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
const rows: Row[] = [];
const references: Array<{ calls: number } & SippSpacing> = [];
try {
  for (const [index, calls] of CALL_COUNTS.entries()) {
    rows.push(await run(index, calls, agentPort, stop.pid));
  }
  for (const calls of SIPP_COUNTS) {
    const spacing = await measureSippSpacing({
      calls,
      seconds: SECONDS,
      sipPort: SIP_PORT,
      number: '+15550100101',
      mediaPorts: MEDIA_PORTS,
    });
    references.push({ calls, ...spacing });
  }
} finally {
  await stop();
  await agent.close();
}

const f = (v: number) => v.toFixed(1);
console.log(
  PINNED
    ? 'callers, agent and dumpcap pinned to CPU 0; telgate free on both cores'
    : 'one core for all',
);
console.log(
  '| calls | caller → agent p50 / p99 (ms) | p99 beyond the 20 ms jitter target | agent → caller p50 / p99 (ms) | p99 beyond the 20 ms playout delay | RTP spacing, p99 deviation from 20 ms | frames not back | calls refused | telgate CPU (% of a core) | telgate RSS (MB) | bench CPU (%) | bench event-loop delay p99 (ms) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const toAgent99 = quantile(r.toAgent, 0.99);
  const toCaller99 = quantile(r.toCaller, 0.99);
  console.log(
    `| ${r.calls} | ${f(quantile(r.toAgent, 0.5))} / ${f(toAgent99)} | ${f(toAgent99 - JITTER_TARGET_MS)} | ${f(quantile(r.toCaller, 0.5))} / ${f(toCaller99)} | ${f(toCaller99 - PLAYOUT_DELAY_MS)} | ${f(quantile(r.spacing.map(Math.abs), 0.99))} | ${r.missing} | ${r.refused} | ${r.telgateCpu.toFixed(0)} | ${r.telgateRssMb.toFixed(0)} | ${r.benchCpu.toFixed(0)} | ${f(r.loopDelayP99)} |`,
  );
}
if (references.length) {
  console.log('\nReference: sipp rtp_stream calling the PCMU echo endpoint (sipp not pinned)');
  console.log(
    '| calls | sipp → telgate spacing p50 / p99 / max (ms) | telgate → sipp spacing p50 / p99 / max (ms) |',
  );
  console.log('| --- | --- | --- |');
  const spread = (v: number[]) =>
    `${f(quantile(v, 0.5))} / ${f(quantile(v, 0.99))} / ${f(quantile(v, 1))}`;
  for (const r of references)
    console.log(`| ${r.calls} | ${spread(r.sipp)} | ${spread(r.telgate)} |`);
}
