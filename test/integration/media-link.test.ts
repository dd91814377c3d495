/**
 * The media path against real peers: sipp places the calls, the embedded local agent plays
 * its scripted part, and what each side gets is checked. The lossy, reordering RTP stream comes
 * from a test generator (sipp cannot reorder); DTMF comes from sipp's own RFC 4733 pcaps.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Capture } from '../helpers/capture.js';
import { BASE, callsClosed, gatewayForFile, PUBLISHED } from '../helpers/gateway.js';
import { dominantFrequency, snrDb } from '../helpers/audio.js';
import { peerOpusPackets } from '../helpers/opus-peer.js';
import { newRtpHeader, readRtpHeader } from '../../src/media/rtp-packet.js';
import { parseTelephoneEvent } from '../../src/media/dtmf.js';
import { g711Decode } from '../../src/codecs/g711.js';
import { createCodec, describeCodec } from '../../src/codecs/codec.js';
import { scenario, sippPorts, startSipp, workDir } from '../helpers/sipp.js';

const MEDIA_MIN = 31700;

const gw = gatewayForFile(MEDIA_MIN, (raw) => {
  (raw.media as Record<string, unknown>).jitterMinMs = 100;
  const behaviours = (raw.localAgent as { behaviours: Record<string, unknown> }).behaviours;
  behaviours.listen = { kind: 'script' };
  behaviours.barge = {
    kind: 'script',
    steps: [
      { atMs: 0, do: 'play', frequency: 500, ms: 5000 },
      { atMs: 0, do: 'mark', name: 'after-5s' },
      { atMs: 1000, do: 'clear' },
    ],
  };
  behaviours.marks = {
    kind: 'script',
    steps: [
      { atMs: 0, do: 'play', frequency: 500, ms: 300 },
      { atMs: 0, do: 'mark', name: 'first' },
      { atMs: 0, do: 'play', frequency: 700, ms: 300 },
      { atMs: 0, do: 'mark', name: 'second' },
    ],
  };
  behaviours.dtmf = { kind: 'script', steps: [{ atMs: 200, do: 'dtmf', digits: '5#' }] };
  behaviours.slow = { kind: 'script', slowConsumer: true };
  behaviours['opus-listen'] = { kind: 'script' };
  const endpoints = raw.endpoints as unknown[];
  for (const [id, extension] of [
    ['listen', '500'],
    ['barge', '501'],
    ['marks', '502'],
    ['dtmf', '503'],
  ]) {
    endpoints.push({ id, baseNumber: BASE, extension, flow: PUBLISHED });
  }
  endpoints.push({
    id: 'opus-listen',
    baseNumber: BASE,
    extension: '505',
    flow: PUBLISHED,
    audio: { linkFormat: 'slin24' },
  });
  // 96 kB/s to an agent that reads nothing: the socket's buffers fill within seconds.
  endpoints.push({
    id: 'slow',
    baseNumber: BASE,
    extension: '504',
    flow: PUBLISHED,
    audio: { linkFormat: 'slin48' },
  });
});

const service = (extension: string) => `${BASE.slice(1)}${extension}`;

/** What the local agent got in one session: its JSON messages and audio, with arrival times. */
function recordAgent() {
  const agent = gw.current.gateway.localAgent!;
  const messages: Array<{ at: number; message: Record<string, unknown> }> = [];
  const audio: Buffer[] = [];
  const onMessage = (_id: string, message: Record<string, unknown>) =>
    messages.push({ at: Date.now(), message });
  const onAudio = (_id: string, pcm: Buffer) => audio.push(pcm);
  agent.on('message', onMessage);
  agent.on('audio', onAudio);
  return {
    messages,
    audio,
    of: (type: string) => messages.filter((m) => m.message.type === type),
    stop: () => {
      agent.off('message', onMessage);
      agent.off('audio', onAudio);
    },
  };
}

/**
 * sipp offers `formats`, runs `actions`, waits `pauseMs` and hangs up; with `capture`, what
 * telgate sends to sipp's media port is recorded meanwhile.
 */
