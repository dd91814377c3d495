/**
 * SRTP's cost per packet: protect and unprotect of a 20 ms PCMU packet (12-octet header, 160
 * octets of payload) for each suite, beside the plain path (the copy an unprotected packet
 * costs). Method: 2 000 packets of warm-up, then 20 000 timed with process.hrtime.bigint(); 7
 * rounds over all suites in turn, the median of each printed, so a burst of load on the shared
 * machine touches every suite alike. One process, one core, no sockets. The per-call figure is
 * 50 packets each way per second: µs per packet × 100 is µs per call-second.
 * Usage: npm run bench:srtp
 */
import { SrtpReceiver, SrtpSender } from '../src/media/srtp.js';
import { SRTP_SUITE_NAMES, SRTP_SUITES, type SrtpSuite } from '../src/media/srtp-keys.js';

const WARM = 2000;
const PACKETS = 20_000;
const ROUNDS = 7;

function packet(seq: number): Buffer {
  const p = Buffer.alloc(12 + 160, 0xd5);
  p[0] = 0x80;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE(seq * 160, 4);
  p.writeUInt32BE(0x1234abcd, 8);
  return p;
}

/** µs per packet for protect, then unprotect, of `suite` (undefined: the plain copy). */
function measure(suite: SrtpSuite | undefined, start: number): [number, number] {
  const keys = suite && {
    masterKey: Buffer.alloc(SRTP_SUITES[suite].keyLength, 1),
    masterSalt: Buffer.alloc(SRTP_SUITES[suite].saltLength, 2),
  };
  const sender = suite && keys ? new SrtpSender(suite, keys) : undefined;
  const receiver = suite && keys ? new SrtpReceiver(suite, keys) : undefined;
  const plain = Array.from({ length: WARM + PACKETS }, (_, i) => packet(start + i));
  const wire: Buffer[] = new Array(plain.length);
  const copy = (p: Buffer) => Buffer.from(p);
  let t0 = 0n;
  for (let i = 0; i < plain.length; i++) {
    if (i === WARM) t0 = process.hrtime.bigint();
    wire[i] = sender ? sender.protectRtp(plain[i]) : copy(plain[i]);
  }
  const protect = Number(process.hrtime.bigint() - t0) / 1000 / PACKETS;
  for (let i = 0; i < plain.length; i++) {
    if (i === WARM) t0 = process.hrtime.bigint();
    const out = receiver ? receiver.unprotectRtp(wire[i]) : copy(wire[i]);
    if (!out) throw new Error(`${suite}: packet ${i} did not verify`);
  }
  const unprotect = Number(process.hrtime.bigint() - t0) / 1000 / PACKETS;
  return [protect, unprotect];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

const cases: Array<SrtpSuite | undefined> = [undefined, ...SRTP_SUITE_NAMES];
const results = new Map<string, Array<[number, number]>>();
for (let round = 0; round < ROUNDS; round++) {
  for (const suite of cases) {
    const name = suite ?? 'plain RTP (copy only)';
    results.set(name, [...(results.get(name) ?? []), measure(suite, round * 100_000)]);
  }
}
console.log(
  '| suite | protect µs/packet | unprotect µs/packet | µs per call-second (50 pkt/s each way) |',
);
console.log('|---|---|---|---|');
for (const [name, runs] of results) {
  const p = median(runs.map((r) => r[0]));
  const u = median(runs.map((r) => r[1]));
  console.log(`| ${name} | ${p.toFixed(2)} | ${u.toFixed(2)} | ${(50 * (p + u)).toFixed(0)} |`);
}
