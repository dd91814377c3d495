/**
 * The drachtio engine: telgate as a drachtio-srf application of a drachtio-server it connects
 * to (inbound connection mode, the admin port and its shared secret). The daemon owns the SIP
 * transports (UDP, TCP, TLS, WSS), transactions and retransmissions; this engine turns its
 * requests and dialogs into the engine interface, so SDP, media and call logic stay telgate's.
 * telgate opens no SIP port of its own with it.
 *
 * A lost admin connection is retried with backoff (drachtio-srf's reconnect, capped); the engine
 * is not ready meanwhile, live calls' media goes on. Once back, each dialog is probed with an
 * in-dialog OPTIONS: those a restarted daemon no longer has end ('engine-lost').
 */
import { randomBytes } from 'node:crypto';
import Srf from 'drachtio-srf';
import { DrachtioDialog, headerRecord, respond, type SrfDialog } from './drachtio-dialog.js';
import { DrachtioOutgoingCall } from './drachtio-outgoing.js';
import { DrachtioIncomingInvite, DrachtioIncomingRegister, peerOf } from './drachtio-requests.js';
import type {
  EngineStats,
  IncomingInvite,
  IncomingRegister,
  OutgoingCall,
  OutgoingInviteRequest,
  Rejection,
  SipEngine,
} from './engine.js';
import type { SipPeer, SipTransport } from './message.js';
import { ALLOW, SUPPORTED } from './methods.js';
import { DEFAULT_TIMERS } from './timers.js';

/**
 * The part of drachtio-srf's wire protocol (lib/wire-protocol.js; the app's `client` is its
 * agent, lib/proto.js) that stopping needs.
 */
interface WireState {
  closing: boolean;
  reconnectVars?: { retryTimer?: NodeJS.Timeout | null };
  socket?: { destroy(): void };
}
export interface DrachtioEngineOptions {
  /** The daemon's admin port (its `<admin>` element). */
  host: string;
  port: number;
  secret: string;
  /** TLS to the admin port (node:tls connect options); plain TCP when absent. */
  tls?: { rejectUnauthorized?: boolean; ca?: string };
  /** T1 in ms, for the no-ACK and REFER waits (64·T1). */
  t1?: number;
  /** Longest wait between reconnection attempts. */
  retryMaxDelayMs?: number;
  /**
   * How long start() waits for the first connection before it resolves anyway (not ready,
   * still retrying), so telgate can start before the daemon.
   */
  startWaitMs?: number;
  /** While true, new INVITEs and OPTIONS get 503 (graceful drain). */
  draining?: () => boolean;
  /** While it returns a refusal, OPTIONS get it. */
  optionsRefusal?: () => Rejection | undefined;
  /** Told when the admin connection comes up or goes, for logs. */
  onConnection?: (up: boolean, detail: string) => void;
}

const DEFAULT_RETRY_MAX_DELAY_MS = 5000;
const DEFAULT_START_WAIT_MS = 5000;

type RequestRoute = (handler: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void) => void;

export class DrachtioSipEngine implements SipEngine {
  readonly kind = 'drachtio';
  private readonly srf = new Srf();
  private inviteHandler: ((invite: IncomingInvite) => void) | undefined;
  private registerHandler: ((register: IncomingRegister) => void) | undefined;
  private readonly dialogs = new Set<DrachtioDialog>();
  private readonly outgoing = new Set<DrachtioOutgoingCall>();
  /** BYEs on their way out (see sending()). */
  private readonly byes = new Set<Promise<void>>();
  /** Requests handed to the call layer and not yet answered, plus outgoing calls unsettled. */
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private connected = false;
  private everConnected = false;
  private stopped = false;
  private readonly t1: number;
  readonly listenAddress: SipEngine['listenAddress'] = {
    host: '',
    port: 0,
    transports: [],
  };
  /** The daemon's contacts, host:port → transport, to know a WebSocket request's (peerOf). */
  private readonly contacts = new Map<string, SipTransport>();

  constructor(private readonly options: DrachtioEngineOptions) {
    this.t1 = options.t1 ?? DEFAULT_TIMERS.t1;
    // drachtio-srf routes by method; its type declarations name only invite().
    const router = this.srf as unknown as Record<'register' | 'options', RequestRoute>;
    this.srf.invite((req, res) => this.receiveInvite(req, res));
    router.register((req, res) => this.receiveRegister(req, res));
    router.options((_req, res) => this.receiveOptions(res));
  }

