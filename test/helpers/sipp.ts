import { createHash } from 'node:crypto';
/** Runs sipp as a real SIP peer: bounded by -m, -timeout and a kill timer. */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp-dirs.js';
import { runProcess, startProcess, type Finished, type Running } from './processes.js';

const SCENARIOS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scenarios');

/**
 * Test peers' ports come from 23000–30999, below the kernel's ephemeral range (32768 and up):
 * a port there can be any outgoing connection's, or held in TIME_WAIT, when a peer binds it.
 */
const PEER_PORTS = { first: 23000, last: 30990 };
let nextPort = PEER_PORTS.first + (process.pid % 40) * 200;

/** A block of 10 loopback ports for one sipp instance (SIP port, then media port and +2). */
export function sippPorts(): { sip: number; media: number } {
  nextPort += 10;
  if (nextPort > PEER_PORTS.last) nextPort = PEER_PORTS.first;
  return { sip: nextPort, media: nextPort + 4 };
}

export function workDir(): Promise<string> {
  return tempDir();
}

/** Copies a scenario into `dir`, applying text substitutions; returns its path. */
export async function scenario(
  dir: string,
  name: string,
  replace: Record<string, string> = {},
): Promise<string> {
  let text = await fs.readFile(path.join(SCENARIOS, name), 'utf8');
  for (const [from, to] of Object.entries(replace)) text = text.split(from).join(to);
  const file = path.join(dir, name);
  await fs.writeFile(file, text);
  return file;
}

export interface SippCall {
  dir: string;
  scenarioFile: string;
  service: string;
  target: number;
  ports: { sip: number; media: number };
  calls?: number;
  rate?: number;
  extra?: string[];
  timeoutS?: number;
}

function sippArgs(c: SippCall): string[] {
  const calls = c.calls ?? 1;
  return [
    '-sf',
    c.scenarioFile,
    '-s',
    c.service,
    `127.0.0.1:${c.target}`,
    '-i',
    '127.0.0.1',
    '-p',
    String(c.ports.sip),
    '-mp',
    String(c.ports.media),
    '-m',
    String(calls),
    '-r',
    String(c.rate ?? 10),
    '-nostdin',
    '-timeout',
    String(c.timeoutS ?? 20),
    '-timeout_error',
    ...(c.extra ?? []),
  ];
}

export function runSipp(c: SippCall): Promise<Finished> {
  return runProcess('sipp', sippArgs(c), {
    cwd: c.dir,
    timeoutMs: ((c.timeoutS ?? 20) + 5) * 1000,
  });
}

export function startSipp(c: SippCall): Running {
  return startProcess('sipp', sippArgs(c), {
    cwd: c.dir,
    timeoutMs: ((c.timeoutS ?? 20) + 5) * 1000,
  });
}

/** A µ-law tone file for rtp_stream, made by sox. */
export async function toneFile(
  dir: string,
  frequency: number,
  seconds: number,
  name = 'tone.ul',
): Promise<string> {
  const file = path.join(dir, name);
  const r = await runProcess(
    'sox',
    [
      '-n',
      '-r',
      '8000',
      '-c',
      '1',
      '-t',
      'ul',
      file,
      'synth',
      String(seconds),
      'sine',
      String(frequency),
      'vol',
      '0.5',
    ],
    { timeoutMs: 10_000 },
  );
  if (r.code !== 0) throw new Error(`sox failed: ${r.stderr}`);
  return file;
}

/** The -trace_msg log of the scenario whose file name starts with `prefix`. */
export async function messagesLog(dir: string, prefix: string): Promise<string> {
  const log = (await fs.readdir(dir)).find(
    (f) => f.startsWith(prefix) && f.endsWith('_messages.log'),
  );
  if (!log) throw new Error(`no ${prefix}*_messages.log in ${dir}`);
  return fs.readFile(path.join(dir, log), 'utf8');
}

/**
 * Starts a sipp UAS (`-sn uas` or a scenario file) for one call on its own ports; over TCP it
 * resolves once the port accepts connections.
 */
export async function startSippUas(
  scenarioArgs: string[],
  options: { cwd: string; transport?: 'udp' | 'tcp'; timeoutS?: number },
): Promise<{ sipp: Running; ports: { sip: number; media: number } }> {
  const ports = sippPorts();
  const timeoutS = options.timeoutS ?? 20;
  const sipp = startProcess(
    'sipp',
    [
      ...scenarioArgs,
      '-i',
      '127.0.0.1',
      '-p',
      String(ports.sip),
      '-mp',
      String(ports.media),
      '-m',
      '1',
      '-nostdin',
      '-timeout',
      String(timeoutS),
      '-timeout_error',
      '-t',
      options.transport === 'tcp' ? 't1' : 'u1',
    ],
    { cwd: options.cwd, timeoutMs: (timeoutS + 5) * 1000 },
  );
  if (options.transport === 'tcp') await untilListening(ports.sip);
  return { sipp, ports };
}

