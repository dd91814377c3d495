/**
 * The built-in SIP engine: UDP transport, transaction tables and UAS dialogs, dispatched as
 * RFC 3261 §8.2 and §12.2.2 say. Everything it opens (transactions, dialogs, timers) is tracked
 * in a table so stats() can prove it all went away.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { buildResponse, type ResponseOptions } from './build.js';
import { Dialog, dialogId } from './dialog.js';
import type { EngineStats, IncomingInvite, SipEngine } from './engine.js';
import type { SipMessage, SipPeer, SipRequest, SipResponse } from './message.js';
import { parseMessage, DEFAULT_PARSE_LIMITS, type ParseLimits } from './parse.js';
import { serializeMessage } from './serialize.js';
import { NativeIncomingInvite } from './incoming-invite.js';
import { ClientTransaction, type ClientOutcome } from './transaction-client.js';
import { clientTransactionKey, serverTransactionKey } from './transaction-common.js';
import { ServerInviteTransaction } from './transaction-server-invite.js';
import { ServerTransaction } from './transaction-server.js';
import { DEFAULT_TIMERS, type SipTimers } from './timers.js';
import { UdpTransport } from './transport-udp.js';
import { parseUri, tagOf } from './uri.js';
import { formatVia, parseVia, randomToken } from './via.js';
import { splitHeaderList } from './headers.js';

export interface NativeEngineOptions {
  host: string;
  port: number;
  /** Address written into Via and Contact when it differs from the bind address. */
  advertisedHost?: string;
  timers?: Partial<SipTimers>;
  limits?: Partial<ParseLimits>;
  userAgent?: string;
  /** Told about messages the engine refused or dropped, for logs and metrics. */
  onProtocolError?: (problem: string, peer: SipPeer) => void;
  /** While true, new INVITEs and OPTIONS get 503 (graceful drain). */
  draining?: () => boolean;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS';

export class NativeSipEngine implements SipEngine {
  readonly timers: SipTimers;
  private readonly limits: ParseLimits;
  private readonly transport: UdpTransport;
  private readonly serverTxns = new Map<string, ServerInviteTransaction | ServerTransaction>();
  private readonly clientTxns = new Map<string, ClientTransaction>();
  private readonly dialogs = new Map<string, Dialog>();
  private idleWaiters: Array<() => void> = [];
  private inviteHandler: ((invite: IncomingInvite) => void) | undefined;
  readonly commonHeaders: Array<[string, string]>;

  constructor(private readonly options: NativeEngineOptions) {
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.limits = { ...DEFAULT_PARSE_LIMITS, ...options.limits };
    this.transport = new UdpTransport(options.host, options.port, (data, peer) =>
      this.receive(data, peer),
    );
    this.commonHeaders = [['server', options.userAgent ?? 'telgate']];
  }

  get listenAddress(): { host: string; port: number } {
    return { host: this.options.host, port: this.transport.localPort };
  }

  private get advertisedHost(): string {
    return this.options.advertisedHost ?? this.options.host;
  }

  get contact(): string {
    const host = this.advertisedHost.includes(':')
      ? `[${this.advertisedHost}]`
      : this.advertisedHost;
    return `<sip:telgate@${host}:${this.transport.localPort}>`;
  }

  onInvite(handler: (invite: IncomingInvite) => void): void {
    this.inviteHandler = handler;
  }

