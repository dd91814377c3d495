/**
 * The built-in SIP engine: UDP and TCP transports, the four transaction machines, dialogs in
 * both roles, dispatched as RFC 3261 §8.2, §12.2.2 and §17.2.3 say. Everything it opens
 * (transactions, dialogs, timers) is tracked in a table so stats() can prove it all went away.
 */
import os from 'node:os';
import { buildResponse, type ResponseOptions } from './build.js';
import { Dialog, dialogId } from './dialog.js';
import { handleInDialogRequest, type InDialogReply } from './dialog-requests.js';
import type {
  EngineStats,
  IncomingInvite,
  IncomingRegister,
  OutgoingCall,
  OutgoingInviteRequest,
  Rejection,
  SipEngine,
} from './engine.js';
import { canAnswer, isKeepAlive, replaceTopVia, resolveUri } from './engine-support.js';
import type { SipPeer, SipRequest, SipResponse } from './message.js';
import { parseCSeq } from './message.js';
import { ALLOW, refusalForMethod, SUPPORTED } from './methods.js';
import { parseMessage, DEFAULT_PARSE_LIMITS, type ParseLimits } from './parse.js';
import { serializeMessage } from './serialize.js';
import { NativeIncomingInvite } from './incoming-invite.js';
import { ClientTransaction, type ClientOutcome } from './transaction-client.js';
import { InviteClientTransaction, type InviteClientEvents } from './transaction-client-invite.js';
import { clientTransactionKey, serverTransactionKey } from './transaction-common.js';
import { ServerInviteTransaction } from './transaction-server-invite.js';
import { ServerTransaction } from './transaction-server.js';
import { DEFAULT_TIMERS, type SipTimers } from './timers.js';
import { DEFAULT_TCP_LIMITS, type TcpLimits } from './transport-tcp.js';
import { Transports, type TransportName } from './transports.js';
import type { TlsSettings } from './transport-tcp.js';
import type { WsListen } from './transport-ws.js';
import { OutgoingInvite } from './uac.js';
import { tagOf } from './uri.js';
import { formatVia, parseVia, randomToken, type Via } from './via.js';

export interface NativeEngineOptions {
  host: string;
  port: number;
  /** Transports to listen on, both on `port`; default UDP and TCP. */
  transports?: Array<'udp' | 'tcp'>;
  /** SIP over TLS on its own port, with its certificate. */
  tls?: { port: number; settings: TlsSettings };
  /** SIP over WebSocket on its own HTTP port (`wss` with TLS settings). */
  websocket?: WsListen;
  /** Address written into Via and Contact when it differs from the bind address. */
  advertisedHost?: string;
  timers?: Partial<SipTimers>;
  limits?: Partial<ParseLimits>;
  tcp?: Partial<Omit<TcpLimits, 'maxMessageBytes'>>;
  userAgent?: string;
  /** Told about messages the engine refused or dropped, for logs and metrics. */
  onProtocolError?: (problem: string, peer: SipPeer) => void;
  /** While true, new INVITEs and OPTIONS get 503 (graceful drain). */
  draining?: () => boolean;
  /**
   * While it returns a refusal, OPTIONS get it (an overloaded instance tells the dispatcher
   * probing it); INVITEs stay the call layer's to refuse, with its Reason.
   */
  optionsRefusal?: () => Rejection | undefined;
}

type Refusal = { status: number; headers: Array<[string, string]> };
type ServerTxn = ServerInviteTransaction | ServerTransaction;
type ClientTxn = ClientTransaction | InviteClientTransaction;

const URI_SCHEMES = new Set(['sip', 'sips', 'tel']);

export class NativeSipEngine implements SipEngine {
  readonly kind = 'native';
  readonly timers: SipTimers;
  private readonly limits: ParseLimits;
  private readonly transports: Transports;
  private readonly serverTxns = new Map<string, ServerTxn>();
  private readonly clientTxns = new Map<string, ClientTxn>();
  private readonly dialogs = new Map<string, Dialog>();
  /** Call-ID + From tag + CSeq of INVITEs being served, to spot merged requests (§8.2.2.2). */
  private readonly pendingInvites = new Map<string, string>();
  private readonly mergedByTxn = new Map<string, string>();
  private idleWaiters: Array<() => void> = [];
  private inviteHandler: ((invite: IncomingInvite) => void) | undefined;
  private registerHandler: ((register: IncomingRegister) => void) | undefined;
  private flowClosedHandler: ((peer: SipPeer) => void) | undefined;
  readonly commonHeaders: Array<[string, string]>;
  private readonly userAgent: string;
  private readonly hostname = os.hostname();

