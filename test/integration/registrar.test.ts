/**
 * The registrar against a client written for it (UDP, digest MD5 and SHA-256): the challenge,
 * bindings added, listed, expired and removed, 423, 403 for a wrong password and for another
 * user's address, a replayed nonce count, and the rate limit that stops answering a source that
 * keeps failing while another source still registers. SIP outbound (RFC 5626) with sipp over
 * TCP: the flow's binding replaced by its next REGISTER and gone with its connection; the CRLF
 * and STUN keep-alives answered.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ha1Of } from '../../src/sip/digest-server.js';
import { startGateway, testConfig, type TestGateway } from '../helpers/gateway.js';
import { RegisterClient } from '../helpers/sip-register.js';
import { messagesLog, scenario, sippPorts, startSipp, workDir } from '../helpers/sipp.js';
import { until } from '../helpers/wait.js';

let tg: TestGateway;
const clients: RegisterClient[] = [];

beforeAll(async () => {
  tg = await startGateway(
    testConfig(31400, (raw) => {
      (raw.sip as Record<string, unknown>).registrar = { minExpires: 2, maxFailures: 10 };
      raw.devices = [
        {
          id: 'alice-phone',
          username: 'alice',
          ha1: { MD5: ha1Of('MD5', 'alice', 'telgate', 'secret') },
        },
        {
          id: 'bob-phone',
          username: 'bob',
          ha1: { 'SHA-256': ha1Of('SHA-256', 'bob', 'telgate', 'hunter2') },
        },
        {
          id: 'carol-phone',
          username: 'carol',
          ha1: { MD5: ha1Of('MD5', 'carol', 'telgate', 'secret') },
        },
      ];
    }),
  );
});
afterAll(() => tg?.stop());
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function client(local = '127.0.0.1'): Promise<RegisterClient> {
  const c = await RegisterClient.open(local, { host: '127.0.0.1', port: tg.sipPort });
  clients.push(c);
  return c;
}

const contactOf = (c: RegisterClient, user = 'alice') =>
  `<sip:${user}@${c.localAddress}:${c.port}>`;

describe('REGISTER', () => {
  it('challenges with MD5 and qop=auth, binds the contact, lists every binding', async () => {
    const c = await client();
    const first = await c.registerWithAuth('alice', 'secret', [contactOf(c)], [['Expires', '120']]);
    expect(first.challenge.status).toBe(401);
    expect(first.challenge.all('www-authenticate')).toEqual([
      expect.stringMatching(/^Digest realm="telgate", nonce="[^"]+", algorithm=MD5, qop="auth"$/),
    ]);
    expect(first.reply.status).toBe(200);
    expect(first.reply.all('contact')).toEqual([`${contactOf(c)};expires=120`]);
    const second = await c.registerWithAuth('alice', 'secret', [
      '<sip:alice@127.0.0.1:5999>;expires=300',
    ]);
    expect(second.reply.all('contact').sort()).toEqual(
      [`${contactOf(c)};expires=120`, '<sip:alice@127.0.0.1:5999>;expires=300'].sort(),
    );
    const bindings = await tg.gateway.store.bindings('alice');
    expect(bindings.map((b) => b.source)).toContainEqual({
      transport: 'udp',
      address: '127.0.0.1',
      port: c.port,
    });
    // Contact: * with Expires: 0 removes them all.
    const gone = await c.registerWithAuth('alice', 'secret', ['*'], [['Expires', '0']]);
    expect(gone.reply.status).toBe(200);
    expect(await tg.gateway.store.bindings('alice')).toEqual([]);
  });

  it('a SHA-256 device: challenged with SHA-256 and registers with it', async () => {
    const c = await client();
    const { challenge, reply } = await c.registerWithAuth('bob', 'hunter2', [contactOf(c, 'bob')]);
    expect(challenge.header('www-authenticate')).toMatch(/algorithm=SHA-256/);
    expect(reply.status).toBe(200);
    expect(await tg.gateway.store.bindings('bob')).toHaveLength(1);
    await c.registerWithAuth('bob', 'hunter2', [`${contactOf(c, 'bob')};expires=0`]);
    expect(await tg.gateway.store.bindings('bob')).toEqual([]);
  });

  it('423 below Min-Expires; a binding expires by itself', async () => {
    const c = await client();
    const brief = await c.registerWithAuth('alice', 'secret', [contactOf(c)], [['Expires', '1']]);
    expect(brief.reply.status).toBe(423);
    expect(brief.reply.header('min-expires')).toBe('2');
    const ok = await c.registerWithAuth('alice', 'secret', [contactOf(c)], [['Expires', '2']]);
    expect(ok.reply.status).toBe(200);
    await until(
      () => tg.gateway.store.bindings('alice'),
      (b) => b.length === 0,
      5000,
      'expiry',
    );
  });

  it('403 for a wrong password, for another user’s address, and for a replayed nonce count', async () => {
    const c = await client();
    expect((await c.registerWithAuth('alice', 'wrong', [contactOf(c)])).reply.status).toBe(403);
    // bob's credentials cannot bind alice's address.
    const other = await c.registerWithAuth('alice', 'hunter2', [contactOf(c)], [], 'bob');
    expect(other.reply.status).toBe(403);
    const good = await c.registerWithAuth('alice', 'secret', [contactOf(c)]);
    expect(good.reply.status).toBe(200);
    // The same Authorization again (same nonce, same nc): refused.
    const replay = await c.register(
      'alice',
      [contactOf(c)],
      [['Authorization', good.authorization]],
    );
    expect(replay.status).toBe(403);
    await c.registerWithAuth('alice', 'secret', ['*'], [['Expires', '0']]);
  });
});

describe('the rate limit', () => {
  it('stops answering a source after its failures; another source still registers', async () => {
    const attacker = await client('127.0.0.3');
    const { challenge } = await attacker.registerWithAuth('alice', 'guess-0', [
      contactOf(attacker),
    ]);
    expect(challenge.status).toBe(401);
    // 200 guesses, as fast as they go: the first ones get 403, then nothing.
    for (let i = 1; i <= 200; i++) {
      const guess = await attacker
        .registerWithAuth('alice', `guess-${i}`, [contactOf(attacker)])
        .catch(() => undefined);
      if (!guess) break; // no answer any more
    }
    const statuses = attacker.replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 403)).toHaveLength(10);
    // Ignored: a REGISTER from it gets no answer at all, not even a challenge.
    await expect(attacker.register('alice', [contactOf(attacker)], [], 500)).rejects.toThrow();
    // Another source is not affected.
    const neighbour = await client('127.0.0.2');
    const ok = await neighbour.registerWithAuth('alice', 'secret', [contactOf(neighbour)]);
    expect(ok.reply.status).toBe(200);
    await neighbour.registerWithAuth('alice', 'secret', ['*'], [['Expires', '0']]);
  });
});

describe('SIP outbound (RFC 5626)', () => {
  it('over TCP (sipp): the flow’s binding, replaced by its next REGISTER, goes with its connection', async () => {
    const dir = await workDir();
    const phone = startSipp({
      dir,
      scenarioFile: await scenario(dir, 'uac_register_outbound.xml', { PAUSE: '3000' }),
      service: 'carol',
      target: tg.sipPort,
      ports: sippPorts(),
      extra: ['-t', 't1', '-au', 'carol', '-ap', 'secret', '-trace_msg'],
    });
    // Bound while the connection is open: one binding, the flow's latest Contact.
    const bound = await until(
      () => tg.gateway.store.bindings('carol'),
      (b) => b.length === 1 && b[0].contact.includes('carol-b@'),
      5000,
      'the flow bound',
    );
    expect(bound[0]).toMatchObject({
      source: { transport: 'tcp' },
      flow: { instance: '"<urn:uuid:00000000-0000-4000-8000-00000000000a>"', regId: '1' },
    });
    const done = await phone.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const log = await messagesLog(dir, 'uac_register_outbound');
    expect(log).toMatch(/Require: outbound/);
    expect(log).toMatch(/Flow-Timer: 90/);
    // sipp ended and closed its connection: the flow is dead, so is its binding.
    await until(
      () => tg.gateway.store.bindings('carol'),
      (b) => b.length === 0,
      5000,
      'the binding gone with its flow',
    );
  });

  it('answers the keep-alives: CRLF over TCP, STUN Binding over UDP', async () => {
    const socket = net.connect(tg.sipPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('\r\n\r\n');
    const [pong] = (await once(socket, 'data')) as [Buffer];
    expect(pong.toString('latin1')).toBe('\r\n');
    socket.destroy();

    const udp = dgram.createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0);
    request.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(request, 8);
    udp.send(request, tg.sipPort, '127.0.0.1');
    const [answer] = (await once(udp, 'message')) as [Buffer];
    const port = udp.address().port;
    udp.close();
    expect(answer.readUInt16BE(0)).toBe(0x0101);
    expect(answer.subarray(8, 20)).toEqual(request.subarray(8, 20));
    // XOR-MAPPED-ADDRESS: this socket's port and 127.0.0.1, unmasked with the magic cookie.
    expect(answer.readUInt16BE(20)).toBe(0x0020);
    expect(answer.readUInt16BE(26) ^ 0x2112).toBe(port);
    expect([...answer.subarray(28, 32)].map((b, i) => b ^ request[4 + i])).toEqual([127, 0, 0, 1]);
  });
});
