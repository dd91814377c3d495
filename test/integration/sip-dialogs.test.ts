/**
 * The SIP stack's dialog features against sipp, over UDP and over TCP: OPTIONS, late offer,
 * re-INVITE hold/resume with a codec change, REFER from the caller, and calls under packet loss.
 * Audio checks decode what telgate sends back to sipp's media port, captured with dumpcap.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { Capture } from '../helpers/capture.js';
import {
  expectNothingLeft,
  NUMBERS,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { TEST_ENGINE } from '../helpers/drachtio.js';
import { killAll } from '../helpers/processes.js';
import { callCapturing as callCapturingHelper } from '../helpers/call-capture.js';
import { decodeRtpFrames } from '../helpers/rtp.js';
import {
  messagesLog,
  runSipp,
  scenario,
  sippPorts,
  startSippUas,
  toneFile,
  WITHOUT_TONE,
  workDir,
} from '../helpers/sipp.js';

const MEDIA_MIN = 31300;
const TRANSFER = '15550100500';
let tg: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = await workDir();
  await toneFile(dir, 440, 1);
  tg = await startGateway(
    testConfig(MEDIA_MIN, (raw) => {
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours.transfer = { kind: 'tone', frequency: 1000, hangupAfterMs: 2500 };
      (raw.endpoints as unknown[]).push({
        id: 'transfer',
        baseNumber: '+15550100',
        extension: '500',
        flow: PUBLISHED,
      });
    }),
  );
});
afterAll(async () => {
  await tg?.stop();
});
afterEach(async () => {
  await killAll();
  await expectNothingLeft(tg);
});

const FROM_TELGATE = `src portrange ${MEDIA_MIN}-${MEDIA_MIN + 19}`;

/** Runs one sipp call while capturing what telgate sends to sipp's media port. */
const callCapturing = (
  file: string,
  service: string,
  replace: Record<string, string>,
  extra: string[],
) => callCapturingHelper(tg, dir, MEDIA_MIN, { file, service, replace, extra });

/**
 * Both transports in the default shape. The main-thread run (TEST_WORKERS=1) checks the calls'
 * semantics on one thread, and the drachtio run through the daemon, which owns the transports
 * (what telgate does above them is the same over UDP and TCP): both over UDP only.
 */
const TRANSPORTS =
  process.env.TEST_WORKERS === '1' || TEST_ENGINE === 'drachtio'
    ? (['udp'] as const)
    : (['udp', 'tcp'] as const);

describe.each(TRANSPORTS)('over %s', (transport) => {
  const sippTransport = ['-t', transport === 'tcp' ? 't1' : 'u1'];

  it('OPTIONS gets 200 with Allow, Accept and Supported', async () => {
    const own = await workDir();
    const sf = await scenario(own, 'uac_options.xml');
    const r = await runSipp({
      dir: own,
      scenarioFile: sf,
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: [...sippTransport, '-trace_msg'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const log = await messagesLog(own, 'uac_options');
    const upper = transport.toUpperCase();
    expect(log).toMatch(new RegExp(`${upper} message received[\\s\\S]*SIP/2.0 200 OK`));
    expect(log).toMatch(new RegExp(`Via: SIP/2.0/${upper} `));
  });

  it('late offer: telgate offers in the 200, the PCMA answer in the ACK carries the tone', async () => {
    const { frames, pcm } = await callCapturing('uac_late_offer.xml', NUMBERS.tone, {}, [
      ...sippTransport,
      '-d',
      '1500',
    ]);
    expect(frames.length).toBeGreaterThanOrEqual(50);
    expect(frames.every((f) => f.payloadType === 8)).toBe(true);
    // The agent's tone starts once its session has started (after the ACK): a few frames of
    // silence may come first.
    const first = pcm.findIndex((f) => f.some((v) => Math.abs(v) > 1000));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(10);
    const heard = pcm.slice(first);
    expect(countFramesAt(heard, 1000, 8000)).toBeGreaterThanOrEqual(0.9 * heard.length);
  });

  it('re-INVITE: hold silences telgate, resume with PCMA only brings the audio back in PCMA', async () => {
    const { frames } = await callCapturing(
      'uac_reinvite.xml',
      NUMBERS.tone,
      { TALK_MS: '1000', HOLD_MS: '1500' },
      sippTransport,
    );

    const before = frames.filter((f) => f.payloadType === 0);
    const after = frames.filter((f) => f.payloadType === 8);
    expect(before.length).toBeGreaterThanOrEqual(35);
    expect(after.length).toBeGreaterThanOrEqual(35);
    // On hold nothing is sent: the first PCMA frame comes well after the last PCMU frame.
    const silence = after[0].time - before[before.length - 1].time;
    expect(silence).toBeGreaterThan(1.2);
    // Audio continues after resume, now A-law encoded.
    const pcm = after.map((f) => f.pcm);
    expect(countFramesAt(pcm, 1000, 8000)).toBeGreaterThanOrEqual(0.9 * after.length);
  });

  it('REFER from the caller: 202, NOTIFY 100/180/200, the target gets the call, the old leg BYE', async () => {
    const { sipp: targetSipp, ports: target } = await startSippUas(['-sn', 'uas'], {
      cwd: dir,
      transport,
    });
    const capture = await Capture.start(
      dir,
      `udp and dst port ${target.media} and ${FROM_TELGATE}`,
    );
    const param = transport === 'tcp' ? ';transport=tcp' : '';
    const sf = await scenario(dir, 'uac_refer.xml', {
      TARGET_URI: `sip:target@127.0.0.1:${target.sip}${param}`,
    });
    const r = await runSipp({
      dir,
      scenarioFile: sf,
      service: TRANSFER,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: sippTransport,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The agent hangs up after 2.5 s: the target's call ends with telgate's BYE.
    const targetDone = await targetSipp.done;
    expect(targetDone.code, targetDone.stdout + targetDone.stderr).toBe(0);
    const frames = decodeRtpFrames(await capture.stop(), target.media);
    expect(frames.length).toBeGreaterThanOrEqual(25);
    const pcm = frames.map((f) => f.pcm);
    expect(countFramesAt(pcm, 1000, 8000)).toBeGreaterThanOrEqual(0.9 * frames.length);
  });

  it('an echo call with RTP both ways and a far-end BYE', async () => {
    const { pcm } = await callCapturing('uac_rtp.xml', NUMBERS.echo, {}, [
      ...sippTransport,
      '-d',
      '1600',
    ]);
    expect(countFramesAt(pcm, 440, 8000)).toBeGreaterThanOrEqual(45);
  });
});

describe('packet loss', () => {
  it('with 10 % of sipp’s messages lost, every one of 20 calls still completes', async () => {
    const sf = await scenario(dir, 'uac_rtp.xml', {
      ...WITHOUT_TONE,
      // The test gateway runs T1 = 50 ms, so its transactions are gone 64·T1 = 3.2 s after
      // the request; sipp must retransmit on the same scale or a late BYE meets a 481.
      'retrans="500"': 'retrans="50"',
    });
    const r = await runSipp({
      dir,
      scenarioFile: sf,
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      calls: 20,
      rate: 10,
      timeoutS: 40,
      extra: ['-lost', '10', '-d', '200', '-l', '20'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Successful call\s+\|\s+\d+\s+\|\s+20\s/);
  });
});