  constructor(private readonly options: NativeEngineOptions) {
    this.timers = { ...DEFAULT_TIMERS, ...options.timers };
    this.limits = { ...DEFAULT_PARSE_LIMITS, ...options.limits };
    this.userAgent = options.userAgent ?? 'telgate';
    this.transports = new Transports(
      options.host,
      options.port,
      options.transports ?? ['udp', 'tcp'],
      { ...DEFAULT_TCP_LIMITS, ...options.tcp, maxMessageBytes: this.limits.maxMessageBytes },
      {
        onMessage: (data, peer) => this.receive(data, peer),
        onOversize: (head, peer) => this.receiveOversize(head, peer),
        onProblem: (problem, peer) => options.onProtocolError?.(problem, peer),
        onClosed: (peer) => this.flowClosedHandler?.(peer),
      },
      options.tls,
      options.websocket,
    );
    this.commonHeaders = [['server', this.userAgent]];
  }

  get listenAddress(): {
    host: string;
    port: number;
    transports: TransportName[];
    tlsPort?: number;
    wsPort?: number;
  } {
    return {
      host: this.options.host,
      port: this.transports.localPort,
      transports: this.transports.enabled,
      ...(this.options.tls && { tlsPort: this.transports.portOf('tls') }),
      ...(this.options.websocket && { wsPort: this.transports.portOf('ws') }),
    };
  }

  private get advertisedHost(): string {
    const host = this.options.advertisedHost ?? this.options.host;
    return host.includes(':') ? `[${host}]` : host;
  }

  contactFor(transport: TransportName): string {
    const param = transport === 'udp' ? '' : `;transport=${transport}`;
    return `<sip:telgate@${this.advertisedHost}:${this.transports.portOf(transport)}${param}>`;
  }

  viaFor(transport: TransportName, branch: string): string {
    return `SIP/2.0/${transport.toUpperCase()} ${this.advertisedHost}:${this.transports.portOf(transport)};branch=${branch};rport`;
  }

  onInvite(handler: (invite: IncomingInvite) => void): void {
    this.inviteHandler = handler;
  }

  onRegister(handler: (register: IncomingRegister) => void): void {
    this.registerHandler = handler;
  }

  onFlowClosed(handler: (peer: SipPeer) => void): void {
    this.flowClosedHandler = handler;
  }

  private started = false;

  async start(): Promise<void> {
    await this.transports.listen();
    this.started = true;
  }

