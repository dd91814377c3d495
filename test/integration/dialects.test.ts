/**
 * Each link dialect carries a call end to end: sipp calls, telgate speaks the endpoint's
 * dialect to the local agent speaking it too, and audio, marks and hang-ups go through.
 */
import { describe, expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { callCapturing } from '../helpers/call-capture.js';
import { BASE, gatewayForFile, PUBLISHED } from '../helpers/gateway.js';
import { messagesLog, toneFile, workDir } from '../helpers/sipp.js';

const MEDIA_MIN = 31900;
const scripted = {
  kind: 'script',
  steps: [
    { atMs: 0, do: 'play', frequency: 700, ms: 500 },
    { atMs: 0, do: 'mark', name: 'm1' },
    { atMs: 1500, do: 'hangup' },
  ],
};

const gw = gatewayForFile(MEDIA_MIN, (raw) => {
  raw.providers = { stt: { nativeFormat: 'slin16' } };
  const behaviours = (raw.localAgent as { behaviours: Record<string, unknown> }).behaviours;
  behaviours['tw-echo'] = { kind: 'echo' };
  behaviours['tw-script'] = scripted;
  behaviours['ast-echo'] = { kind: 'echo' };
  behaviours['ast-script'] = scripted;
  const endpoints = raw.endpoints as unknown[];
  const twilio = { dialect: 'twilio' };
  const asterisk = { dialect: 'asterisk' };
  endpoints.push(
    { id: 'tw-echo', baseNumber: BASE, extension: '700', flow: PUBLISHED, link: twilio },
    { id: 'tw-script', baseNumber: BASE, extension: '701', flow: PUBLISHED, link: twilio },
    {
      id: 'ast-echo',
      baseNumber: BASE,
      extension: '710',
      flow: PUBLISHED,
      provider: 'stt',
      link: asterisk,
    },
    { id: 'ast-script', baseNumber: BASE, extension: '711', flow: PUBLISHED, link: asterisk },
  );
});

function recordMessages() {
  const agent = gw.current.gateway.localAgent!;
  const messages: Array<Record<string, unknown>> = [];
  const on = (_id: string, m: Record<string, unknown>) => messages.push(m);
  agent.on('message', on);
  return { messages, stop: () => agent.off('message', on) };
}

/** sipp streams a 440 Hz tone for 2 s to `extension` and hangs up; what came back. */
async function echoCall(extension: string) {
  const dir = await workDir();
  await toneFile(dir, 440, 2);
  return callCapturing(gw.current, dir, MEDIA_MIN, {
    file: 'uac_rtp.xml',
    service: `${BASE.slice(1)}${extension}`,
    extra: ['-d', '2500'],
  });
}

/** sipp calls `extension` and waits for its BYE; the played audio and sipp's message log. */
async function scriptedCall(extension: string) {
  const dir = await workDir();
  const captured = await callCapturing(gw.current, dir, MEDIA_MIN, {
    file: 'uac_wait_bye.xml',
    service: `${BASE.slice(1)}${extension}`,
    extra: ['-trace_msg'],
  });
  return { ...captured, log: await messagesLog(dir, 'uac_wait_bye') };
}

describe('Twilio Media Streams dialect', () => {
  it('carries an echo call: connected, start (µ-law 8 kHz), media both ways, stop', async () => {
    const agent = recordMessages();
    const { pcm } = await echoCall('700');
    agent.stop();
    expect(countFramesAt(pcm, 440, 8000)).toBeGreaterThanOrEqual(80);
    const events = agent.messages.map((m) => m.event);
    expect(events.slice(0, 2)).toEqual(['connected', 'start']);
    const start = agent.messages[1] as { start: { mediaFormat: object; callSid: string } };
    expect(start.start.mediaFormat).toEqual({
      encoding: 'audio/x-mulaw',
      sampleRate: 8000,
      channels: 1,
    });
    expect(events[events.length - 1]).toBe('stop');
    // Counters are strings and grow by one per message (the media messages between these).
    const numbers = agent.messages.slice(1).map((m) => m.sequenceNumber);
    expect(numbers.every((n) => typeof n === 'string')).toBe(true);
    expect(numbers.map(Number)).toEqual([...numbers.map(Number)].sort((a, b) => a - b));
    expect(Number(numbers[numbers.length - 1])).toBeGreaterThan(100); // ~2.5 s of 20 ms media
  });

  it('plays the agent’s audio, returns its mark after playout, and a close hangs up', async () => {
    const agent = recordMessages();
    const { pcm, log } = await scriptedCall('701');
    agent.stop();
    expect(countFramesAt(pcm, 700, 8000)).toBeGreaterThanOrEqual(20);
    expect(agent.messages.filter((m) => m.event === 'mark')).toMatchObject([
      { event: 'mark', mark: { name: 'm1' } },
    ]);
    expect(log).toMatch(
      /BYE sip:[\s\S]*Reason: Q\.850 ;cause=16 ;text="agent hung up: agent closed the stream \(1000\)"/,
    );
  });
});

describe('Asterisk chan_websocket dialect', () => {
  it('carries an echo call at slin16: MEDIA_START, then raw audio both ways', async () => {
    const agent = recordMessages();
    const { pcm } = await echoCall('710');
    agent.stop();
    expect(countFramesAt(pcm, 440, 8000)).toBeGreaterThanOrEqual(80);
    expect(agent.messages[0]).toMatchObject({
      event: 'MEDIA_START',
      format: 'slin16',
      optimal_frame_size: 640,
      ptime: 20,
    });
  });

  it('MARK_MEDIA comes back as MEDIA_MARK_PROCESSED after playout; HANGUP ends the call', async () => {
    const agent = recordMessages();
    const { pcm, log } = await scriptedCall('711');
    agent.stop();
    expect(countFramesAt(pcm, 700, 8000)).toBeGreaterThanOrEqual(20);
    expect(agent.messages.filter((m) => m.event === 'MEDIA_MARK_PROCESSED')).toMatchObject([
      { correlation_id: 'm1' },
    ]);
    expect(log).toMatch(/Reason: Q\.850 ;cause=16 ;text="agent hung up: HANGUP"/);
  });
});
