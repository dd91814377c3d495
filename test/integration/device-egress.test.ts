/**
 * A device's call leaves as its config presents it: baresip, authenticated as a device with
 * `sendAs` and `callerId`, reaches its handler endpoint, whose agent transfers the call (bridged)
 * to a PSTN number through the egress trunk (sipp). The trunk sees the device's number and name
 * in From and that number asserted in P-Asserted-Identity; the phone hears the target.
 */
import { afterEach, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { countFramesAt } from '../helpers/audio.js';
import { dial, recordedFrames, toneWav, writeBaresipConfig } from '../helpers/baresip.js';
import {
  BASE,
  expectNothingLeft,
  PUBLISHED,
  startGateway,
  testConfig,
  type TestGateway,
} from '../helpers/gateway.js';
import { killAll } from '../helpers/processes.js';
import {
  answeringTrunk,
  egressTrunk,
  messagesLog,
  sippPorts,
  toneFile,
  workDir,
} from '../helpers/sipp.js';

const EGRESS = '+15550199';
const DESK_NUMBER = '+15550177';
const TARGET = '+15550199001';

let tg: TestGateway | undefined;
afterEach(async () => {
  await killAll();
  if (tg) {
    await expectNothingLeft(tg);
    await tg.stop();
  }
  tg = undefined;
});

it('a device’s transferred call shows its send_as number and caller_id name, asserted', async () => {
  const dir = await workDir();
  await toneFile(dir, 700, 8, 'target.ul');
  const trunk = await answeringTrunk(dir, 'target.ul');
  tg = await startGateway(
    testConfig(43900, (raw) => {
      raw.trunks = [egressTrunk(trunk.ports.sip, 2)];
      (raw.baseNumbers as unknown[]).push({ number: EGRESS, trunk: 'egress' });
      (raw.baseNumbers as unknown[]).push({ number: DESK_NUMBER });
      const agent = raw.localAgent as { behaviours: Record<string, unknown> };
      agent.behaviours['desk-handler'] = {
        kind: 'tone',
        frequency: 1000,
        steps: [{ atMs: 800, do: 'transfer', target: TARGET, mode: 'bridged', timeoutMs: 4000 }],
      };
      (raw.endpoints as unknown[]).push({
        id: 'desk-handler',
        baseNumber: BASE,
        extension: '800',
        flow: PUBLISHED,
        egressBaseNumber: EGRESS,
      });
      raw.devices = [
        {
          id: 'desk-phone',
          username: 'desk',
          ha1: { MD5: ha1Of('MD5', 'desk', 'telgate', 'secret') },
          handler: { endpoint: 'desk-handler' },
          callerId: 'Front Desk',
          sendAs: DESK_NUMBER,
        },
      ];
    }),
    { TRUNK_PASSWORD: 'secret' },
  );
  const progress: string[] = [];
  tg.gateway.localAgent!.on('message', (_id: string, m: Record<string, unknown>) => {
    if (m.type === 'transfer.progress') progress.push(String(m.state));
  });
  const ports = sippPorts();
  const { configDir, recordDir } = await writeBaresipConfig({
    dir,
    sipPort: ports.sip,
    rtpRange: [ports.media, ports.media + 4],
    sourceWav: await toneWav(dir, 600, 8000, 6),
    codecs: 'PCMU',
    account: `<sip:desk@127.0.0.1:${tg.sipPort};transport=udp>;auth_pass=secret;regint=0;audio_codecs=PCMU`,
  });
  const call = await dial(configDir, `sip:anything@127.0.0.1:${tg.sipPort}`, 5);
  expect(call.stdout + call.stderr).toMatch(/Call established/i);
  expect((await trunk.sipp.done).code).toBe(0);
  expect(progress).toEqual(['trying', 'answered', 'completed']);
  const log = await messagesLog(dir, 'uas_auth');
  const invite = /INVITE sip:\+15550199001@[\s\S]*?\r?\n\r?\n/.exec(log)?.[0] ?? '';
  expect(invite).toMatch(/From: "Front Desk" <sip:\+15550177@127\.0\.0\.1>;tag=/);
  expect(invite).toMatch(/P-Asserted-Identity: <tel:\+15550177>/i);
  // The phone heard the target once bridged.
  const { rate, all } = await recordedFrames(recordDir);
  expect(countFramesAt(all, 700, rate)).toBeGreaterThanOrEqual(50);
});