async function call(
  extension: string,
  options: {
    formats: string;
    attributes?: string[];
    actions?: string;
    pauseMs: number;
    capture?: boolean;
  },
) {
  const dir = await workDir();
  const ports = sippPorts();
  const capture = options.capture
    ? await Capture.start(
        dir,
        `udp and dst port ${ports.media} and src portrange ${MEDIA_MIN}-${MEDIA_MIN + 19}`,
      )
    : undefined;
  const scenarioFile = await scenario(dir, 'uac_offer_pause_bye.xml', {
    MEDIA_FORMATS: options.formats,
    MEDIA_ATTRIBUTES: (options.attributes ?? []).join('\n'),
    ACTIONS: options.actions ?? '',
    PAUSE_MS: String(options.pauseMs),
  });
  const sipp = startSipp({
    dir,
    scenarioFile,
    service: service(extension),
    target: gw.current.sipPort,
    ports,
    timeoutS: Math.ceil(options.pauseMs / 1000) + 20,
  });
  return {
    sipp,
    /** sipp's exit (checked) and the datagrams captured. */
    finished: async () => {
      const done = await sipp.done;
      const datagrams = (await capture?.stop()) ?? [];
      expect(done.code, done.stdout + done.stderr).toBe(0);
      return datagrams;
    },
  };
}

/** A call placed by sipp, once telgate has answered it. */
async function answeredCall(extension: string, options: Parameters<typeof call>[1]) {
  const answered = once(gw.current.gateway.events, 'answered');
  const placed = await call(extension, options);
  const [, mediaPort] = await answered;
  return { ...placed, mediaPort: mediaPort as number };
}

/**
 * A call whose RTP comes from the test's own generator: sipp offers `rtpmap` and pauses, the
 * agent's side is recorded, and a socket is ready to send to telgate's media port.
 */
async function generatorCall(extension: string, rtpmap: string, pauseMs: number) {
  const agent = recordAgent();
  const format = rtpmap.split(' ')[0];
  const placed = await answeredCall(extension, {
    formats: format,
    attributes: [`a=rtpmap:${rtpmap}`],
    pauseMs,
  });
  const port = placed.mediaPort;
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { agent, placed, port, socket };
}

/** Each generated packet's samples carry its index; odd, so a halved repeat cannot pass for one. */
const valueOf = (index: number) => 1001 + 8 * index;

