/**
 * A real SIP phone (baresip) calls telgate and hears its own tone back, in the codec each
 * endpoint negotiates: PCMA, G.722 for a 16 kHz agent, Opus for a 24 kHz one. Runs on both SIP
 * engines; more of baresip's media is in call-baresip-media.test.ts.
 */
import { expect, it } from 'vitest';
import { countFramesAt } from '../helpers/audio.js';
import { baresipCallsForFile, WIDEBAND } from '../helpers/baresip-calls.js';
import { NUMBERS } from '../helpers/gateway.js';

const phone = baresipCallsForFile(31100);

it('baresip calls the PCMA-only echo endpoint and records its own 600 Hz tone', async () => {
  const { rate, all } = await phone.call(NUMBERS.alaw, 600, 'PCMA', 8000);
  // The file plays for 3 s (150 frames); allow the first and last few frames to straddle.
  expect(countFramesAt(all, 600, rate)).toBeGreaterThanOrEqual(130);
  expect(phone.tg.gateway.stats().endings['caller-hangup']).toBe(1);
  expect(phone.tg.gateway.stats().activeCalls).toBe(0);
});

it('G.722: baresip’s 6 kHz tone, beyond narrowband, comes back through a slin16 echo agent', async () => {
  const { rate, all } = await phone.call(WIDEBAND.echo16, 6000, 'G722', 16000);
  expect(rate).toBe(16000);
  expect(countFramesAt(all, 6000, rate)).toBeGreaterThanOrEqual(130);
});

it('Opus: baresip’s 9 kHz tone, beyond G.722, comes back through a slin24 echo agent', async () => {
  const { rate, all } = await phone.call(WIDEBAND.echo24, 9000, 'opus', 48000);
  expect(rate).toBe(48000);
  expect(countFramesAt(all, 9000, rate, 50)).toBeGreaterThanOrEqual(120);
});
