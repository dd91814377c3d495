/**
 * Call timers and link resume against sipp and the local agent: no RTP ends the call with a
 * Reason, so does the maximum duration; a dropped agent socket is resumed with the caller's
 * audio held (a fresh token fetched when the old one expired), and one that stays away ends the
 * call with a Reason.
 */
import { describe, expect, it } from 'vitest';
import { BASE, gatewayForFile, PUBLISHED } from '../helpers/gateway.js';
import { messagesLog, runSipp, scenario, sippPorts, toneFile, workDir } from '../helpers/sipp.js';

const MEDIA_MIN = 31800;

const gw = gatewayForFile(MEDIA_MIN, (raw) => {
  raw.calls = { mediaTimeoutSeconds: 2, maxDurationSeconds: 3 };
  raw.link = { resumeWindowMs: 1500, holdAudioMs: 2000 };
  const agent = raw.localAgent as { behaviours: Record<string, unknown>; tokenTtlSeconds: number };
  agent.tokenTtlSeconds = 1;
  agent.behaviours.silent = { kind: 'script' };
  agent.behaviours.dropper = { kind: 'script', steps: [{ atMs: 1200, do: 'drop' }] };
  agent.behaviours.gone = {
    kind: 'script',
    steps: [{ atMs: 500, do: 'drop', refuseResume: true }],
  };
  const endpoints = raw.endpoints as unknown[];
  for (const [id, extension] of [
    ['silent', '600'],
    ['dropper', '601'],
    ['gone', '602'],
  ]) {
    endpoints.push({ id, baseNumber: BASE, extension, flow: PUBLISHED });
  }
});

const service = (extension: string) => `${BASE.slice(1)}${extension}`;

/** sipp runs `file` once against `extension`; returns its message log. */
async function sipp(extension: string, file: string, extra: string[] = []): Promise<string> {
  const dir = await workDir();
  await toneFile(dir, 440, 4);
  const r = await runSipp({
    dir,
    scenarioFile: await scenario(dir, file),
    service: service(extension),
    target: gw.current.sipPort,
    ports: sippPorts(),
    extra: ['-trace_msg', ...extra],
  });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return messagesLog(dir, file.replace('.xml', ''));
}

describe('call timers', () => {
  it('no RTP for the media timeout: BYE with a Reason, and the port is freed', async () => {
    const started = Date.now();
    const log = await sipp('600', 'uac_wait_bye.xml');
    expect(log).toMatch(
      /BYE sip:[\s\S]*Reason: Q\.850 ;cause=41 ;text="no RTP from the caller: none for 2 s"/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    // gatewayForFile checks after each test that the call, its dialog and its port are gone.
  });

  it('the maximum duration ends a call that still has audio', async () => {
    // uac_rtp streams a 4 s tone, then waits for BYE (its -d pause is longer than the limit).
    const log = await sipp('600', 'uac_rtp_wait_bye.xml');
    expect(log).toMatch(/Reason: Q\.850 ;cause=102 ;text="maximum call duration reached: 3 s"/);
  });
});

describe('link resume', () => {
  it('the agent socket dies mid-call: the call survives, the agent gets the held audio', async () => {
    const agent = gw.current.gateway.localAgent!;
    const seen: Array<{ type: string; heldMs?: number } | 'audio'> = [];
    const onMessage = (_id: string, m: { type: string; heldMs?: number }) => seen.push(m);
    const onAudio = () => seen.push('audio');
    agent.on('message', onMessage);
    agent.on('audio', onAudio);
    const refreshed = agent.tokensRefreshed;
    try {
      // The caller streams a tone for 4 s and hangs up itself (the BYE comes from sipp).
      const log = await sipp('601', 'uac_rtp.xml', ['-d', '2200']);
      expect(log).toMatch(/BYE sip:/);
    } finally {
      agent.off('message', onMessage);
      agent.off('audio', onAudio);
    }
    const resumedAt = seen.findIndex((m) => m !== 'audio' && m.type === 'session.resumed');
    expect(resumedAt).toBeGreaterThan(0);
    const resumed = seen[resumedAt] as { heldMs: number };
    // The token (1 s) had expired by the drop at 1.2 s: the reconnect needed a fresh one.
    expect(agent.tokensRefreshed).toBe(refreshed + 1);
    expect(resumed.heldMs).toBeGreaterThanOrEqual(60);
    // The held audio comes first, 20 ms per frame, right after the resume message.
    const held = resumed.heldMs / 20;
    expect(seen.slice(resumedAt + 1, resumedAt + 1 + held).every((m) => m === 'audio')).toBe(true);
    expect(seen.some((m) => m !== 'audio' && m.type === 'session.end')).toBe(true);
  });

  it('the agent stays away past the resume window: BYE with a Reason', async () => {
    const log = await sipp('602', 'uac_wait_bye.xml');
    expect(log).toMatch(
      /Reason: Q\.850 ;cause=41 ;text="voice agent connection lost: WebSocket closed 4004 session gone/,
    );
  });
});