/** A tiny seeded generator, so the network's misbehaviour is the same on every run. */
function seeded(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('caller → agent through the jitter buffer', () => {
  it('a lossy, reordering, jittery stream reaches the agent in order, gaps concealed, 20 ms per frame', async () => {
    const { agent, placed, port, socket } = await generatorCall('500', '96 L16/8000', 3500);
    const random = seeded(42);
    const lost = new Set<number>();
    const schedule: Array<{ index: number; at: number }> = [];
    for (let i = 0; i < 100; i++) {
      if (i > 0 && random() < 0.1) {
        lost.add(i);
        continue;
      }
      schedule.push({ index: i, at: i * 20 + Math.floor(random() * 40) });
      if (i % 11 === 5) schedule.push({ index: i, at: i * 20 + 45 }); // a duplicate
    }
    schedule.sort((a, b) => a.at - b.at); // jitter reorders neighbours
    const packet = (index: number) => {
      const b = Buffer.alloc(12 + 320);
      b[0] = 0x80;
      b[1] = 96;
      b.writeUInt16BE((65530 + index) & 0xffff, 2); // wraps during the stream
      b.writeUInt32BE((0xffffff00 + index * 160) >>> 0, 4);
      b.writeUInt32BE(0x1234, 8);
      for (let s = 0; s < 160; s++) b.writeInt16BE(valueOf(index), 12 + 2 * s);
      return b;
    };
    const start = Date.now();
    for (const { index, at } of schedule) {
      const wait = start + at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the generator
      socket.send(packet(index), port, '127.0.0.1');
    }
    await placed.finished();
    socket.close();
    agent.stop();

    // Every frame the agent got is 20 ms of slin (320 bytes).
    expect(agent.audio.length).toBeGreaterThan(90);
    expect(agent.audio.every((f) => f.length === 320)).toBe(true);
    const values = agent.audio.map((f) => f.readInt16LE(0));
    const heard = values.map((v) => (v >= 1001 && v % 8 === 1 ? (v - 1001) / 8 : -1));
    const first = heard.findIndex((i) => i >= 0);
    const last = heard.length - 1 - [...heard].reverse().findIndex((i) => i >= 0);
    const played = heard.slice(first, last + 1);
    // In order, every packet that was sent, and one concealed frame in place of each lost one.
    const sent = schedule.map((s) => s.index).filter((i, n, all) => all.indexOf(i) === n);
    expect(played.filter((i) => i >= 0)).toEqual([...sent].sort((a, b) => a - b));
    expect(played.length).toBe(heard[last] - heard[first] + 1);
    let lastHeard = played[0];
    let row = 0;
    for (let n = 1; n < played.length; n++) {
      if (played[n] >= 0) {
        lastHeard = played[n];
        row = 0;
        continue;
      }
      row++;
      expect(lost.has(lastHeard + row)).toBe(true);
      // The last frame heard again, at half the level for each loss in a row.
      expect(values[first + n]).toBe(Math.trunc(valueOf(lastHeard) * 0.5 ** row));
    }
  });
});

describe('caller → agent: Opus loss', () => {
  it('a lost Opus packet reaches the agent rebuilt from the next packet’s in-band FEC', async () => {
    // The caller's speech, as a peer that sends in-band FEC codes it.
    const packets = peerOpusPackets(24000, 100);
    const codec = () => createCodec(describeCodec('opus', 48000, 2, 24000)!);
    const lost = (i: number) => i % 10 === 5;
    // What the agent should get: each lost packet rebuilt from the next one's FEC, and what it
    // would get from a clean stream.
    const decodeAll = (withLoss: boolean) => {
      const decoder = codec();
      const frames = packets.map((packet, i) => {
        const pcm = new Int16Array(480 * 6);
        const n =
          withLoss && lost(i) ? decoder.recover!(packets[i + 1], pcm) : decoder.decode(packet, pcm);
        return Buffer.from(pcm.buffer, 0, n * 2);
      });
      decoder.close?.();
      return frames;
    };
    const expected = decodeAll(true);
    const clean = decodeAll(false);

    const { agent, placed, port, socket } = await generatorCall('505', '111 opus/48000/2', 3000);
    const start = Date.now();
    for (const [i, payload] of packets.entries()) {
      if (lost(i)) continue;
      const header = Buffer.alloc(12);
      header[0] = 0x80;
      header[1] = 111;
      header.writeUInt16BE(i, 2);
      header.writeUInt32BE(960 * i, 4);
      header.writeUInt32BE(0x4321, 8);
      const wait = start + 20 * i - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the generator
      socket.send(Buffer.concat([header, payload]), port, '127.0.0.1');
    }
    await placed.finished();
    socket.close();
    agent.stop();

    // 20 ms of slin24 per frame, the stream's first 100 frames exactly the FEC decode.
    expect(agent.audio.every((f) => f.length === 960)).toBe(true);
    const first = agent.audio.findIndex((f) => f.some((b) => b !== 0));
    const got = agent.audio.slice(first, first + packets.length);
    expect(got).toHaveLength(packets.length);
    got.forEach((frame, i) => expect(frame.equals(expected[i]), `frame ${i}`).toBe(true));
    // And the rebuilt frames are close to what was sent (concealment alone gives ~6 dB here).
    const rebuilt = clean.flatMap((want, i) => {
      if (!lost(i)) return [];
      const samples = (b: Buffer) => new Int16Array(b.buffer, b.byteOffset, b.length / 2);
      return [snrDb(samples(expected[i]), samples(want))];
    });
    expect(rebuilt.reduce((a, b) => a + b) / rebuilt.length).toBeGreaterThan(10);
  });
});

describe('agent → caller: barge-in and marks', () => {
  it('clear after 1 s of 5 s queued: RTP stops within a frame, 1 s less the playout start reported played', async () => {
    const agent = recordAgent();
    const datagrams = await (
      await call('501', {
        formats: '0',
        attributes: ['a=rtpmap:0 PCMU/8000'],
        pauseMs: 2500,
        capture: true,
      })
    ).finished();
    agent.stop();

    const cleared = agent.of('playback.cleared');
    expect(cleared).toHaveLength(1);
    const report = cleared[0].message as { playedMs: number; items: unknown[] };
    // The agent's 1 s runs from its first audio; telgate's playout starts the playout delay
    // (20 ms) and up to a tick later, more when the machine is busy: what it reports is checked
    // against the wire below, to the frame.
    expect(report.playedMs).toBeGreaterThanOrEqual(900);
    expect(report.playedMs).toBeLessThanOrEqual(1040);
    expect(report.items).toEqual([{ item: 1, durationMs: 5000, playedMs: report.playedMs }]);
    expect(agent.of('mark').map((m) => m.message)).toEqual([
      { type: 'mark', name: 'after-5s', status: 'cleared' },
    ]);

    // On the wire: tone frames, then only silence from the frame after the clear.
    const header = newRtpHeader();
    const frames = datagrams
      .filter((d) => readRtpHeader(d.payload, header))
      .map((d) => {
        readRtpHeader(d.payload, header);
        const pcm = new Int16Array(160);
        g711Decode('ulaw', d.payload.subarray(12), pcm);
        return { time: d.time * 1000, loud: pcm.some((v) => Math.abs(v) > 1000), pcm };
      });
    const toneFrames = frames.filter((f) => f.loud);
    expect(dominantFrequency(toneFrames[10].pcm, 8000)).toBe(500);
    expect(toneFrames.length * 20).toBeGreaterThanOrEqual(report.playedMs - 20);
    expect(toneFrames.length * 20).toBeLessThanOrEqual(report.playedMs + 20);
    const clearedAt = cleared[0].at;
    const lastTone = toneFrames[toneFrames.length - 1].time;
    expect(lastTone).toBeLessThanOrEqual(clearedAt + 20 + 5);
    expect(frames.filter((f) => f.time > lastTone).every((f) => !f.loud)).toBe(true);
  });

  it('marks come back after their audio has played, in order', async () => {
    const agent = recordAgent();
    await (
      await call('502', { formats: '0', attributes: ['a=rtpmap:0 PCMU/8000'], pauseMs: 1500 })
    ).finished();
    agent.stop();
    const start = agent.of('session.start')[0].at;
    const marks = agent.of('mark');
    expect(marks.map((m) => m.message)).toEqual([
      { type: 'mark', name: 'first', status: 'played' },
      { type: 'mark', name: 'second', status: 'played' },
    ]);
    // Queued at once, acknowledged only once 300 and 600 ms of audio have gone out.
    expect(marks[0].at - start).toBeGreaterThanOrEqual(280);
    expect(marks[1].at - start).toBeGreaterThanOrEqual(580);
    expect(marks[1].at - marks[0].at).toBeGreaterThanOrEqual(280);
  });

  it('with CN offered, the agent’s silence goes out as one CN packet a second (RFC 3389)', async () => {
    const datagrams = await (
      await call('502', {
        formats: '0 13',
        attributes: ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:13 CN/8000'],
        pauseMs: 3000,
        capture: true,
      })
    ).finished();
    const header = newRtpHeader();
    const packets = datagrams
      .filter((d) => readRtpHeader(d.payload, header))
      .map((d) => {
        readRtpHeader(d.payload, header);
        return { ...header, time: d.time * 1000, payload: d.payload.subarray(12) };
      });
    const audio = packets.filter((p) => p.payloadType === 0);
    const cn = packets.filter((p) => p.payloadType === 13);
    // The script's 600 ms of tone, and nothing but CN around it.
    expect(audio.length).toBeGreaterThanOrEqual(29);
    expect(audio.length).toBeLessThanOrEqual(31);
    expect(packets.every((p) => p.payloadType === 0 || p.payloadType === 13)).toBe(true);
    expect(cn.every((p) => p.payload.length === 1 && p.payload[0] === 70 && !p.marker)).toBe(true);
    // One stream: sequence numbers without a gap across both types.
    for (let i = 1; i < packets.length; i++) {
      expect((packets[i].sequence - packets[i - 1].sequence) & 0xffff).toBe(1);
    }
    // The tone is one talkspurt: its first packet has the marker, the rest are 20 ms apart.
    expect(audio[0].marker).toBe(true);
    for (let i = 1; i < audio.length; i++) {
      expect(audio[i].marker).toBe(false);
      expect(audio[i].timestamp - audio[i - 1].timestamp).toBe(160);
    }
    // After it: CN at once, then once a second, the timestamps running on in media time.
    const last = audio[audio.length - 1];
    const after = cn.filter((p) => p.time > last.time);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(after[0].timestamp - last.timestamp).toBe(160);
    expect(after[0].time - last.time).toBeLessThan(100); // the next slot (timestamp above), on a busy machine
    for (let i = 1; i < after.length; i++) {
      expect(after[i].timestamp - after[i - 1].timestamp).toBe(8000);
      expect(Math.abs(after[i].time - after[i - 1].time - 1000)).toBeLessThan(60);
    }
  });
});

describe('DTMF', () => {
  it('sipp’s RFC 4733 digits reach the agent, each once, with their duration', async () => {
    const agent = recordAgent();
    const play = (digit: string) =>
      `  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_${digit}.pcap"/></action></nop>\n  <pause milliseconds="600"/>`;
    const placed = await call('500', {
      formats: '0 101',
      attributes: ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15'],
      actions: [play('1'), play('9'), play('star')].join('\n'),
      pauseMs: 300,
    });
    await placed.finished();
    agent.stop();
    expect(agent.of('dtmf').map((m) => m.message)).toEqual([
      { type: 'dtmf', digit: '1', durationMs: 280 },
      { type: 'dtmf', digit: '9', durationMs: 280 },
      { type: 'dtmf', digit: '*', durationMs: 280 },
    ]);
  });

  it('the agent’s digits reach the caller as RFC 4733 packets', async () => {
    const datagrams = await (
      await call('503', {
        formats: '0 101',
        attributes: ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000'],
        pauseMs: 1200,
        capture: true,
      })
    ).finished();
    const header = newRtpHeader();
    const events = datagrams
      .filter((d) => readRtpHeader(d.payload, header) && header.payloadType === 101)
      .map((d) => {
        readRtpHeader(d.payload, header);
        return {
          ...parseTelephoneEvent(d.payload.subarray(12))!,
          ts: header.timestamp,
          marker: header.marker,
        };
      });
    const digits = [...new Set(events.map((e) => e.ts))].map((ts) => {
      const of = events.filter((e) => e.ts === ts);
      return {
        event: of[0].event,
        marker: of[0].marker,
        ends: of.filter((e) => e.end).length,
        duration: of[of.length - 1].duration,
      };
    });
    expect(digits).toEqual([
      { event: 5, marker: true, ends: 3, duration: 800 },
      { event: 11, marker: true, ends: 3, duration: 800 },
    ]);
  });
});

describe('a slow agent', () => {
  // On loopback the kernel takes ~3.9 MiB of an unread socket before anything stays in
  // telgate: 42 s at slin48's 96 kB/s. The caller here sends five times faster than real time
  // (a burst of five 20 ms packets every 20 ms; telgate's jitter buffer follows a fast sender),
  // so the link fills in ~9 s and the call runs 16 s.
  it('loses caller frames, counted, while the call goes on and ends normally', async () => {
    const callMs = 16_000;
    const before = gw.current.gateway.stats().framesDroppedToAgents;
    const placed = await answeredCall('504', {
      formats: '0',
      attributes: ['a=rtpmap:0 PCMU/8000'],
      pauseMs: callMs,
    });
    // The caller: µ-law silence (the media timeout would end a call without RTP); telgate
    // latches onto this socket and sends its RTP here.
    const socket = dgram.createSocket('udp4');
    const heard: number[] = [];
    socket.on('message', () => heard.push(performance.now()));
    const packet = Buffer.alloc(12 + 160, 0xff);
    packet.writeUInt32BE(0x80000000, 0);
    packet.writeUInt32BE(0x1234, 8);
    let n = 0;
    const port = placed.mediaPort;
    const caller = setInterval(() => {
      for (let burst = 0; burst < 5; burst++) {
        packet.writeUInt16BE(++n & 0xffff, 2);
        packet.writeUInt32BE((n * 160) >>> 0, 4);
        socket.send(packet, port, '127.0.0.1');
      }
    }, 20);
    await placed.finished().finally(() => {
      clearInterval(caller);
      socket.close();
    });
    // The caller saw the BYE; the call's count arrives as it closes (from its worker).
    await callsClosed(gw.current.gateway);
    const stats = gw.current.gateway.stats();
    expect(stats.framesDroppedToAgents - before).toBeGreaterThan(100);
    // The caller's side never stalled: telgate's packets every 20 ms to the end.
    expect(heard.length).toBeGreaterThan((callMs / 20) * 0.9);
    const gaps = heard.slice(1).map((t, i) => t - heard[i]);
    expect(Math.max(...gaps)).toBeLessThan(200);
  }, 60_000);
});
