/**
 * The engine as a UAC (what transfers and outbound legs use) against sipp UAS scenarios: digest
 * challenge then answer, busy, CANCEL while ringing, an outgoing REFER, and a timeout. Forked
 * answers need two UASes answering one INVITE; a raw socket plays both, as no forking proxy runs.
 */
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NativeSipEngine } from '../../src/sip/engine-native.js';
import type { OutgoingInviteRequest } from '../../src/sip/engine.js';
import { killAll, type Running } from '../helpers/processes.js';
import { scenario, startSippUas, workDir } from '../helpers/sipp.js';

let engine: NativeSipEngine;

beforeAll(async () => {
  engine = new NativeSipEngine({
    host: '127.0.0.1',
    port: 0,
    // T1 25 ms (below what telgate's config allows, on this engine alone): a transaction's 64·T1
    // linger (timers L and M after a 2xx) is 1.6 s after each test.
    timers: { t1: 25, t2: 400, t4: 250 },
  });
  await engine.start();
});
afterAll(async () => {
  await engine.stop();
});
afterEach(async () => {
  await killAll();
  await engine.whenIdle();
  expect(engine.stats()).toEqual({ transactions: 0, dialogs: 0 });
});

const SDP = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

/** A sipp UAS running `file` for one call. */
async function sippUas(
  file: string,
  replace: Record<string, string>,
  transport: 'udp' | 'tcp' = 'udp',
): Promise<{ sipp: Running; port: number }> {
  const own = await workDir();
  const sf = await scenario(own, file, replace);
  const { sipp, ports } = await startSippUas(['-sf', sf], { cwd: own, transport });
  return { sipp, port: ports.sip };
}

function call(port: number, extra: Partial<OutgoingInviteRequest> = {}) {
  return engine.invite({
    uri: `sip:+15550100999@127.0.0.1:${port}`,
    from: 'sip:+15550100100@127.0.0.1',
    sdp: SDP,
    ...extra,
  });
}

describe.each(['udp', 'tcp'] as const)('UAC over %s', (transport) => {
  it('answers a 401 with MD5 digest credentials, is answered, and ends with BYE', async () => {
    const uas = await sippUas(
      'uas_auth.xml',
      {
        ALGO: 'MD5',
        VERIFY: '<verifyauth assign_to="valid" username="alice" password="secret"/>',
      },
      transport,
    );
    const result = await call(uas.port, {
      transport,
      credentials: { username: 'alice', password: 'secret' },
    }).result;
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (!result.ok) return;
    expect(result.sdp).toMatch(/m=audio \d+ RTP\/AVP 0/);
    await result.dialog.bye();
    const done = await uas.sipp.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });

  it('a 486 is reported as refused and ACKed inside the transaction', async () => {
    const uas = await sippUas('uas_code.xml', { CODE: '486', REASON: 'Busy Here' }, transport);
    const result = await call(uas.port, { transport }).result;
    expect(result).toEqual({ ok: false, status: 486, reason: 'Busy Here' });
    const done = await uas.sipp.done; // sipp waits for the ACK
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });
});

describe('UAC', () => {
  it('answers a 401 with SHA-256 digest credentials', async () => {
    const uas = await sippUas('uas_auth.xml', {
      ALGO: 'SHA-256',
      VERIFY:
        '<ereg regexp="response=.[0-9a-f]{64}." search_in="hdr" header="Authorization:" assign_to="valid"/>',
    });
    const result = await call(uas.port, {
      credentials: { username: 'alice', password: 'secret' },
    }).result;
    expect(result.ok, JSON.stringify(result)).toBe(true);
    if (result.ok) await result.dialog.bye();
    const done = await uas.sipp.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });

  it('wrong credentials: the UAS refuses them and the UAC does not retry in a loop', async () => {
    const uas = await sippUas('uas_auth.xml', {
      ALGO: 'MD5',
      VERIFY: '<verifyauth assign_to="valid" username="alice" password="secret"/>',
    });
    const result = await call(uas.port, {
      credentials: { username: 'alice', password: 'wrong' },
    }).result;
    expect(result).toMatchObject({ ok: false, status: 403 });
    await uas.sipp.done;
  });

  it('CANCEL while ringing: the call ends 487 and the 487 is ACKed', async () => {
    const uas = await sippUas('uas_ring_cancel.xml', {});
    const outgoing = call(uas.port);
    const rang = new Promise<number>((resolve) => outgoing.onProvisional(resolve));
    expect(await rang).toBe(180);
    outgoing.cancel();
    expect(await outgoing.result).toMatchObject({ ok: false, status: 487 });
    const done = await uas.sipp.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });

  it('REFER inside the dialog: 202, then the NOTIFY reports 200; the far end hangs up', async () => {
    const uas = await sippUas('uas_refer_then_bye.xml', {});
    const result = await call(uas.port).result;
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const ended = new Promise((resolve) => result.dialog.onEnd(resolve));
    const progress: number[] = [];
    const outcome = await result.dialog.refer('sip:transfer-target@127.0.0.1:5099', {
      onProgress: (status) => progress.push(status),
    });
    expect(outcome).toEqual({ status: 202, finalStatus: 200 });
    expect(progress).toEqual([200]);
    expect(await ended).toBe('remote-bye');
    const done = await uas.sipp.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });

  it('no answer at all: 408 after timer B', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    let invites = 0;
    socket.on('message', () => invites++);
    const result = await call(socket.address().port).result;
    socket.close();
    expect(result).toEqual({ ok: false, status: 408, reason: 'Request Timeout' });
    expect(invites).toBeGreaterThanOrEqual(5); // timer A retransmissions
  });

  it('a second fork answering 200 gets ACK and BYE; the first one is the call', async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const seen: string[] = [];
    let byeSeen!: () => void;
    const bye = new Promise<void>((r) => (byeSeen = r));
    socket.on('message', (data, rinfo) => {
      const text = data.toString('latin1');
      const method = text.split(' ')[0];
      const toTag = /\r\nTo: [^\r]*;tag=(\w+)/i.exec(text)?.[1] ?? '';
      seen.push(`${method} ${toTag}`.trim());
      const reply = (status: string, tag: string, body = '') => {
        const headers = text
          .split('\r\n')
          .filter((l) => /^(Via|From|Call-ID|CSeq):/i.test(l))
          .join('\r\n');
        const to = /\r\nTo: ([^\r]*)/i.exec(text)?.[1] ?? '';
        const toHeader = tag ? `${to.replace(/;tag=\w+/, '')};tag=${tag}` : to;
        socket.send(
          `SIP/2.0 ${status}\r\n${headers}\r\nTo: ${toHeader}\r\nContact: <sip:u@127.0.0.1:${socket.address().port}>\r\n` +
            (body ? 'Content-Type: application/sdp\r\n' : '') +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
          rinfo.port,
          rinfo.address,
        );
      };
      if (method === 'INVITE' && seen.filter((s) => s.startsWith('INVITE')).length === 1) {
        reply('200 OK', 'forkA', SDP);
        reply('200 OK', 'forkB', SDP);
      }
      if (method === 'BYE') {
        reply('200 OK', '');
        byeSeen();
      }
    });
    const result = await call(socket.address().port).result;
    expect(result.ok).toBe(true);
    await bye;
    expect(seen).toContain('ACK forkA');
    expect(seen).toContain('ACK forkB');
    expect(seen).toContain('BYE forkB');
    expect(seen).not.toContain('BYE forkA');
    if (result.ok) await result.dialog.bye();
    socket.close();
  });
});
