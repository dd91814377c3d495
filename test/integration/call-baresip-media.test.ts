/**
 * A real SIP phone (baresip) and telgate's media: a 16 kHz agent's tone over G.722, L16's byte
 * order, and RTCP reports reaching the agent.
 */
import { expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { baresipCallsForFile, WIDEBAND } from '../helpers/baresip-calls.js';
import { NUMBERS } from '../helpers/gateway.js';

const phone = baresipCallsForFile(31120);

it('G.722: baresip records the 5 kHz tone of a slin16 agent', async () => {
  const { rate, all } = await phone.call(WIDEBAND.tone16, 5000, 'G722', 16000);
  expect(countFramesAt(all, 5000, rate)).toBeGreaterThanOrEqual(0.8 * all.length);
});

// baresip offers mono L16 only at 8 kHz (its other L16 rates are stereo), so this call runs
// L16/8000 → slin16 with one resample each way: the byte order and the chain both show.
it('L16: baresip’s 600 Hz tone comes back at 600 Hz through a slin16 echo agent', async () => {
  const { rate, all } = await phone.call(WIDEBAND.echo16, 600, 'L16', 8000);
  expect(rate).toBe(8000);
  expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(130);
});

it('RTCP: baresip’s reports reach the agent in call.quality, with loss, jitter and round trip', async () => {
  const agent = phone.tg.gateway.localAgent!;
  const reports: Array<Record<string, number | undefined>> = [];
  const onMessage = (_id: string, m: { type: string; quality?: Record<string, number> }) => {
    if (m.type === 'call.quality' && m.quality) reports.push(m.quality);
  };
  agent.on('message', onMessage);
  try {
    await phone.call(NUMBERS.alaw, 600, 'PCMA', 8000, 8);
  } finally {
    agent.off('message', onMessage);
  }
  expect(reports.length).toBeGreaterThanOrEqual(6);
  const last = reports[reports.length - 1];
  // telgate's own view of baresip's stream: every packet, no loss on loopback.
  expect(last.packetsReceived).toBeGreaterThan(300);
  expect(last.packetsLost).toBe(0);
  expect(last.jitterMs).toBeLessThan(20);
  // baresip's receiver reports about telgate's stream, and the round trip they allow.
  const withRtcp = reports.filter((r) => r.rttMs !== undefined);
  expect(withRtcp.length).toBeGreaterThan(0);
  expect(withRtcp[withRtcp.length - 1].remoteLossPercent).toBe(0);
  expect(withRtcp[withRtcp.length - 1].rttMs).toBeLessThan(50);
});
