/**
 * The JavaScript a call's media path runs per 20 ms, without the sockets: what telgate itself
 * adds between the UDP socket and the agent's WebSocket, beside the least any RTP ↔ WebSocket
 * bridge must do (parse the RTP header, µ-law table decode into a new buffer one way, table
 * encode into a new packet the other), timed in the same process and run.
 * Usage: npm run bench:media-path (env CALLS=100, FRAMES=3000 per call and round, ROUNDS=7,
 * LINK=slin|slin16|slin24).
 *
 * Method: CALLS caller legs (RtpCallerLeg with its AgentSide, as a call makes them, PCMU), each
 * fed one RTP packet, one agent frame and one tick of its media clock per 20 ms of a simulated
 * clock; the legs' packets and link frames go to counters instead of sockets. The floor does
 * the same counts of packets and frames. CPU time (process.cpuUsage) per frame of each round,
 * the median of ROUNDS, turned into µs per call-second (50 frames each way). The kernel's and
 * Node's socket and WebSocket work is not here: that is the same for both, and bench-floor
 * measures the whole.
 */
import type { Logger } from 'pino';
import pino from 'pino';
import { describeCodec } from '../src/codecs/codec.js';
import { g711Decode, g711Encode } from '../src/codecs/g711.js';
import { LINK_FORMAT_RATE, type LinkFormat } from '../src/link/protocol.js';
import type { LinkEvents, LinkSession } from '../src/link/link-session.js';
import type { MediaClock } from '../src/media/media-clock.js';
import type { PortPool } from '../src/media/port-pool.js';
import { writeRtpHeader } from '../src/media/rtp-packet.js';
import type { RtpPath } from '../src/media/rtp-session.js';
import { AgentSide } from '../src/call/agent-side.js';
import { RtpCallerLeg } from '../src/call/caller-leg-rtp.js';

const CALLS = Number(process.env.CALLS ?? 100);
const FRAMES = Number(process.env.FRAMES ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const LINK = (process.env.LINK ?? 'slin') as LinkFormat;

const log = pino({ level: 'silent' }) as Logger;
let now = 0;
let sentRtp = 0;
let sentFrames = 0;

/** A clock that only tells the simulated time: the bench ticks the legs itself. */
const clock = {
  periodMs: 20,
  elapsedMs: () => now,
  add: () => undefined,
  remove: () => undefined,
} as unknown as MediaClock;

interface SimCall {
  deliver: (packet: Buffer, address: string, port: number) => void;
  leg: RtpCallerLeg;
  tick: () => void;
  agentAudio: (frame: Buffer) => void;
  packets: Buffer[];
}

function makeCall(index: number): SimCall {
  let deliver: SimCall['deliver'] = () => undefined;
  const path: RtpPath = {
    port: 40000 + index * 2,
    listen: (onPacket) => {
      deliver = onPacket;
    },
    sendRtp: () => void sentRtp++,
    sendRtcp: () => undefined,
    release: () => undefined,
  };
  let linkEvents: LinkEvents | undefined;
  const link = {
    open: async () => undefined,
    sendAudio: () => void sentFrames++,
    send: () => undefined,
    close: () => undefined,
    framesDropped: 0,
    resumes: 0,
    sessionId: `s${index}`,
  } as unknown as LinkSession;
  const agent = new AgentSide(
    {
      clock,
      linkFormat: LINK,
      playoutMaxSeconds: 60,
      playoutDelayMs: 20,
      qualityIntervalSeconds: 5,
      log,
      openLink: (events) => {
        linkEvents = events;
        return link;
      },
    },
    {
      onHangup: () => undefined,
      onTransfer: () => undefined,
      onLinkLost: () => undefined,
      onSecond: () => undefined,
    },
  );
  void agent.open({} as never);
  const leg = new RtpCallerLeg(
    {
      clock,
      ports: {} as PortPool,
      path,
      mediaAddress: '127.0.0.1',
      strictSource: false,
      linkFormat: LINK,
      jitterMinMs: 20,
      jitterMaxMs: 200,
      log,
    },
    agent,
  );
  agent.attach(leg);
  const description = describeCodec('PCMU', 8000, 1, LINK_FORMAT_RATE[LINK])!;
  leg.applyPlan({
    negotiated: {
      codec: { payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1 },
      description,
      telephoneEvent: { payloadType: 101, name: 'telephone-event', clockRate: 8000, channels: 1 },
      ptime: 20,
    },
    remoteAddress: '127.0.0.1',
    remotePort: 20000 + index * 2,
    send: true,
    rtcpMux: false,
  });
  leg.start();
  // The leg's two clock subscribers, as MediaClock would call them: its tick and its release.
  const release = (leg as unknown as { callerRelease: { onTick(at: number): unknown } })
    .callerRelease;
  const packets = Array.from({ length: 50 }, () => Buffer.alloc(172));
  return {
    deliver: (packet, address, port) => deliver(packet, address, port),
    leg,
    tick: () => {
      leg.onTick(now);
      release.onTick(now);
    },
    agentAudio: (frame) => linkEvents!.onAudio(frame),
    packets,
  };
}

const tone = new Int16Array(160).map((_, i) =>
  Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)),
);
const toneUlaw = Buffer.alloc(160);
g711Encode('ulaw', tone, toneUlaw);

