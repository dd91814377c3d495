/**
 * DTMF as SIP INFO from a caller (sipp): `application/dtmf-relay` and `application/dtmf` digits
 * reach the agent, each once, and the INFOs are answered 200. Runs on both SIP engines.
 */
import { describe, expect, it } from 'vitest';
import { gatewayForFile, NUMBERS } from '../helpers/gateway.js';
import { runSipp, scenario, sippPorts, workDir } from '../helpers/sipp.js';

const gw = gatewayForFile(44160);

describe('SIP INFO DTMF', () => {
  it('digits sent as INFO (dtmf-relay, dtmf) reach the agent in order', async () => {
    const tg = gw.current;
    const digits: unknown[] = [];
    tg.gateway.localAgent!.on('message', (_id: string, m: { type: string }) => {
      if (m.type === 'dtmf') digits.push(m);
    });
    const dir = await workDir();
    const r = await runSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_info_dtmf.xml'),
      service: NUMBERS.echo,
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-d', '300'],
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(digits).toEqual([
      { type: 'dtmf', digit: '5', durationMs: 160 },
      { type: 'dtmf', digit: '#', durationMs: 0 },
    ]);
  });
});