  ready(): boolean {
    return this.started;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.dialogs.values()].map((d) => d.bye()));
    for (const dialog of [...this.dialogs.values()]) dialog.end('engine-stopped');
    for (const txn of [...this.serverTxns.values()]) txn.terminate();
    for (const txn of [...this.clientTxns.values()]) txn.terminate();
    await this.transports.close();
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

  /** Every table the engine keeps, for leak checks in tests and for metrics. */
  tableSizes(): Record<string, number> {
    return {
      serverTransactions: this.serverTxns.size,
      clientTransactions: this.clientTxns.size,
      dialogs: this.dialogs.size,
      pendingInvites: this.pendingInvites.size,
      mergedByTransaction: this.mergedByTxn.size,
      idleWaiters: this.idleWaiters.length,
      tcpConnections: this.transports.tcpConnections,
    };
  }

  invite(request: OutgoingInviteRequest): OutgoingCall {
    const call = new OutgoingInvite(this.host, request);
    void call.start();
    return call;
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

  /** A stream message over the size limit: answer 513 from its head if it is a request. */
  private receiveOversize(head: Buffer, peer: SipPeer): void {
    this.options.onProtocolError?.('message too large', peer);
    const result = parseMessage(head, { ...this.limits, maxMessageBytes: Infinity });
    const partial = result.ok ? result.message : result.partial;
    if (partial?.kind === 'request' && partial.method !== 'ACK' && canAnswer(partial)) {
      this.sendStateless(partial, peer, 513, {});
    }
  }

  private receiveResponse(response: SipResponse): void {
    const via = parseVia(response.headers.getAll('via')[0] ?? '');
    const method = parseCSeq(response.headers.get('cseq'))?.method ?? '';
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
    const replyTo = this.stampVia(request, via, source);
    const existing = this.serverTxns.get(serverTransactionKey(request));
    if (existing) {
      if (existing instanceof ServerInviteTransaction) existing.receive(request);
      else existing.receive();
      return;
    }
    if (request.method === 'ACK') {
      this.dialogFor(request)?.receiveAck(request);
      return;
    }
    const early = this.earlyRefusal(request);
    if (early) return this.respondOnce(request, replyTo, early.status, { headers: early.headers });
    const maxForwards = request.headers.get('max-forwards');
    if (maxForwards !== undefined && Number(maxForwards) === 0 && request.method !== 'OPTIONS') {
      return this.respondOnce(request, replyTo, 483);
    }
    if (request.method === 'CANCEL') return this.receiveCancel(request, replyTo);
    if (tagOf(request.headers.get('to'))) return this.receiveInDialog(request, replyTo);
    this.receiveOutOfDialog(request, replyTo);
  }

  /**
   * RFC 3261 §18.2.1 received and RFC 3581 rport; returns where responses must go: over TCP or
   * TLS, back on the same connection (§18.2.2).
   */
  private stampVia(request: SipRequest, top: Via, source: SipPeer): SipPeer {
    const defaultPort = source.transport === 'tls' ? 5061 : 5060;
    if (source.transport !== 'udp')
      this.transports.alias(source, top.host, top.port ?? defaultPort);
    let port = top.port ?? defaultPort;
    if (top.host !== source.address) top.params.set('received', source.address);
    if (top.params.has('rport')) {
      top.params.set('rport', String(source.port));
      port = source.port;
    }
    replaceTopVia(request, formatVia(top));
    if (source.transport !== 'udp') return source;
    return { transport: source.transport, address: source.address, port };
  }

  private receiveCancel(cancel: SipRequest, replyTo: SipPeer): void {
    const invite = this.serverTxns.get(serverTransactionKey(cancel, 'INVITE'));
    if (!(invite instanceof ServerInviteTransaction)) return this.respondOnce(cancel, replyTo, 481);
    this.respondOnce(cancel, replyTo, 200);
    if (invite.isProceeding) {
      if (invite.onCancel) invite.onCancel();
      else invite.respond(buildResponse(invite.request, 487, { headers: this.commonHeaders }));
    }
  }

  private receiveInDialog(request: SipRequest, replyTo: SipPeer): void {
    const dialog = this.dialogFor(request);
    if (!dialog) return this.respondOnce(request, replyTo, 481);
    if (!dialog.acceptRemoteCSeq(request)) {
      return this.respondOnce(request, replyTo, 500, { reason: 'CSeq Out Of Order' });
    }
    handleInDialogRequest(dialog, request, this.inDialogReply(dialog, request, replyTo));
  }

  private inDialogReply(dialog: Dialog, request: SipRequest, replyTo: SipPeer): InDialogReply {
    const isInvite = request.method === 'INVITE';
    const txn = isInvite
      ? this.newInviteTransaction(request, replyTo)
      : this.newServerTransaction(request, replyTo);
    const respond = (status: number, options: ResponseOptions = {}): void =>
      txn.respond(
        buildResponse(request, status, {
          ...options,
          headers: [...(options.headers ?? []), ...this.commonHeaders],
        }),
      );
    if (isInvite) respond(100);
    const cseq = parseCSeq(request.headers.get('cseq'))?.seq ?? 0;
    return {
      respond,
      answer: (sdp, acked) => {
        if (!isInvite) return;
        const response = buildResponse(request, 200, {
          headers: [['contact', this.contactFor(dialog.transport)], ...this.commonHeaders],
          body: Buffer.from(sdp),
          contentType: 'application/sdp',
        });
        txn.respond(response);
        dialog.sendAnswer(serializeMessage(response), cseq, replyTo, acked, true);
      },
    };
  }

  private receiveOutOfDialog(request: SipRequest, replyTo: SipPeer): void {
    let refusal: Rejection | undefined;
    switch (request.method) {
      case 'INVITE':
        return this.receiveInvite(request, replyTo);
      case 'OPTIONS':
        if (this.options.draining?.()) return this.respondOnce(request, replyTo, 503);
        refusal = this.options.optionsRefusal?.();
        if (refusal) {
          return this.respondOnce(request, replyTo, refusal.status, { headers: refusal.headers });
        }
        return this.respondOnce(request, replyTo, 200, {
          headers: [
            ['allow', ALLOW],
            ['accept', 'application/sdp'],
            ['supported', SUPPORTED],
          ],
        });
      case 'REGISTER':
        if (this.registerHandler) return this.receiveRegister(request, replyTo);
        break;
      case 'BYE':
      case 'REFER':
      case 'NOTIFY':
      case 'UPDATE':
      case 'INFO':
        return this.respondOnce(request, replyTo, 481);
    }
    return this.respondOnce(request, replyTo, refusalForMethod(request.method), {
      headers: [['allow', ALLOW]],
    });
  }

  /** A REGISTER for the registrar, answered through its own server transaction. */
  private receiveRegister(request: SipRequest, replyTo: SipPeer): void {
    const txn = this.newServerTransaction(request, replyTo);
    let settled = false;
    this.registerHandler!({
      callId: request.headers.get('call-id') ?? '',
      requestUri: request.uri,
      to: request.headers.get('to') ?? '',
      cseq: parseCSeq(request.headers.get('cseq'))?.seq ?? 0,
      source: { ...replyTo },
      header: (name) => request.headers.get(name),
      headers: (name) => request.headers.getAll(name),
      respond: (status, headers = []) => {
        if (settled) return;
        settled = true;
        txn.respond(
          buildResponse(request, status, {
            toTag: randomToken(10),
            headers: [...headers, ...this.commonHeaders],
          }),
        );
      },
      ignore: () => {
        if (settled) return;
        settled = true;
        txn.terminate();
      },
    });
  }

  private receiveInvite(request: SipRequest, replyTo: SipPeer): void {
    const merged = this.mergedKey(request);
    const earlier = this.pendingInvites.get(merged);
    if (earlier && this.serverTxns.has(earlier)) {
      return this.respondOnce(request, replyTo, 482); // the same request by another path
    }
    const txn = this.newInviteTransaction(request, replyTo);
    this.pendingInvites.set(merged, txn.key);
    this.mergedByTxn.set(txn.key, merged);
    const refusal = this.inviteRefusal(request);
    if (refusal) {
      txn.respond(
        buildResponse(request, refusal.status, {
          toTag: randomToken(10),
          headers: [...refusal.headers, ...this.commonHeaders],
        }),
      );
      return;
    }
    this.inviteHandler!(new NativeIncomingInvite(this.host, txn, request, replyTo));
    // RFC 3261 §17.2.1: 100 Trying unless the TU answers at once (a 404 from routing needs none).
    if (!txn.hasResponded)
      txn.respond(buildResponse(request, 100, { headers: this.commonHeaders }));
  }

  /** Refusals for any request but CANCEL: an unknown URI scheme, an extension it requires. */
  private earlyRefusal(request: SipRequest): Refusal | undefined {
    if (request.method === 'CANCEL') return undefined;
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(request.uri)?.[1].toLowerCase() ?? '';
    if (!URI_SCHEMES.has(scheme)) return { status: 416, headers: [] };
    const require = request.headers.getAll('require');
    if (require.length) return { status: 420, headers: [['unsupported', require.join(', ')]] };
    return undefined;
  }

  /** What the engine refuses before the call layer sees an INVITE. */
  private inviteRefusal(request: SipRequest): Refusal | undefined {
    const type = (request.headers.get('content-type') ?? '').toLowerCase();
    if (request.body.length && !type.startsWith('application/sdp')) {
      return { status: 415, headers: [['accept', 'application/sdp']] };
    }
    if (!this.inviteHandler || this.options.draining?.()) return { status: 503, headers: [] };
    return undefined;
  }

  private mergedKey(request: SipRequest): string {
    const h = request.headers;
    return `${h.get('call-id')}|${tagOf(h.get('from'))}|${parseCSeq(h.get('cseq'))?.seq}`;
  }

  private dialogFor(request: SipRequest): Dialog | undefined {
    const callId = request.headers.get('call-id') ?? '';
    const local = tagOf(request.headers.get('to')) ?? '';
    const remote = tagOf(request.headers.get('from')) ?? '';
    return this.dialogs.get(dialogId(callId, local, remote));
  }

  // ---- transactions ----------------------------------------------------------------------

  private newInviteTransaction(request: SipRequest, replyTo: SipPeer): ServerInviteTransaction {
    const key = serverTransactionKey(request);
    const txn = new ServerInviteTransaction(key, request, replyTo, this.txnContext());
    this.serverTxns.set(key, txn);
    return txn;
  }

  private newServerTransaction(request: SipRequest, replyTo: SipPeer): ServerTransaction {
    const key = serverTransactionKey(request);
    const txn = new ServerTransaction(key, request, replyTo, this.txnContext());
    this.serverTxns.set(key, txn);
    return txn;
  }

  /** Answers a request through its own server transaction (absorbs retransmissions). */
  private respondOnce(
    request: SipRequest,
    replyTo: SipPeer,
    status: number,
    options: ResponseOptions = {},
  ): void {
    const txn = this.newServerTransaction(request, replyTo);
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
    this.transports.send(serializeMessage(response), peer);
  }

  private txnContext() {
    return {
      timers: this.timers,
      send: (data: Buffer, peer: SipPeer) => this.transports.send(data, peer),
      terminated: (key: string) => {
        const merged = this.mergedByTxn.get(key);
        if (merged !== undefined) {
          this.mergedByTxn.delete(key);
          if (this.pendingInvites.get(merged) === key) this.pendingInvites.delete(merged);
        }
        this.serverTxns.delete(key);
        this.clientTxns.delete(key);
        this.checkIdle();
      },
    };
  }

  /** Runs a non-INVITE client transaction; resolves with the final response or a timeout. */
  request(request: SipRequest, peer: SipPeer): Promise<ClientOutcome> {
    if (!request.headers.has('user-agent')) request.headers.add('user-agent', this.userAgent);
    const branch = parseVia(request.headers.getAll('via')[0] ?? '')?.params.get('branch') ?? '';
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

  private startInvite(
    request: SipRequest,
    peer: SipPeer,
    events: InviteClientEvents,
  ): InviteClientTransaction {
    const branch = parseVia(request.headers.getAll('via')[0] ?? '')?.params.get('branch') ?? '';
    const key = clientTransactionKey(branch, 'INVITE');
    const txn = new InviteClientTransaction(key, request, peer, this.txnContext(), events);
    this.clientTxns.set(key, txn);
    txn.start();
    return txn;
  }

  /** What dialogs, incoming INVITEs and outgoing calls need from the engine (made once). */
  private get host() {
    this.hostObject ??= this.makeHost();
    return this.hostObject;
  }

  private hostObject: ReturnType<NativeSipEngine['makeHost']> | undefined;

  private makeHost() {
    return {
      timers: this.timers,
      commonHeaders: this.commonHeaders,
      hostname: this.hostname,
      userAgent: this.userAgent,
      send: (data: Buffer, peer: SipPeer) => this.transports.send(data, peer),
      request: (request: SipRequest, peer: SipPeer) => this.request(request, peer),
      resolve: (uri: string, transport: TransportName) => resolveUri(uri, transport),
      viaFor: (transport: TransportName, branch: string) => this.viaFor(transport, branch),
      contactFor: (transport: TransportName) => this.contactFor(transport),
      startInvite: (request: SipRequest, peer: SipPeer, events: InviteClientEvents) =>
        this.startInvite(request, peer, events),
      adopt: (dialog: Dialog) => this.dialogs.set(dialog.id, dialog),
      dialog: (id: string) => this.dialogs.get(id),
      ended: (dialog: Dialog) => {
        this.dialogs.delete(dialog.id);
        this.checkIdle();
      },
    };
  }
}
