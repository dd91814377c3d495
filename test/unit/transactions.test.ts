/** Transaction timers under fake time: the schedule RFC 3261 §17 prescribes, and clean ends. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildResponse } from '../../src/sip/build.js';
import type { SipPeer, SipRequest } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parse.js';
import { ClientTransaction } from '../../src/sip/transaction-client.js';
import { InviteClientTransaction } from '../../src/sip/transaction-client-invite.js';
import { ServerInviteTransaction } from '../../src/sip/transaction-server-invite.js';
import { ServerTransaction } from '../../src/sip/transaction-server.js';

const peer: SipPeer = { transport: 'udp', address: '127.0.0.1', port: 5062 };
const timers = { t1: 500, t2: 4000, t4: 5000 };

function request(method: string): SipRequest {
  const r = parseMessage(
    Buffer.from(
      `${method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 ${method}\r\n\r\n`,
    ),
  );
  if (!r.ok || r.message.kind !== 'request') throw new Error('bad fixture');
  return r.message;
}

function context() {
  const sent: number[] = [];
  const ended: string[] = [];
  return {
    sent,
    ended,
    ctx: { timers, send: () => sent.push(Date.now()), terminated: (k: string) => ended.push(k) },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('INVITE server transaction', () => {
  it('retransmits a final error on timer G (capped at T2) until ACK, then ends after timer I', () => {
    const { sent, ended, ctx } = context();
    const invite = request('INVITE');
    const txn = new ServerInviteTransaction('k', invite, peer, ctx);
    txn.respond(buildResponse(invite, 486));
    vi.advanceTimersByTime(500 + 1000 + 2000 + 4000 + 4000);
    expect(sent).toEqual([0, 500, 1500, 3500, 7500, 11500]);
    txn.receive(request('ACK'));
    expect(txn.state).toBe('confirmed');
    vi.advanceTimersByTime(4999);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ended).toEqual(['k']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up on timer H when no ACK comes', () => {
    const { ended, ctx } = context();
    const invite = request('INVITE');
    const txn = new ServerInviteTransaction('k', invite, peer, ctx);
    txn.respond(buildResponse(invite, 404));
    vi.advanceTimersByTime(64 * 500);
    expect(ended).toEqual(['k']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('absorbs INVITE retransmissions after 2xx (RFC 6026 Accepted) and answers them with 100 before', () => {
    const { sent, ctx } = context();
    const invite = request('INVITE');
    const txn = new ServerInviteTransaction('k', invite, peer, ctx);
    txn.respond(buildResponse(invite, 100));
    txn.receive(invite);
    expect(sent).toHaveLength(2);
    txn.respond(buildResponse(invite, 200, { toTag: 't' }));
    txn.receive(invite);
    expect(sent).toHaveLength(3);
    expect(txn.state).toBe('accepted');
  });
});

describe('non-INVITE transactions', () => {
  it('the server resends its final response to retransmissions until timer J', () => {
    const { sent, ended, ctx } = context();
    const bye = request('BYE');
    const txn = new ServerTransaction('k', bye, peer, ctx);
    txn.respond(buildResponse(bye, 200));
    txn.receive();
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(64 * 500);
    expect(ended).toEqual(['k']);
    txn.receive();
    expect(sent).toHaveLength(2);
  });

  it('the client retransmits on timer E and reports a timeout on timer F', () => {
    const { sent, ctx } = context();
    const outcomes: unknown[] = [];
    const txn = new ClientTransaction('k', Buffer.from('BYE'), peer, ctx, (o) => outcomes.push(o));
    txn.start();
    vi.advanceTimersByTime(64 * 500);
    expect(sent.slice(0, 5)).toEqual([0, 500, 1500, 3500, 7500]);
    expect(sent.at(-1)! - sent.at(-2)!).toBe(4000);
    expect(outcomes).toEqual([{ timeout: true }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the client stops retransmitting on a final response and ends after timer K', () => {
    const { sent, ended, ctx } = context();
    const outcomes: unknown[] = [];
    const bye = request('BYE');
    const txn = new ClientTransaction('k', Buffer.from('BYE'), peer, ctx, (o) => outcomes.push(o));
    txn.start();
    vi.advanceTimersByTime(600);
    txn.receive(buildResponse(bye, 200));
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(2);
    expect(outcomes).toHaveLength(1);
    expect(ended).toEqual(['k']);
  });
});

describe('INVITE client transaction', () => {
  function events() {
    const log: string[] = [];
    return {
      log,
      handlers: {
        provisional: (r: { status: number }) => log.push(`prov ${r.status}`),
        final: (r: { status: number } | undefined) => log.push(r ? `final ${r.status}` : 'timeout'),
        extra2xx: (r: { status: number }) => log.push(`extra ${r.status}`),
      },
    };
  }

  it('timer A doubles without a cap until timer B reports a timeout at 64·T1', () => {
    const { sent, ended, ctx } = context();
    const { log, handlers } = events();
    const txn = new InviteClientTransaction('k', request('INVITE'), peer, ctx, handlers);
    txn.start();
    vi.advanceTimersByTime(32_000);
    expect(sent).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(log).toEqual(['timeout']);
    expect(ended).toEqual(['k']);
  });

  it('a provisional stops retransmission; a 486 is ACKed here, and again per retransmission', () => {
    const { sent, ended, ctx } = context();
    const { log, handlers } = events();
    const invite = request('INVITE');
    const txn = new InviteClientTransaction('k', invite, peer, ctx, handlers);
    txn.start();
    txn.receive(buildResponse(invite, 180, { toTag: 't' }));
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([0]);
    txn.receive(buildResponse(invite, 486, { toTag: 't' }));
    txn.receive(buildResponse(invite, 486, { toTag: 't' }));
    expect(sent).toHaveLength(3); // INVITE, ACK, ACK again
    expect(log).toEqual(['prov 180', 'final 486']);
    vi.advanceTimersByTime(32_000); // timer D
    expect(ended).toEqual(['k']);
  });

  it('RFC 6026 Accepted: later 2xx (retransmitted or forked) reach the TU until timer M', () => {
    const { ended, ctx } = context();
    const { log, handlers } = events();
    const invite = request('INVITE');
    const txn = new InviteClientTransaction('k', invite, peer, ctx, handlers);
    txn.start();
    txn.receive(buildResponse(invite, 200, { toTag: 'a' }));
    txn.receive(buildResponse(invite, 200, { toTag: 'b' }));
    expect(log).toEqual(['final 200', 'extra 200']);
    vi.advanceTimersByTime(32_000);
    expect(ended).toEqual(['k']);
  });
});