function packetFor(call: SimCall, frame: number, ssrc: number): Buffer {
  const packet = call.packets[frame % call.packets.length];
  writeRtpHeader(packet, 0, frame === 0, frame & 0xffff, (frame * 160) >>> 0, ssrc);
  toneUlaw.copy(packet, 12);
  return packet;
}

function runTelgate(calls: SimCall[], frames: number, startFrame: number): number {
  const agentFrame = Buffer.alloc((LINK_FORMAT_RATE[LINK] / 50) * 2);
  const before = process.cpuUsage();
  for (let f = startFrame; f < startFrame + frames; f++) {
    now = f * 20;
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c];
      call.deliver(packetFor(call, f, 1000 + c), '127.0.0.1', 20000 + c * 2);
      call.agentAudio(agentFrame);
      call.tick();
    }
  }
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** The floor: what the least bridge does per packet each way (see the module comment). */
const DECODE = new Int16Array(256);
g711Decode(
  'ulaw',
  Uint8Array.from({ length: 256 }, (_, i) => i),
  DECODE,
);
const ENCODE = new Uint8Array(65536);
{
  const scratch = new Int16Array(65536).map((_, i) => (i << 16) >> 16);
  g711Encode('ulaw', scratch, Buffer.from(ENCODE.buffer));
}

function runFloor(calls: SimCall[], frames: number, startFrame: number): number {
  const agentFrame = Buffer.alloc(320);
  const queues: Buffer[][] = calls.map(() => []);
  let sequence = 0;
  const before = process.cpuUsage();
  for (let f = startFrame; f < startFrame + frames; f++) {
    for (let c = 0; c < calls.length; c++) {
      const m = packetFor(calls[c], f, 1000 + c);
      if (m.length < 12 || m[0] >> 6 !== 2 || (m[1] & 0x7f) !== 0) continue;
      const offset = 12 + 4 * (m[0] & 0x0f);
      const n = m.length - offset;
      const pcm = Buffer.allocUnsafe(2 * n);
      const samples = new Int16Array(pcm.buffer, pcm.byteOffset, n);
      for (let j = 0; j < n; j++) samples[j] = DECODE[m[offset + j]];
      sentFrames++;
      const out = Buffer.allocUnsafe(12 + (agentFrame.length >> 1));
      for (let j = 0; j < agentFrame.length >> 1; j++) {
        out[12 + j] = ENCODE[agentFrame[2 * j] | (agentFrame[2 * j + 1] << 8)];
      }
      queues[c].push(out);
      const p = queues[c].shift()!;
      sequence = (sequence + 1) & 0xffff;
      p[0] = 0x80;
      p[1] = 0;
      p.writeUInt16BE(sequence, 2);
      p.writeUInt32BE(f * 160, 4);
      p.writeUInt32BE(1000 + c, 8);
      sentRtp++;
    }
  }
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const perCallSecond = (cpuMicros: number) => (cpuMicros / (CALLS * FRAMES)) * 50;

const calls = Array.from({ length: CALLS }, (_, i) => makeCall(i));
// Warm-up: both paths optimised before anything is timed.
runTelgate(calls, 500, 0);
runFloor(calls, 500, 0);
let frame = 500;
const telgate: number[] = [];
const floor: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  telgate.push(perCallSecond(runTelgate(calls, FRAMES, frame)));
  floor.push(perCallSecond(runFloor(calls, FRAMES, frame)));
  frame += FRAMES;
}
const ratios = telgate.map((t, i) => t / floor[i]);
const fmt = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');
console.log(
  `media path, ${CALLS} calls, PCMU ↔ ${LINK}, ${ROUNDS} rounds of ${FRAMES} frames per call`,
);
console.log(`| µs per call-second | median | rounds |`);
console.log(`| --- | --- | --- |`);
console.log(`| telgate's media path | ${median(telgate).toFixed(1)} | ${fmt(telgate)} |`);
console.log(
  `| the floor (parse, table codec, new buffers) | ${median(floor).toFixed(1)} | ${fmt(floor)} |`,
);
console.log(`| telgate ÷ floor, paired | ${median(ratios).toFixed(2)} | ${fmt(ratios)} |`);
console.log(`(sent: ${sentRtp} RTP packets, ${sentFrames} link frames; ${calls.length} legs)`);
for (const call of calls) call.leg.close();
