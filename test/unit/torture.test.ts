/**
 * RFC 4475 torture messages: the valid ones parse to the right fields, the invalid ones are
 * refused with the status the RFC gives, both by the parser and by a running engine over UDP.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeSipEngine } from '../../src/sip/engine-native.js';
import { parseCSeq, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parse.js';
import { tagOf } from '../../src/sip/uri.js';
import { INVALID, SEMANTIC, VALID } from '../data/rfc4475.js';

function parsed(name: keyof typeof VALID) {
  const result = parseMessage(VALID[name].message);
  if (!result.ok) throw new Error(`${name}: ${result.error}`);
  return result.message;
}

describe('RFC 4475 valid messages parse', () => {
  it.each(Object.keys(VALID))('%s', (name) => {
    const result = parseMessage(VALID[name].message);
    expect(result.ok, result.ok ? '' : result.error).toBe(true);
  });

  it('wsinv: folding, odd spacing and compact forms give the right fields', () => {
    const m = parsed('wsinv') as SipRequest;
    expect(m.method).toBe('INVITE');
    expect(m.headers.get('call-id')).toBe('wsinv.ndaksdj@192.0.2.1');
    expect(parseCSeq(m.headers.get('cseq'))).toEqual({ seq: 9, method: 'INVITE' });
    expect(tagOf(m.headers.get('to'))).toBe('1918181833n');
    expect(tagOf(m.headers.get('from'))).toBe('98asjd8');
    expect(m.headers.getAll('via')).toHaveLength(3);
    expect(m.headers.get('max-forwards')).toBe('0068');
    expect(m.headers.get('newfangledheader')).toBe('newfangled value continued newfangled value');
    expect(m.body.length).toBe(150);
  });

  it('intmeth: the method is any token', () => {
    const m = parsed('intmeth') as SipRequest;
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(parseCSeq(m.headers.get('cseq'))?.method).toBe(m.method);
  });

  it('dblreq: only Content-Length bytes belong to the message', () => {
    const m = parsed('dblreq') as SipRequest;
    expect(m.method).toBe('REGISTER');
    expect(m.body.length).toBe(0);
  });

  it('longreq and transports: every Via is kept', () => {
    expect(parsed('longreq').headers.getAll('via')).toHaveLength(35);
    expect(parsed('transports').headers.getAll('via')).toHaveLength(5);
  });

  it('responses with an unusual or empty reason phrase', () => {
    expect((parsed('unreason') as SipResponse).status).toBe(200);
    const noreason = parsed('noreason') as SipResponse;
    expect(noreason.status).toBe(100);
    expect(noreason.reason).toBe('');
  });
});

describe('RFC 4475 invalid messages are refused by the parser', () => {
  it.each(Object.keys(INVALID))('%s', (name) => {
    const result = parseMessage(INVALID[name].message);
    expect(result.ok).toBe(false);
    if (!result.ok && INVALID[name].status) expect(result.status).toBe(INVALID[name].status);
  });
});

describe('a running engine answers torture requests over UDP', () => {
  let engine: NativeSipEngine;
  let socket: dgram.Socket;
  const waiting = new Map<string, (status: number) => void>();

  beforeAll(async () => {
    engine = new NativeSipEngine({
      host: '127.0.0.1',
      port: 0,
      transports: ['udp'],
      timers: { t1: 50, t2: 400, t4: 250 },
    });
    engine.onInvite((invite) => invite.reject({ status: 404 }));
    await engine.start();
    socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    // Read leniently: a 400 copies the very headers that made the request invalid.
    socket.on('message', (data) => {
      const text = data.toString('utf8');
      const status = Number(/^SIP\/2\.0 (\d{3}) /.exec(text)?.[1] ?? 0);
      if (status >= 200) waiting.get(keyOf(text))?.(status);
    });
  });
  afterAll(async () => {
    socket.close();
    await engine.stop();
  });

  /** Call-ID and top branch: a response answers the request with both. */
  function keyOf(text: string): string {
    const callId = /^(?:Call-ID|i): *(.*)$/im.exec(text)?.[1].trim() ?? '';
    return `${callId}|${/branch=([^;,\s]+)/.exec(text)?.[1] ?? ''}`;
  }

  /** Sends a torture message (with rport, so the answer comes back here) and awaits the status. */
  function exchange(message: Buffer): Promise<number> {
    const text = message.toString('utf8').replace(/^(Via: SIP\/2\.0\/UDP [^;\r]+)/m, '$1;rport');
    const callId = keyOf(text);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final response for ${callId}`)), 2000);
      waiting.set(callId, (status) => {
        clearTimeout(timer);
        resolve(status);
      });
      socket.send(Buffer.from(text, 'utf8'), engine.listenAddress.port, '127.0.0.1');
    });
  }

  const answerable = Object.entries(INVALID).filter(
    ([name, c]) => c.status && !['multi01', 'mcl01', 'badinv01'].includes(name),
  );
  it.each(answerable)('%s gets its status', async (_name, c) => {
    expect(await exchange(c.message)).toBe(c.status);
  });

  it.each(Object.entries(SEMANTIC))('%s gets %s', async (_name, c) => {
    expect(await exchange(c.message)).toBe(c.status);
  });

  it('the same INVITE arriving by a second path (new branch) gets 482', async () => {
    const first = VALID.inv2543.message
      .toString('latin1')
      .replace('Via: SIP/2.0/UDP 192.0.2.15', 'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKpath1');
    const merged = (branch: string) =>
      Buffer.from(
        first
          .replace('z9hG4bKpath1', branch)
          .replace('Call-ID: 242342@192.0.2.15', 'Call-ID: loop482')
          .replace('From: <sip:UserA@example.com>', 'From: <sip:UserA@example.com>;tag=l1'),
        'latin1',
      );
    expect(await exchange(merged('z9hG4bKpath1'))).toBe(404);
    expect(await exchange(merged('z9hG4bKpath2'))).toBe(482);
  });

  it('an RFC 2543 INVITE without a branch cookie is served', async () => {
    expect(await exchange(VALID.inv2543.message)).toBe(404);
  });

  it('after all of it, no transaction is left once the timers ran out', async () => {
    await engine.whenIdle();
    expect(engine.stats()).toEqual({ transactions: 0, dialogs: 0 });
  });
});