/** sipp gives no readiness signal: try to connect until its TCP port accepts (bounded). */
async function untilListening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on TCP ${port}`);
}

/** The scenario replacement that takes uac_rtp.xml's tone out: a call with no caller audio. */
export const WITHOUT_TONE = {
  '<nop><action><exec rtp_stream="tone.ul,1,0"/></action></nop>': '',
} as const;

/** sipp holds a call to `service` for `pauseMs` without sending audio, then hangs up. */
export async function startQuietCall(target: number, service: string, pauseMs: number) {
  const dir = await workDir();
  return startSipp({
    dir,
    scenarioFile: await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE),
    service,
    target,
    ports: sippPorts(),
    extra: ['-d', String(pauseMs)],
  });
}

/** Runs one sipp call of `file` (with `replace`) to `service` at `target`; throws unless it passed. */
async function runOne(
  target: number,
  service: string,
  file: string,
  replace: Record<string, string>,
  extra: string[],
  what: string,
): Promise<string> {
  const dir = await workDir();
  const r = await runSipp({
    dir,
    scenarioFile: await scenario(dir, file, replace),
    service,
    target,
    ports: sippPorts(),
    extra,
  });
  if (r.code !== 0) throw new Error(`sipp: ${what}: ${r.stdout}${r.stderr}`);
  return dir;
}

/** sipp calls `service` at `target` expecting the final status `status`; returns its message log. */
export async function callExpecting(
  target: number,
  service: string,
  status: number,
): Promise<string> {
  const replace = { EXPECT: String(status) };
  const dir = await runOne(
    target,
    service,
    'uac_expect.xml',
    replace,
    ['-trace_msg'],
    `expected ${status}`,
  );
  return messagesLog(dir, 'uac_expect');
}

/** sipp's OPTIONS to `target` gets `status`. */
export async function optionsExpecting(target: number, status: number): Promise<void> {
  const replace = { EXPECT: String(status) };
  await runOne(target, 'ping', 'uac_options_expect.xml', replace, [], `OPTIONS expected ${status}`);
}

/** sipp's call to `service` at `target` is answered; it hangs up after `pauseMs`. */
export async function callAnswered(
  target: number,
  service: string,
  pauseMs = 200,
  replace: Record<string, string> = {},
): Promise<void> {
  const all = { ...WITHOUT_TONE, ...replace };
  await runOne(target, service, 'uac_rtp.xml', all, ['-d', String(pauseMs)], 'call not answered');
}

/**
 * An egress trunk and its callee in one sipp: challenges the INVITE with 407 (or 401), checks
 * the credentials' form (sipp's verifyauth reads Authorization only: the tests check the digest
 * themselves), answers, streams `toneFile` (in `dir`), waits for BYE. Its messages are in the
 * `uas_auth` log.
 */
export async function answeringTrunk(dir: string, toneFile: string, challenge: 401 | 407 = 407) {
  const header = challenge === 407 ? 'Proxy-Authorization:' : 'Authorization:';
  const proxy: Record<string, string> = {
    '401 Unauthorized': '407 Proxy Authentication Required',
    'WWW-Authenticate:': 'Proxy-Authenticate:',
    'header="Authorization:"': 'header="Proxy-Authorization:"',
  };
  return startSippUas(
    [
      '-sf',
      await scenario(dir, 'uas_auth.xml', {
        ...(challenge === 407 ? proxy : {}),
        ALGO: 'MD5',
        VERIFY: `<ereg regexp="response=.[0-9a-f]{32}." search_in="hdr" header="${header}" assign_to="valid"/>`,
        '<recv request="ACK"/>\n  <recv request="BYE"/>': `<recv request="ACK"/>\n  <nop><action><exec rtp_stream="${toneFile},-1,0"/></action></nop>\n  <recv request="BYE"/>`,
      }),
      '-trace_msg',
    ],
    { cwd: dir },
  );
}

/**
 * The (Proxy-)Authorization digest of the INVITE in a sipp message log, and the response RFC 7616
 * computes for it (MD5, qop=auth) from `username` and `password`: equal when telgate's is right.
 */
export function inviteDigest(
  log: string,
  username: string,
  password: string,
): { given: string; expected: string } {
  const auth = /^(?:Proxy-)?Authorization: (Digest [^\r\n]+)/m.exec(log)![1];
  const field = (name: string) => new RegExp(`${name}="?([^",]+)"?`).exec(auth)![1];
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const ha1 = md5(`${username}:${field('realm')}:${password}`);
  const ha2 = md5(`INVITE:${field('uri')}`);
  return {
    given: field('response'),
    expected: md5(`${ha1}:${field('nonce')}:${field('nc')}:${field('cnonce')}:auth:${ha2}`),
  };
}

/** An egress trunk for the test config: sipp on `port`, digest user alice (TRUNK_PASSWORD). */
export function egressTrunk(port: number, maxCalls: number): Record<string, unknown> {
  return {
    id: 'egress',
    outbound: { host: '127.0.0.1', port, username: 'alice', passwordEnv: 'TRUNK_PASSWORD' },
    maxCalls,
  };
}
