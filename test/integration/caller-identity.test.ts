/**
 * The caller's identity on a real call (sipp): a trunk's STIR/SHAKEN result reaches the agent in
 * session.start, and an endpoint that refuses failed verification answers 403 with a Reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE, PUBLISHED, startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { messagesLog, scenario, sippPorts, startSipp, toneFile, workDir } from '../helpers/sipp.js';

let tg: TestGateway;

beforeAll(async () => {
  tg = await startGateway(
    testConfig(31460, (raw) => {
      (raw.endpoints as unknown[]).push({
        id: 'strict',
        baseNumber: BASE,
        extension: '990',
        flow: PUBLISHED,
        refuseFailedVerification: true,
      });
    }),
  );
});
afterAll(() => tg?.stop());

/** sipp calls `extension` with a P-Asserted-Identity carrying `verstat` and an Identity header. */
async function verifiedCall(extension: string, file: string, verstat: string, expect?: string) {
  const dir = await workDir();
  await toneFile(dir, 600, 2);
  const headers =
    `P-Asserted-Identity: <sip:+4930123456@127.0.0.1;user=phone;verstat=${verstat}>\n` +
    '      Identity: eyJhbGciOiJFUzI1NiJ9.e30.c2ln;info=<https://cert.example/x.pem>\n' +
    '      Content-Type: application/sdp';
  const call = startSipp({
    dir,
    scenarioFile: await scenario(dir, file, {
      'Content-Type: application/sdp': headers,
      ...(expect && { EXPECT: expect }),
    }),
    service: `${BASE.slice(1)}${extension}`,
    target: tg.sipPort,
    ports: sippPorts(),
    extra: ['-trace_msg', '-d', '1000'],
  });
  return { done: await call.done, dir };
}

describe('STIR/SHAKEN from the trunk', () => {
  it('reaches the agent with the call', async () => {
    const starts: Array<Record<string, unknown>> = [];
    tg.gateway.localAgent!.on('message', (_id: string, m: Record<string, unknown>) => {
      if (m.type === 'session.start') starts.push(m);
    });
    const { done } = await verifiedCall('100', 'uac_rtp.xml', 'TN-Validation-Passed');
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(starts.at(-1)?.caller).toEqual({
      verstat: 'TN-Validation-Passed',
      identityHeader: true,
      privacy: false,
    });
  });

  it('an endpoint that refuses failed verification answers 403 with a Reason', async () => {
    const { done, dir } = await verifiedCall(
      '990',
      'uac_expect.xml',
      'TN-Validation-Failed',
      '403',
    );
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(await messagesLog(dir, 'uac_expect')).toMatch(
      /Reason: SIP ;cause=403 ;text="caller identity failed verification/,
    );
  });
});
