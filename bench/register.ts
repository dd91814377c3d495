/**
 * REGISTERs per second through the registrar with digest: sipp registers one device over UDP
 * (each REGISTER challenged with 401, then answered with an MD5 digest, qop=auth, and bound in
 * the in-memory state store), at a ladder of rates for 10 s each against the built telgate
 * (`dist/main.js`, one process). A step passes when every registration succeeds at ≥ 95 % of
 * the offered rate; the table gives each step's achieved rate and telgate's CPU per REGISTER
 * (user + system time from /proc over the step, both round trips).
 * Usage: npm run build && npm run bench:register  (REGISTER_RATES=500,1000 narrows it)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ha1Of } from '../src/sip/digest-server.js';
import { runCommand } from './run-command.js';
import { cpuSeconds, startTelgate } from './telgate-process.js';

const SECONDS = 10;
const PORT = 5190;
const RATES = (process.env.REGISTER_RATES ?? '250,500,1000,1500,2000').split(',').map(Number);

const SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:alice@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:alice@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:alice@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:alice@[local_ip]:[local_port]>
      [authentication username=alice password=secret]
      Expires: 3600
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
</scenario>
`;

/** CPU seconds (user + system) of `pid` so far. */

async function main(dir: string): Promise<void> {
  const base = await fs.readFile(path.join(import.meta.dirname, 'config', 'telgate.yaml'), 'utf8');
  const configDir = path.join(dir, 'config');
  await fs.mkdir(configDir);
  const device = `devices:\n  - id: alice-phone\n    username: alice\n    ha1: { MD5: ${ha1Of('MD5', 'alice', 'telgate', 'secret')} }\n`;
  await fs.writeFile(path.join(configDir, 'telgate.yaml'), base + device);
  await fs.writeFile(path.join(dir, 'register.xml'), SCENARIO);
  const stop = await startTelgate(configDir);
  const rows: string[] = [];
  try {
    for (const rate of RATES) {
      const before = await cpuSeconds(stop.pid);
      const r = await runCommand(
        'sipp',
        [
          ...['-sf', path.join(dir, 'register.xml'), `127.0.0.1:${PORT}`],
          ...['-i', '127.0.0.1', '-p', '5291', '-t', 'u1'],
          ...['-r', String(rate), '-m', String(rate * SECONDS), '-l', String(rate * 3)],
          ...['-nostdin', '-timeout', String(SECONDS * 4), '-timeout_error'],
        ],
        (SECONDS * 4 + 10) * 1000,
        dir,
      );
      const cpu = (await cpuSeconds(stop.pid)) - before;
      const ok = Number(/Successful call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(r.out)?.[1] ?? 0);
      const failed = Number(/Failed call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(r.out)?.[1] ?? 0);
      const achieved = ok / r.seconds;
      const pass = failed === 0 && ok === rate * SECONDS && achieved >= 0.95 * rate;
      rows.push(
        `| ${rate} | ${achieved.toFixed(0)} | ${failed} | ${((cpu / Math.max(ok, 1)) * 1e6).toFixed(0)} | ${pass ? 'yes' : 'no'} |`,
      );
      if (!pass) break;
    }
  } finally {
    await stop();
  }
  console.log('| offered REGISTER/s | achieved | failed | telgate CPU µs per REGISTER | passed |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-bench-register-'));
try {
  await main(dir);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