  get transactionTimeoutMs(): number {
    return 64 * this.t1;
  }

  /** Whether the admin connection is up: without it no call can come in or go out. */
  ready(): boolean {
    return this.connected;
  }

  onInvite(handler: (invite: IncomingInvite) => void): void {
    this.inviteHandler = handler;
  }

  onRegister(handler: (register: IncomingRegister) => void): void {
    this.registerHandler = handler;
  }

  /** drachtio-srf does not tell its application when a device's connection closes. */
  onFlowClosed(handler: (peer: SipPeer) => void): void {
    void handler;
  }

  invite(request: OutgoingInviteRequest): OutgoingCall {
    const callId = request.callId ?? `${randomBytes(12).toString('hex')}@telgate`;
    this.pending++;
    const call = new DrachtioOutgoingCall(this.srf, request, callId, this, () => {
      this.outgoing.delete(call);
      this.settled();
    });
    this.outgoing.add(call);
    if (!this.connected) call.abandonOnLostConnection();
    return call;
  }

  /**
   * Connects to the daemon. Resolves on the first connection, or after `startWaitMs` while it
   * goes on trying; rejects when the daemon refuses the secret.
   */
  start(): Promise<void> {
    const { host, port, secret, tls } = this.options;
    return new Promise((resolve, reject) => {
      const waited = setTimeout(() => {
        this.options.onConnection?.(false, `drachtio-server at ${host}:${port} not reachable yet`);
        resolve();
      }, this.options.startWaitMs ?? DEFAULT_START_WAIT_MS);
      this.srf.on('connect', (err, hostport) => {
        if (err) {
          this.options.onConnection?.(false, `drachtio-server refused the connection: ${err}`);
          if (!this.everConnected) {
            clearTimeout(waited);
            reject(new Error(`drachtio-server at ${host}:${port}: ${err.message}`));
          }
          return;
        }
        if (this.connected) return; // drachtio-srf reports one connection twice
        this.connected = true;
        this.setListenAddress(hostport);
        this.options.onConnection?.(true, `connected to drachtio-server at ${host}:${port}`);
        if (this.everConnected) void this.probeDialogs();
        this.everConnected = true;
        clearTimeout(waited);
        resolve();
      });
      this.srf.on('error', (err) => this.lost(`drachtio admin connection: ${err.message}`));
      this.srf.on('close' as 'disconnect', () => this.lost('drachtio admin connection closed'));
      this.srf.connect({
        host,
        port,
        secret,
        ...(tls && { tls }),
        reconnect: { retryMaxDelay: this.options.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS },
      } as Srf.SrfConfig);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const dialog of [...this.dialogs]) void dialog.bye();
    // BYEs still waiting for their dialog's 200 to be confirmed leave before the connection
    // closes; a daemon that does not answer is not waited for longer than one T1·64.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.byes]),
      new Promise((resolve) => (bound = setTimeout(resolve, this.transactionTimeoutMs))),
    ]);
    clearTimeout(bound);
    this.connected = false;
    this.closeAdminConnection();
  }

  /**
   * drachtio-srf's disconnect() asserts a connected socket: while the daemon was never reached,
   * or between reconnection attempts, there is none, and its reconnection timer would keep
   * trying (and the process alive). Its wire protocol is then marked closing, which is what its
   * own disconnect() does to stop reconnecting, the pending attempt's timer cleared and a
   * reconnection socket still connecting closed. (The very first attempt's socket is its own
   * and not reachable: refused or timed out, it sees the closing mark and does not retry.)
   */
  private closeAdminConnection(): void {
    try {
      this.srf.disconnect();
      return;
    } catch {
      // not connected: stop the reconnection below
    }
    const app = (this.srf as unknown as { app?: { client?: { wp?: WireState } } }).app;
    const wire = app?.client?.wp;
    if (!wire) return;
    wire.closing = true;
    const timer = wire.reconnectVars?.retryTimer;
    if (timer) clearTimeout(timer);
    wire.socket?.destroy();
  }

  stats(): EngineStats {
    return { transactions: this.pending, dialogs: this.dialogs.size };
  }

  whenIdle(): Promise<void> {
    if (this.pending === 0 && this.dialogs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- for the dialogs and requests of this engine ----------------------------------------

  adopt(dialog: DrachtioDialog): void {
    this.dialogs.add(dialog);
  }

  ended(dialog: DrachtioDialog): void {
    this.dialogs.delete(dialog);
    this.checkIdle();
  }

  sending(bye: Promise<void>): void {
    this.byes.add(bye);
    void bye.finally(() => this.byes.delete(bye));
  }

  settled(): void {
    this.pending--;
    this.checkIdle();
  }

  /**
   * Sends the 200 and calls back with the daemon's dialog. A callback, not drachtio-srf's
   * promise: it runs in the same turn as the dialog is created, before the caller's ACK or BYE
   * that the daemon may have sent in the same read (a promise's continuation would run after
   * them, and the BYE would find no listener).
   */
  createUAS(
    req: Srf.SrfRequest,
    res: Srf.SrfResponse,
    sdp: string,
    done: (err: unknown, dialog?: SrfDialog) => void,
  ): void {
    const headers = { 'Content-Type': 'application/sdp', Allow: ALLOW };
    try {
      this.srf.createUAS(req, res, { localSdp: sdp, headers }, (err, dialog) =>
        done(err, dialog as SrfDialog),
      );
    } catch (err) {
      done(err);
    }
  }

  // ---- requests from the daemon ------------------------------------------------------------

  private receiveInvite(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    if (this.stopped || this.options.draining?.()) return respond(res, 503);
    const body = req.body ?? '';
    const type = (req.has('Content-Type') ? req.get('Content-Type') : '').toLowerCase();
    if (body && !type.startsWith('application/sdp')) {
      return respond(res, 415, { headers: { Accept: 'application/sdp' } });
    }
    const handler = this.inviteHandler;
    if (!handler) return respond(res, 503);
    this.pending++;
    handler(new DrachtioIncomingInvite(this, req, res, peerOf(req, this.contacts)));
  }

  private receiveRegister(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const handler = this.registerHandler;
    if (!handler) return respond(res, 405, { headers: { Allow: ALLOW } });
    this.pending++;
    handler(
      new DrachtioIncomingRegister(req, res, () => this.settled(), peerOf(req, this.contacts)),
    );
  }

  private receiveOptions(res: Srf.SrfResponse): void {
    if (this.stopped || this.options.draining?.()) return respond(res, 503);
    const refusal = this.options.optionsRefusal?.();
    if (refusal) {
      return respond(res, refusal.status, {
        reason: refusal.reason,
        headers: headerRecord(refusal.headers),
      });
    }
    respond(res, 200, {
      headers: { Allow: ALLOW, Accept: 'application/sdp', Supported: SUPPORTED },
    });
  }

  /**
   * The admin connection went: what was on its way through it is lost. Calls being placed fail,
   * answers whose 200 had not left end; established dialogs keep their media and are probed
   * once the connection is back.
   */
  private lost(detail: string): void {
    if (this.stopped || !this.connected) return;
    this.connected = false;
    this.options.onConnection?.(false, `${detail}; reconnecting`);
    for (const call of [...this.outgoing]) call.abandonOnLostConnection();
    for (const dialog of [...this.dialogs]) if (!dialog.isAttached) dialog.failed();
  }

  /** After a reconnection: dialogs a restarted daemon lost end, their calls' slots freed. */
  private async probeDialogs(): Promise<void> {
    await Promise.allSettled([...this.dialogs].map((dialog) => dialog.probe()));
  }

  private setListenAddress(hostport: string): void {
    // "tcp/127.0.0.1:5060,udp/127.0.0.1:5060,tls/…:5061,wss/…:8443"
    const transports: SipTransport[] = [];
    this.contacts.clear();
    for (const entry of hostport.split(',')) {
      const m = /^(\w+)\/(.+):(\d+)$/.exec(entry.trim());
      if (!m) continue;
      const transport = m[1].toLowerCase() as SipTransport;
      const port = Number(m[3]);
      transports.push(transport);
      this.contacts.set(`${m[2]}:${port}`, transport);
      if (transport === 'udp' || transport === 'tcp') {
        this.listenAddress.host = m[2];
        this.listenAddress.port = port;
      } else if (transport === 'tls') this.listenAddress.tlsPort = port;
      else if (transport === 'ws' || transport === 'wss') this.listenAddress.wsPort = port;
    }
    this.listenAddress.transports = [...new Set(transports)];
  }

  private checkIdle(): void {
    if (this.pending > 0 || this.dialogs.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
