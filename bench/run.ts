/**
 * telgate benchmarks, printed as a table. Run with `npm run bench` (builds first).
 *
 * - INVITE → 200 OK: sipp places 20 calls, one at a time, to the echo endpoint of a telgate
 *   process started here (bench/config); sipp's own response-time trace gives each call's time
 *   from INVITE sent to 200 OK received (it includes TelAPI session creation and the WebSocket
 *   connect to the embedded agent).
 * - Echo round trip: a caller sends 250 µ-law RTP frames at 20 ms, each tagged in its payload,
 *   and times when the same frame comes back through telgate → agent (echo) → telgate. This is
 *   decode + WebSocket both ways + playout on the shared 20 ms clock, so up to one frame
 *   period of wait is expected by design.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MiniUac } from './mini-uac.js';
import { startTelgate } from './telgate-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SIP_PORT = 5190;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function inviteTo200(): Promise<number[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-bench-'));
  const scenario = (
    await fs.readFile(path.join(here, '..', 'test', 'scenarios', 'uac_rtp.xml'), 'utf8')
  ).replace('<nop><action><exec rtp_stream="tone.ul,1,0"/></action></nop>', '');
  await fs.writeFile(path.join(dir, 'uac.xml'), scenario);
  const args = [
    '-sf',
    'uac.xml',
    '-s',
    '15550100100',
    `127.0.0.1:${SIP_PORT}`,
    '-i',
    '127.0.0.1',
    '-p',
    '5191',
    '-mp',
    '5194',
    '-m',
    '20',
    '-l',
    '1',
    '-r',
    '5',
    '-d',
    '100',
    '-nostdin',
    '-timeout',
    '60',
    '-timeout_error',
    '-trace_rtt',
    '-rtt_freq',
    '1',
  ];
  const code = await new Promise<number | null>((resolve) => {
    const c = spawn('sipp', args, { cwd: dir, stdio: 'ignore' });
    c.on('exit', resolve);
  });
  try {
    if (code !== 0) throw new Error(`sipp failed (${code})`);
    const rtt = (await fs.readdir(dir)).find((f) => f.endsWith('_rtt.csv'));
    const rows = (await fs.readFile(path.join(dir, rtt!), 'utf8')).trim().split('\n').slice(1);
    return rows.map((r) => Number(r.split(';')[1]));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function echoRoundTrip(frames = 250): Promise<number[]> {
  const uac = new MiniUac(SIP_PORT);
  await uac.open();
  const rtpPort = await uac.call();
  const sentAt = new Map<number, bigint>();
  const rtts: number[] = [];
  uac.rtp.on('message', (m) => {
    if (m.length < 12 + 160) return;
    const id = m[12] * 100 + m[13];
    const t0 = sentAt.get(id);
    if (t0 !== undefined && m[14] === 0x55) {
      rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      sentAt.delete(id);
    }
  });
  const pkt = Buffer.alloc(12 + 160, 0x7e);
  const start = process.hrtime.bigint();
  for (let i = 0; i < frames; i++) {
    const due = start + BigInt(i * 20_000_000);
    const wait = Number(due - process.hrtime.bigint()) / 1e6;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pkt[0] = 0x80;
    pkt[1] = 0;
    pkt.writeUInt16BE(i, 2);
    pkt.writeUInt32BE(i * 160, 4);
    pkt.writeUInt32BE(0x1234, 8);
    pkt[12] = Math.floor(i / 100); // µ-law codes below 0x7f survive decode → encode unchanged
    pkt[13] = i % 100;
    pkt[14] = 0x55;
    sentAt.set(i, process.hrtime.bigint());
    uac.rtp.send(pkt, rtpPort, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 200));
  await uac.bye();
  uac.close();
  return rtts;
}

async function main(): Promise<void> {
  const stop = await startTelgate(path.join(here, 'config'));
  try {
    const setup = await inviteTo200();
    const rtt = await echoRoundTrip();
    const row = (name: string, v: number[], n: number) =>
      `| ${name} | ${n} | ${quantile(v, 0.5).toFixed(2)} | ${quantile(v, 0.99).toFixed(2)} | ${Math.min(...v).toFixed(2)} | ${Math.max(...v).toFixed(2)} |`;
    console.log(
      `telgate bench, ${new Date().toISOString()}, ${os.cpus().length} cores, node ${process.version}\n`,
    );
    console.log('| measure | samples | median ms | p99 ms | min ms | max ms |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    console.log(row('INVITE → 200 OK (sipp, with TelAPI + WebSocket set-up)', setup, setup.length));
    console.log(row('echo round trip RTP in → RTP out', rtt, rtt.length));
    console.log(`\nframes echoed: ${rtt.length} of 250`);
  } finally {
    await stop();
  }
}

void main();
