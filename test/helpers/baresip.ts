/**
 * baresip as a real SIP phone: a headless config (no sound card: aufile plays a WAV and hangs
 * up at its end, sndfile records what the phone receives), driven by `-e /dial`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { runProcess, type Finished } from './processes.js';
import { until } from './wait.js';

/** A WAV of a `hz` tone for baresip to play: `seconds` long at `rate`, made by sox in `dir`. */
export async function toneWav(dir: string, hz: number, rate: number, seconds: number) {
  const wav = path.join(dir, `tone${hz}-${rate}-${seconds}s.wav`);
  const args = ['-n', '-r', String(rate), '-c', '1', '-b', '16', wav];
  const sox = await runProcess(
    'sox',
    [...args, 'synth', String(seconds), 'sine', String(hz), 'vol', '0.5'],
    { timeoutMs: 10_000 },
  );
  if (sox.code !== 0) throw new Error(`sox failed: ${sox.stderr}`);
  return wav;
}

/**
 * Waits until baresip's recording of its one call holds at least `frames` 20 ms frames that
 * `accept` takes (its WAV is written as the call goes and completed at its end, a moment after
 * baresip says the call closed: no event says when, so the file is polled), and returns it.
 */
export async function awaitRecording(
  recordDir: string,
  accept: (recording: { rate: number; all: Int16Array[] }) => boolean,
  timeoutMs = 5000,
) {
  return until(
    () => recordedFrames(recordDir).catch(() => ({ rate: 8000, all: [] as Int16Array[] })),
    accept,
    timeoutMs,
    `baresip's recording in ${recordDir}`,
  );
}

/** What baresip recorded of its one call (its `-dec.wav`), in 20 ms frames, and the rate. */
export async function recordedFrames(recordDir: string) {
  const recordings = (await fs.readdir(recordDir)).filter((f) => f.endsWith('-dec.wav'));
  if (recordings.length !== 1) throw new Error(`${recordings.length} recordings, not one`);
  const recorded = readWav(await fs.readFile(path.join(recordDir, recordings[0])));
  return { rate: recorded.rate, all: frames(recorded.samples, recorded.rate / 50) };
}

export interface BaresipOptions {
  dir: string;
  sipPort: number;
  rtpRange: [number, number];
  sourceWav: string;
  codecs: string;
  /** Sample rate of baresip's audio source and player (16000 for G.722). */
  sampleRate?: number;
  /** SIP over TLS: the CA file baresip checks the server's certificate against. */
  tlsCaFile?: string;
  /** The whole `accounts` line instead of the default (a registering account). */
  account?: string;
  /** The account's user: what a Request-URI must name for baresip to answer (default phone). */
  user?: string;
  /** SIP over TLS as a server too (on sipPort + 1): its certificate and key in one PEM file. */
  tlsCertificate?: string;
  /** SRTP: `srtp-mand` offers RTP/SAVP only (SDES keys). */
  mediaenc?: 'srtp-mand' | 'srtp';
}

export async function writeBaresipConfig(
  o: BaresipOptions,
): Promise<{ configDir: string; recordDir: string }> {
  const configDir = path.join(o.dir, `baresip-${o.sipPort}`);
  const recordDir = path.join(configDir, 'rec');
  await fs.mkdir(recordDir, { recursive: true });
  const config = [
    `sip_listen 127.0.0.1:${o.sipPort}`,
    'net_interface 127.0.0.1',
    `rtp_ports ${o.rtpRange[0]}-${o.rtpRange[1]}`,
    'call_max_calls 4',
    `audio_source aufile,${o.sourceWav}`,
    `audio_player aubridge,sink_${o.sipPort}`,
    `audio_alert aubridge,sink_${o.sipPort}`,
    `ausrc_srate ${o.sampleRate ?? 8000}`,
    'ausrc_channels 1',
    `auplay_srate ${o.sampleRate ?? 8000}`,
    'auplay_channels 1',
    `snd_path ${recordDir}`,
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module g722.so',
    'module opus.so',
    'module l16.so',
    'module aufile.so',
    'module aubridge.so',
    'module sndfile.so',
    ...(o.mediaenc ? ['module srtp.so'] : []),
    ...(o.tlsCaFile ? [`sip_cafile ${o.tlsCaFile}`] : []),
    ...(o.tlsCertificate ? [`sip_certificate ${o.tlsCertificate}`] : []),
    'module_tmp account.so',
    'module_app menu.so',
  ];
  await fs.writeFile(path.join(configDir, 'config'), config.join('\n') + '\n');
  await fs.writeFile(
    path.join(configDir, 'accounts'),
    o.account
      ? `${o.account}\n`
      : `<sip:${o.user ?? 'phone'}@127.0.0.1:${o.sipPort}${o.tlsCaFile || o.tlsCertificate ? ';transport=tls' : ''}>;regint=0;answermode=auto;audio_codecs=${o.codecs}${o.mediaenc ? `;mediaenc=${o.mediaenc}` : ''}\n`,
  );
  await fs.writeFile(path.join(configDir, 'contacts'), '');
  return { configDir, recordDir };
}

export function dial(configDir: string, uri: string, quitAfterS: number): Promise<Finished> {
  return runProcess('baresip', ['-f', configDir, '-t', String(quitAfterS), '-e', `/dial ${uri}`], {
    timeoutMs: (quitAfterS + 5) * 1000,
  });
}

/** Reads a 16-bit PCM WAV (mono or the first channel) and its sample rate. */
export function readWav(buf: Buffer): { rate: number; samples: Int16Array } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error('not a WAV file');
  let off = 12;
  let rate = 0;
  let channels = 1;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      rate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const end = Math.min(buf.length, off + 8 + size);
      const n = Math.floor((end - off - 8) / 2 / channels);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(off + 8 + i * 2 * channels);
      return { rate, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('WAV has no data chunk');
}

export function frames(samples: Int16Array, size: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + size <= samples.length; i += size) out.push(samples.subarray(i, i + size));
  return out;
}