  async start(): Promise<void> {
    await this.transport.listen();
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.dialogs.values()].map((d) => d.bye()));
    for (const dialog of [...this.dialogs.values()]) dialog.end('engine-stopped');
    for (const txn of [...this.serverTxns.values()]) txn.terminate();
    for (const txn of [...this.clientTxns.values()]) txn.terminate();
    await this.transport.close();
  }

  /** Resolves once no transaction or dialog is left (the tables drain as their timers end). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.serverTxns.size + this.clientTxns.size + this.dialogs.size === 0;
  }

  private checkIdle(): void {
    if (!this.idleWaiters.length || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  stats(): EngineStats {
    return {
      transactions: this.serverTxns.size + this.clientTxns.size,
      dialogs: this.dialogs.size,
    };
  }

  // ---- receiving -------------------------------------------------------------------------

  private receive(data: Buffer, peer: SipPeer): void {
    if (isKeepAlive(data)) return;
    const result = parseMessage(data, this.limits);
    if (!result.ok) {
      this.options.onProtocolError?.(result.error, peer);
      const partial = result.partial;
      if (partial && partial.method !== 'ACK' && canAnswer(partial)) {
        this.sendStateless(partial, peer, result.status, {
          headers: [['warning', `399 telgate "${result.error}"`]],
        });
      }
      return;
    }
    if (result.message.kind === 'response') this.receiveResponse(result.message);
    else this.receiveRequest(result.message, peer);
  }

  private receiveResponse(response: SipResponse): void {
    const via = parseVia(response.headers.getAll('via')[0] ?? '');
    const method = (response.headers.get('cseq') ?? '').trim().split(/\s+/)[1] ?? '';
    const branch = via?.params.get('branch');
    if (!branch) return;
    this.clientTxns.get(clientTransactionKey(branch, method))?.receive(response);
  }

  private receiveRequest(request: SipRequest, source: SipPeer): void {
    const via = parseVia(request.headers.getAll('via')[0] ?? '');
    if (!via) {
      this.options.onProtocolError?.('malformed Via', source);
      return;
    }
    const replyTo = this.stampVia(request, source);
    const existing = this.serverTxns.get(serverTransactionKey(request));
    if (existing) {
      if (existing instanceof ServerInviteTransaction) existing.receive(request);
      else existing.receive();
      return;
    }
    if (request.method === 'ACK') {
      this.dialogFor(request)?.receiveAck();
      return;
    }
    const maxForwards = request.headers.get('max-forwards');
    if (maxForwards !== undefined && Number(maxForwards) === 0 && request.method !== 'OPTIONS') {
      this.respondOnce(request, replyTo, 483);
      return;
    }
    if (request.method === 'CANCEL') return this.receiveCancel(request, replyTo);
    if (tagOf(request.headers.get('to'))) return this.receiveInDialog(request, replyTo);
    this.receiveOutOfDialog(request, replyTo);
  }

  /** RFC 3261 §18.2.1 received and RFC 3581 rport; returns where responses must go. */
  private stampVia(request: SipRequest, source: SipPeer): SipPeer {
    const vias = request.headers.getAll('via');
    const top = parseVia(vias[0]);
    if (!top) return source;
    let port = top.port ?? 5060;
    if (top.host !== source.address) top.params.set('received', source.address);
    if (top.params.has('rport')) {
      top.params.set('rport', String(source.port));
      port = source.port;
    }
    replaceTopVia(request, formatVia(top));
    return { transport: source.transport, address: source.address, port };
  }

  private receiveCancel(cancel: SipRequest, replyTo: SipPeer): void {
    const invite = this.serverTxns.get(serverTransactionKey(cancel, 'INVITE'));
    if (!(invite instanceof ServerInviteTransaction)) {
      this.respondOnce(cancel, replyTo, 481);
      return;
    }
    this.respondOnce(cancel, replyTo, 200);
    if (invite.isProceeding) {
      if (invite.onCancel) invite.onCancel();
      else invite.respond(buildResponse(invite.request, 487, { headers: this.commonHeaders }));
    }
  }

  private receiveInDialog(request: SipRequest, replyTo: SipPeer): void {
    const dialog = this.dialogFor(request);
    if (!dialog) {
      this.respondOnce(request, replyTo, 481);
      return;
    }
    if (!dialog.acceptRemoteCSeq(request)) {
      this.respondOnce(request, replyTo, 500, { reason: 'CSeq Out Of Order' });
      return;
    }
    switch (request.method) {
      case 'BYE':
        this.respondOnce(request, replyTo, 200);
        dialog.receiveBye();
        return;
      case 'OPTIONS':
      case 'INFO':
        this.respondOnce(request, replyTo, 200);
        return;
      case 'INVITE':
        // Session changes inside a dialog are not supported yet: refuse without touching the call.
        this.respondOnce(request, replyTo, 488, {
          headers: [['warning', '399 telgate "re-INVITE not supported"']],
        });
        return;
      default:
        this.respondOnce(request, replyTo, 405, { headers: [['allow', ALLOW]] });
    }
  }

  private receiveOutOfDialog(request: SipRequest, replyTo: SipPeer): void {
    switch (request.method) {
      case 'INVITE':
        return this.receiveInvite(request, replyTo);
      case 'OPTIONS':
        if (this.options.draining?.()) return this.respondOnce(request, replyTo, 503);
        return this.respondOnce(request, replyTo, 200, {
          headers: [
            ['allow', ALLOW],
            ['accept', 'application/sdp'],
            ['supported', ''],
          ],
        });
      case 'BYE':
        return this.respondOnce(request, replyTo, 481);
      default:
        return this.respondOnce(request, replyTo, 405, { headers: [['allow', ALLOW]] });
    }
  }

  private receiveInvite(request: SipRequest, replyTo: SipPeer): void {
    const key = serverTransactionKey(request);
    const txn = new ServerInviteTransaction(key, request, replyTo, this.txnContext());
    this.serverTxns.set(key, txn);
    txn.respond(buildResponse(request, 100, { headers: this.commonHeaders }));
    const require = request.headers.getAll('require');
    if (require.length) {
      txn.respond(
        buildResponse(request, 420, {
          headers: [['unsupported', require.join(', ')], ...this.commonHeaders],
        }),
      );
      return;
    }
    if (!this.inviteHandler || this.options.draining?.()) {
      txn.respond(buildResponse(request, 503, { headers: this.commonHeaders }));
      return;
    }
    this.inviteHandler(new NativeIncomingInvite(this.inviteHost(), txn, request, replyTo));
  }

  private dialogFor(request: SipRequest): Dialog | undefined {
    const callId = request.headers.get('call-id') ?? '';
    const local = tagOf(request.headers.get('to')) ?? '';
    const remote = tagOf(request.headers.get('from')) ?? '';
    return this.dialogs.get(dialogId(callId, local, remote));
  }

  // ---- sending ---------------------------------------------------------------------------

  /** Answers a non-INVITE request through its own server transaction (absorbs retransmissions). */
  private respondOnce(
    request: SipRequest,
    replyTo: SipPeer,
    status: number,
    options: ResponseOptions = {},
  ): void {
    const key = serverTransactionKey(request);
    const txn = new ServerTransaction(key, request, replyTo, this.txnContext());
    this.serverTxns.set(key, txn);
    txn.respond(
      buildResponse(request, status, {
        ...options,
        toTag: status > 100 ? randomToken(10) : undefined,
        headers: [...(options.headers ?? []), ...this.commonHeaders],
      }),
    );
  }

  private sendStateless(
    request: SipRequest,
    peer: SipPeer,
    status: number,
    options: ResponseOptions,
  ): void {
    const response = buildResponse(request, status, {
      ...options,
      headers: [...(options.headers ?? []), ...this.commonHeaders],
    });
    this.transport.send(serializeMessage(response), peer);
  }

  private txnContext() {
    return {
      timers: this.timers,
      send: (data: Buffer, peer: SipPeer) => this.transport.send(data, peer),
      terminated: (key: string) => {
        this.serverTxns.delete(key);
        this.clientTxns.delete(key);
        this.checkIdle();
      },
    };
  }

  private inviteHost() {
    return {
      timers: this.timers,
      contact: this.contact,
      commonHeaders: this.commonHeaders,
      send: (data: Buffer, peer: SipPeer) => this.transport.send(data, peer),
      request: (request: SipRequest, branch: string, peer: SipPeer) =>
        this.request(request, branch, peer),
      resolve: (uri: string, transport: SipPeer['transport']) => resolveUri(uri, transport),
      viaFor: (transport: SipPeer['transport'], branch: string) => this.viaFor(transport, branch),
      adopt: (dialog: Dialog) => this.dialogs.set(dialog.id, dialog),
      ended: (dialog: Dialog) => {
        this.dialogs.delete(dialog.id);
        this.checkIdle();
      },
    };
  }

  viaFor(transport: SipPeer['transport'], branch: string): string {
    const host = this.advertisedHost.includes(':')
      ? `[${this.advertisedHost}]`
      : this.advertisedHost;
    return `SIP/2.0/${transport.toUpperCase()} ${host}:${this.transport.localPort};branch=${branch};rport`;
  }

  /** Runs a non-INVITE client transaction; resolves with the final response or a timeout. */
  request(request: SipRequest, branch: string, peer: SipPeer): Promise<ClientOutcome> {
    request.headers.add('user-agent', this.options.userAgent ?? 'telgate');
    return new Promise((resolve) => {
      const key = clientTransactionKey(branch, request.method);
      const txn = new ClientTransaction(
        key,
        serializeMessage(request),
        peer,
        this.txnContext(),
        resolve,
      );
      this.clientTxns.set(key, txn);
      txn.start();
    });
  }
}

/** Rewrites only the first Via value, wherever it sits (a header line may hold several). */
function replaceTopVia(request: SipRequest, value: string): void {
  const entry = request.headers.entries.find((e) => e[0] === 'via');
  if (!entry) return;
  const values = splitHeaderList(entry[1]);
  values[0] = value;
  entry[1] = values.join(', ');
}

function isKeepAlive(data: Buffer): boolean {
  for (const byte of data) if (byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}

/** A 400 can only be routed back when the headers a response copies are present. */
function canAnswer(request: SipMessage): boolean {
  const h = request.headers;
  return Boolean(
    parseVia(h.getAll('via')[0] ?? '') &&
    h.get('from') &&
    h.get('to') &&
    h.get('call-id') &&
    h.get('cseq'),
  );
}

async function resolveUri(
  uri: string,
  transport: SipPeer['transport'],
): Promise<SipPeer | undefined> {
  const parsed = parseUri(uri);
  if (!parsed || parsed.scheme === 'tel') return undefined;
  const port = parsed.port ?? 5060;
  if (net.isIP(parsed.host)) return { transport, address: parsed.host, port };
  try {
    const { address } = await dns.lookup(parsed.host);
    return { transport, address, port };
  } catch {
    return undefined;
  }
}
