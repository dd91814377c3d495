/**
 * A reference for bench:latency's RTP spacing: how evenly sipp's rtp_stream (C++, its own
 * pacing thread) sends 20 ms packets on this machine, next to telgate's packets on the same
 * calls at the same time. sipp calls telgate's PCMU echo endpoint; dumpcap records the media
 * ports, and both figures come from the kernel's timestamps.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { g711Encode } from '../src/codecs/g711.js';
import { readCapture, startCapture } from './wire-capture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Packets at the start of each stream left out (one second), as in bench:latency. */
const WARM_UP = 50;

export interface SippSpacing {
  /** |gap − 20 ms| between consecutive packets sipp sent on one call. */
  sipp: number[];
  /** The same for the packets telgate sent back on those calls. */
  telgate: number[];
}

/**
 * A 440 Hz tone in µ-law for sipp's rtp_stream, longer than the call: sipp sends two packets at
 * once where a file loops, which is not the pacing this compares.
 */
function tone(seconds: number): Buffer {
  const pcm = new Int16Array(8000 * seconds);
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  const out = new Uint8Array(pcm.length);
  g711Encode('ulaw', pcm, out);
  return Buffer.from(out);
}

function deviations(times: Map<number, number[]>): number[] {
  const out: number[] = [];
  for (const t of times.values()) {
    // The last packets are left out too: a stream's end races the BYE.
    for (let i = WARM_UP + 1; i < t.length - 5; i++) out.push(Math.abs(t[i] - t[i - 1] - 20));
  }
  return out;
}

export async function measureSippSpacing(options: {
  calls: number;
  seconds: number;
  sipPort: number;
  number: string;
  mediaPorts: readonly [number, number];
}): Promise<SippSpacing> {
  const { calls, seconds, mediaPorts } = options;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-sipp-spacing-'));
  try {
    await fs.writeFile(path.join(dir, 'tone.ul'), tone(seconds + 10));
    const scenario = await fs.readFile(
      path.join(here, '..', 'test', 'scenarios', 'uac_rtp.xml'),
      'utf8',
    );
    await fs.writeFile(path.join(dir, 'uac.xml'), scenario);
    const file = path.join(dir, 'capture.pcap');
    const stopCapture = await startCapture(file, `udp portrange ${mediaPorts.join('-')}`);
    try {
      const args = [
        ...[
          '-sf',
          'uac.xml',
          '-s',
          options.number.replace(/^\+/, ''),
          `127.0.0.1:${options.sipPort}`,
        ],
        ...['-i', '127.0.0.1', '-p', '5199', '-mp', '32000'],
        ...['-m', String(calls), '-l', String(calls), '-r', '200', '-rp', '1000'],
        ...[
          '-d',
          String(seconds * 1000),
          '-nostdin',
          '-timeout',
          `${seconds + 60}s`,
          '-timeout_error',
          '-trace_err',
        ],
      ];
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn('sipp', args, { cwd: dir, stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', resolve);
      });
      if (code !== 0) {
        const log = (await fs.readdir(dir)).find((f) => f.endsWith('_errors.log'));
        const errors = log ? await fs.readFile(path.join(dir, log), 'utf8') : '';
        throw new Error(`sipp exited ${code}: ${errors.trim().split('\n').slice(-5).join(' | ')}`);
      }
    } finally {
      await stopCapture();
    }
    const capture = await readCapture(file);
    const inMedia = (port: number) => port >= mediaPorts[0] && port <= mediaPorts[1];
    const fromSipp = new Map<number, number[]>();
    const fromTelgate = new Map<number, number[]>();
    for (const d of capture.udp) {
      if (d.payload.length < 12 || (d.payload[0] & 0xc0) !== 0x80 || d.payload[1] >= 200) continue;
      const [streams, key] = inMedia(d.dstPort) ? [fromSipp, d.dstPort] : [fromTelgate, d.srcPort];
      if (!inMedia(key)) continue;
      if (!streams.has(key)) streams.set(key, []);
      streams.get(key)!.push(d.t);
    }
    return { sipp: deviations(fromSipp), telgate: deviations(fromTelgate) };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
