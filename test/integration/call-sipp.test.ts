/**
 * Whole calls against sipp, the real SIP/RTP peer, through an in-process telgate and its
 * embedded local agent. RTP coming back to sipp is captured with dumpcap and decoded here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { Capture } from '../helpers/capture.js';
import {
  expectNothingLeft,
  NUMBERS,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import { decodeRtpTo } from '../helpers/rtp.js';
import {
  messagesLog,
  runSipp,
  scenario,
  sippPorts,
  toneFile,
  WITHOUT_TONE,
  workDir,
} from '../helpers/sipp.js';

const MEDIA_MIN = 31000;
let tg: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = await workDir();
  tg = await startGateway(testConfig(MEDIA_MIN));
});
afterAll(async () => {
  await tg?.stop();
});
afterEach(async () => {
  await killAll();
  await expectNothingLeft(tg);
});

describe('calls from sipp', () => {
  it('echo: a 440 Hz tone comes back at 440 Hz, BYE closes the call and frees the port', async () => {
    await toneFile(dir, 440, 3);
    const ports = sippPorts();
    const pool = tg.gateway.stats().ports;
    const capture = await Capture.start(
      dir,
      `udp and dst port ${ports.media} and src portrange ${MEDIA_MIN}-${MEDIA_MIN + 19}`,
    );
    const sf = await scenario(dir, 'uac_rtp.xml');
    const result = await runSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports,
      extra: ['-d', '3600'],
    });
    const datagrams = await capture.stop();
    expect(result.code, result.stdout).toBe(0);

    const frames = decodeRtpTo(datagrams, ports.media);
    const sent = 150; // 3 s of 20 ms frames
    const at440 = countFramesAt(frames, 440, 8000);
    expect(at440).toBeGreaterThanOrEqual(0.9 * sent);

    const stats = tg.gateway.stats();
    expect(stats.activeCalls).toBe(0);
    expect(stats.ports.available).toBe(pool.size);
    expect(stats.endings['caller-hangup']).toBeGreaterThanOrEqual(1);
    expect(stats.clockSubscribers).toBe(0);
    await tg.gateway.engine.whenIdle();
    expect(tg.gateway.engine.stats()).toEqual({ transactions: 0, dialogs: 0 });
  });

  it("tone: the caller hears the agent's 1 kHz tone", async () => {
    const ports = sippPorts();
    const capture = await Capture.start(
      dir,
      `udp and dst port ${ports.media} and src portrange ${MEDIA_MIN}-${MEDIA_MIN + 19}`,
    );
    const sf = await scenario(dir, 'uac_rtp.xml', WITHOUT_TONE);
    const result = await runSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.tone,
      target: tg.sipPort,
      ports,
      extra: ['-d', '2000'],
    });
    const frames = decodeRtpTo(await capture.stop(), ports.media);
    expect(result.code, result.stdout).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(90);
    expect(countFramesAt(frames, 1000, 8000)).toBeGreaterThanOrEqual(0.9 * frames.length);
  });

  it('the agent hangs up: telgate sends BYE with a Reason and sipp answers it', async () => {
    const ports = sippPorts();
    const sf = await scenario(dir, 'uac_wait_bye.xml');
    const before = tg.gateway.stats().endings['agent-hangup'] ?? 0;
    const result = await runSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.hangup,
      target: tg.sipPort,
      ports,
      extra: ['-trace_msg'],
    });
    expect(result.code, result.stdout).toBe(0);
    expect(tg.gateway.stats().endings['agent-hangup']).toBe(before + 1);
    const text = await messagesLog(dir, 'uac_wait_bye');
    expect(text).toMatch(/BYE sip:[\s\S]*Reason: Q\.850 ?;cause=16 ?;text="agent hung up/);
  });

  it('an unknown number gets 404 with a Reason header', async () => {
    const own = await workDir();
    const sf = await scenario(own, 'uac_expect.xml', { EXPECT: '404' });
    const result = await runSipp({
      dir: own,
      scenarioFile: sf,
      service: '15550100999',
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-trace_msg'],
    });
    expect(result.code, result.stdout).toBe(0);
    expect(await messagesLog(own, 'uac_expect')).toMatch(
      /SIP\/2\.0 404 Not Found[\s\S]*Reason: SIP ?;cause=404 ?;text="no endpoint for the dialed number: 15550100999"/,
    );
  });

  it('an offer without PCMU or PCMA gets 488 naming the offered codecs', async () => {
    const own = await workDir();
    const sf = await scenario(own, 'uac_expect.xml', {
      EXPECT: '488',
      'RTP/AVP 0\n      a=rtpmap:0 PCMU/8000': 'RTP/AVP 18\n      a=rtpmap:18 G729/8000',
    });
    const result = await runSipp({
      dir: own,
      scenarioFile: sf,
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-trace_msg'],
    });
    expect(result.code, result.stdout).toBe(0);
    expect(await messagesLog(own, 'uac_expect')).toMatch(
      /Warning: 305 telgate "Incompatible media format: offered G729\/8000; supported PCMU\/8000 PCMA\/8000 G722\/8000 L16\/8000 L16\/16000 L16\/24000 L16\/48000 opus\/48000"/,
    );
  });
});
