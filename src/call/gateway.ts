/**
 * The gateway: composes the SIP engine, routing, media and the agent link into calls. It is the
 * one object main.ts and the tests start and stop; stop() leaves no socket, port or timer open.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { WebRtcOptions } from '../media/webrtc-peer.js';
import type { Logger } from 'pino';
import type { DialectName } from '../link/dialects/dialect.js';
import { LocalAgent } from '../link/local-agent/server.js';
import { TelApiClient } from '../link/telapi-client.js';
import { MediaClock } from '../media/media-clock.js';
import { realtimeForMedia } from '../media/realtime-scheduling.js';
import { PortPool } from '../media/port-pool.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { CallEndpointConfig } from '../routing/config-parts.js';
import { isActive, linkFormatFor, Router } from '../routing/resolve.js';
import { checkTransferTarget, transferPolicyOf } from '../routing/transfer-policy.js';
import type { IncomingInvite, Rejection, SipEngine } from '../sip/engine.js';
import { isWebSocket, parseNameAddr, parseUri } from '../sip/uri.js';
import { Call, type CallOutcome } from './call.js';
import { callBasics, type CallPlace } from './call-config.js';
import { PlacedSipCall } from './placed-sip-call.js';
import { Registrar } from './registrar.js';
import { deviceCall } from './device-callers.js';
import { callerIdentityOf, type CallerIdentity, type VouchedDevice } from './caller-identity.js';
import { ProviderCalls } from './provider-calls.js';
import { PlacementRefused } from './provider-server.js';
import { CallPage } from './call-page.js';
import { createSipEngine } from './sip-engine.js';
import { TEST_SLUG_PREFIX } from './test-endpoints.js';
import { CallWorkers, type CallCallbacks } from './call-workers.js';
import type { LiveCall } from './live-call.js';
import type { EgressRoute } from './transfer.js';
import { REFUSALS, rejectionFor, type RefusalCause } from './failure.js';
import { OverloadGuard, OVERLOAD_RETRY_AFTER_SECONDS, type LoadSecond } from './overload.js';
import { Metrics } from '../ops/metrics.js';
import type { OpsSource } from '../ops/ops-server.js';
import type { Admission, CapRequest, LiveCallRecord, StateStore } from '../state/store.js';
import { RedisStore } from '../state/store-redis.js';
import { createStateStore } from '../state/store-factory.js';
import { CallJournal } from './call-journal.js';
import { traceFor } from './trace-context.js';

export interface GatewayStats {
  activeCalls: number;
  callsTotal: number;
  refusals: Record<string, number>;
  endings: Record<string, number>;
  ports: { available: number; size: number };
  sip: { transactions: number; dialogs: number };
  clockSubscribers: number;
  /** New calls are being refused: the event loop is saturated (OverloadGuard). */
  overloaded: boolean;
  /** The last second: the media clock's lateness and the event loop's utilization. */
  load: LoadSecond;
  /** SIGTERM received: new calls are refused, live ones run to their end. */
  draining: boolean;
  /** The shared state: `memory`, or `redis` with its health. */
  state: { kind: 'memory' | 'redis'; health: 'up' | 'degraded' | 'refusing' };
  /** Caller frames not sent to agents that read too slowly, over the ended calls. */
  framesDroppedToAgents: number;
  /** With call workers: each one's calls and its event loop's utilization in its last second. */
  workers?: Array<{ calls: number; utilization: number }>;
}

const STOP_BYE_WAIT_MS = 2000;

/** Call lifecycle and load events, for ops hooks and tests. */
export type GatewayEvents = {
  /** A call was answered; its caller leg's RTP port. */
  answered: [callId: string, mediaPort: number | undefined];
  reloaded: [];
  closed: [callId: string, outcome: CallOutcome];
  /** New calls start being refused (true), or are taken again (false): OverloadGuard. */
  overload: [overloaded: boolean];
  /** Draining began (SIGTERM). */
  draining: [];
  /** The shared state's health changed (Redis lost or back). */
  state: [health: 'up' | 'degraded' | 'refusing'];
  /** The SIP engine can (true) or cannot take calls: drachtio-server's admin connection. */
  sipEngine: [ready: boolean];
};

export class Gateway {
  readonly events = new EventEmitter<GatewayEvents>();
  readonly engine: SipEngine;
  readonly ports: PortPool;
  readonly clock = new MediaClock(20);
  readonly localAgent: LocalAgent | undefined;
  private telapi: TelApiClient | undefined;
  private router: Router;
  /** Live calls, each with its endpoint's id ('' for a provider's call). */
  private readonly calls = new Map<LiveCall, string>();
  /** Browsers' calls: WebRTC on the media host, in its own port range. */
  private get webrtc(): WebRtcOptions {
    const media = this.config.media;
    return {
      bindAddress: media.host,
      ...(media.advertisedHost && { advertisedAddress: media.advertisedHost }),
      portMin: media.webrtc.portMin,
      portMax: media.webrtc.portMax,
    };
  }

  /** The call worker threads (media.workers above 1); without them calls run on this thread. */
  private workers: CallWorkers | undefined;
  /** Cloud telephony providers' webhooks, streams and settings API (`telephony`), if set. */
  private providers: ProviderCalls | undefined;
  readonly store: StateStore;
  /** The registrar of the config's SIP devices. */
  readonly registrar: Registrar;
  readonly metrics: Metrics;
  private instance = '';
  private callsTotal = 0;
  private framesDroppedToAgents = 0;
  private readonly refusals: Record<string, number> = {};
  private readonly endings: Record<string, number> = {};
  private readonly apiKey: string;
  private drainingFlag = false;
  /** Draining: new calls refused with 503 while live ones finish (drain()). */
  private drainingCalls = false;
  /** INVITEs waiting for their admission (a shared-state round trip). */
  private admitting = 0;
  /** Told whenever a call closes or an admission settles (drain waits on them). */
  private readonly settledWaiters = new Set<() => void>();
  private readonly overload: OverloadGuard;

  constructor(
    private config: TelgateConfig,
    private readonly logger: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const envKey = env[config.telapi.apiKeyEnv];
    if (!envKey && !config.localAgent.enabled) {
      throw new Error(`TelAPI key missing: set ${config.telapi.apiKeyEnv} in the environment`);
    }
    // With only the embedded agent, a per-process random key keeps the local API closed too.
    this.apiKey = envKey ?? randomBytes(16).toString('hex');
    this.router = new Router(config, () => this.testEndpoints());
    this.ports = new PortPool(config.media.host, config.media.portMin, config.media.portMax);
    const callPage = new CallPage(() => [...this.config.endpoints, ...this.testEndpoints()]);
    this.engine = createSipEngine(config, env, logger, {
      draining: () => this.drainingFlag,
      optionsRefusal: () => this.unavailable()?.rejection,
      onHttp: callPage.handle,
      onReadyChange: (ready) => this.events.emit('sipEngine', ready),
    });
    if (config.localAgent.enabled) {
      this.localAgent = new LocalAgent({
        host: config.localAgent.listen.host,
        port: config.localAgent.listen.port,
        apiKey: this.apiKey,
        behaviours: behavioursByFlow(config),
        tokenTtlSeconds: config.localAgent.tokenTtlSeconds,
      });
    }
    this.engine.onInvite((invite) =>
      this.onInvite(invite).catch((err: unknown) => {
        logger.error({ err, callId: invite.callId }, 'INVITE handling failed');
        invite.reject(rejectionFor('internal'));
      }),
    );
    this.store = createStateStore(config, env, logger);
    this.store.onHealth = (health) => this.events.emit('state', health);
    this.registrar = new Registrar({
      config: () => this.config,
      apiDevices: () => this.providers?.devices ?? [],
      store: this.store,
      instance: () => this.instance,
      env,
      logger,
    });
    this.engine.onRegister((register) => this.registrar.handle(register));
    this.engine.onFlowClosed((peer) => this.registrar.flowClosed(peer));
    this.metrics = new Metrics(() => ({
      activeCalls: this.calls.size,
      eventLoopUtilization: this.overload.load.utilization,
      overloaded: this.overload.overloaded,
      draining: this.drainingCalls,
      stateUp: this.store.health === 'up',
      portsAvailable: this.workers?.totals().ports.available ?? this.ports.available,
    }));
    this.overload = new OverloadGuard(
      () => this.config.calls.overloadUtilization,
      (overloaded, load) => {
        const fields = { ...load, activeCalls: this.calls.size };
        if (overloaded) {
          logger.warn(fields, 'overloaded: the event loop is saturated, new calls are refused');
        } else logger.info(fields, 'load back to normal: new calls are taken again');
        this.events.emit('overload', overloaded);
      },
    );
    this.clock.onLoad = (load) => this.overload.onLoad(load);
  }

  async start(): Promise<void> {
    let url = this.config.telapi.url;
    if (this.localAgent) {
      await this.localAgent.listen();
      url ??= this.localAgent.url;
    }
    if (!url) throw new Error('telapi.url is required unless localAgent.enabled is true');
    this.telapi = new TelApiClient({
      baseUrl: url,
      apiKey: this.apiKey,
      timeoutMs: this.config.telapi.timeoutMs,
    });
    try {
      const count = workerCount(this.config.media.workers);
      if (count > 1) {
        this.workers = new CallWorkers({
          count,
          config: this.config,
          env: { ...this.env },
          apiKey: this.apiKey,
          localAgentUrl: this.localAgent?.url,
          engine: this.engine,
          logger: this.logger,
          onLoad: (loads) => this.overload.onWorkerLoads(loads),
          findDevice: (target) => this.registrar.transferTarget(target),
        });
        await this.workers.start();
      } else {
        realtimeForMedia(this.config.media.realtimePriority, 'the main thread', this.logger);
      }
      await this.engine.start();
      if (this.config.telephony) {
        this.providers = new ProviderCalls({
          config: () => this.config,
          env: this.env,
          logger: this.logger,
          clock: this.clock,
          telapi: () => this.telapi!,
          dialectOf: (link, id) => this.dialectOf(link, id),
          unavailable: () => {
            const why = this.unavailable();
            return why && REFUSALS[why.cause].text;
          },
          acquire: (holder, caps) => this.store.acquire(holder, caps),
          workers: () => this.workers,
          placeSipCall: (request) => this.placeSipCall(request),
          register: (call) => this.calls.set(call, ''),
          testEndpointEnded: (endpointId, why) => {
            for (const [call, id] of this.calls) {
              if (id === endpointId) void call.end('endpoint-expired', why);
            }
          },
          emit: (event) => this.store.emit(event),
          instance: () => this.instance,
          journal: (facts) => new CallJournal(facts, this.instance, this.store),
          onAnswered: (c, setupMs) => {
            this.metrics.callAnswered(setupMs);
            this.events.emit('answered', c.callId, undefined);
          },
          onClosed: (c, outcome) => this.onCallClosed(c, outcome),
        });
        await this.providers.start();
      }
      this.instance =
        this.config.state.instanceId ?? `${os.hostname()}-${this.engine.listenAddress.port}`;
      if (this.store instanceof RedisStore) await this.store.start();
    } catch (err) {
      await this.providers?.close();
      await this.workers?.stop();
      await this.engine.stop();
      await this.localAgent?.close();
      throw err;
    }
  }

  /**
   * Drains (SIGTERM): OPTIONS and new INVITEs get 503 so a dispatcher sends calls elsewhere,
   * live calls run to their end; after `maxSeconds` the ones left get a BYE. Resolves when no
   * call is left; stop() then closes the rest. The limit is the running config's.
   */
  async drain(maxSeconds = this.config.drain.maxSeconds): Promise<void> {
    if (!this.drainingCalls) {
      this.drainingCalls = true;
      this.logger.info({ activeCalls: this.calls.size, maxSeconds }, 'draining: new calls refused');
      this.events.emit('draining');
    }
    const idle = () => this.calls.size === 0 && this.admitting === 0;
    if (idle()) return;
    let limit: NodeJS.Timeout | undefined;
    const timedOut = await new Promise<boolean>((resolve) => {
      const check = () => {
        if (!idle()) return;
        this.settledWaiters.delete(check);
        resolve(false);
      };
      this.settledWaiters.add(check);
      limit = setTimeout(() => {
        this.settledWaiters.delete(check);
        resolve(true);
      }, maxSeconds * 1000);
    });
    clearTimeout(limit);
    if (!timedOut) return;
    this.logger.warn(
      { activeCalls: this.calls.size },
      'drain limit reached: ending the calls left',
    );
    await Promise.allSettled(
      [...this.calls.keys()].map((call) => call.end('shutdown', `drain limit of ${maxSeconds} s`)),
    );
  }

  /** Where the providers' webhooks and streams arrive, once started (`telephony`). */
  get providerAddress(): { host: string; port: number } | undefined {
    return this.providers?.address;
  }

  /** The call worker threads (none with media.workers 1), for ops hooks and tests. */
  get workerThreads(): readonly Worker[] {
    return this.workers?.threads ?? [];
  }

  /** What the ops HTTP server reads. */
  opsSource(): OpsSource {
    return {
      notReady: () => {
        const why = this.unavailable();
        return why && (REFUSALS[why.cause].text as string);
      },
      metricsText: () => this.metrics.text(),
      metricsContentType: this.metrics.contentType,
      calls: () => this.listCalls(),
      stats: () => ({ instance: this.instance, ...this.stats() }),
    };
  }

  /** The live calls of the whole cluster (this instance's alone with the in-memory store). */
  listCalls(): Promise<LiveCallRecord[]> {
    return this.store.listCalls();
  }

  /** Why this instance takes no new calls right now, if it does not (readiness). */
  unavailable(): { cause: RefusalCause; rejection: Rejection } | undefined {
    if (this.drainingCalls) {
      return {
        cause: 'draining',
        rejection: rejectionFor('draining', undefined, [['retry-after', '0']]),
      };
    }
    if (this.overload.overloaded) return { cause: 'overloaded', rejection: this.overloadRefusal() };
    if (!this.engine.ready()) {
      return {
        cause: 'sip-engine-down',
        rejection: rejectionFor('sip-engine-down', undefined, [['retry-after', '5']]),
      };
    }
    if (this.store.health === 'refusing') {
      return {
        cause: 'state-unavailable',
        rejection: rejectionFor('state-unavailable', 'Redis unreachable', [
          ['retry-after', String(OVERLOAD_RETRY_AFTER_SECONDS)],
        ]),
      };
    }
    return undefined;
  }

  /** Stops taking calls, ends live ones with BYE and closes everything. */
  async stop(): Promise<void> {
    this.drainingFlag = true;
    const byes = Promise.allSettled([...this.calls.keys()].map((call) => call.end('shutdown')));
    // A caller that vanished would keep its BYE retrying for 64·T1: wait a bounded time only.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([byes, new Promise((r) => (bound = setTimeout(r, STOP_BYE_WAIT_MS)))]);
    clearTimeout(bound);
    await this.providers?.close();
    await this.workers?.stop();
    await this.engine.stop();
    await this.localAgent?.close();
    await this.store.close();
  }

  get endpointsToCall(): Array<{ id: string; number: string }> {
    return this.config.endpoints.flatMap((e) =>
      e.kind === 'phone' ? [{ id: e.id, number: e.baseNumber + (e.extension ?? '') }] : [],
    );
  }

  /** The live temporary test endpoints (none without the settings API). */
  private testEndpoints() {
    return this.providers?.testEndpoints.endpoints() ?? [];
  }

  /** A call names a test endpoint's slug this instance has not seen: read the store again. */
  private async seeTestSlug(requestUri: string): Promise<void> {
    const user = parseUri(requestUri)?.user?.toLowerCase();
    if (!user?.startsWith(TEST_SLUG_PREFIX) || !this.providers) return;
    if (this.testEndpoints().some((e) => e.slug === user)) return;
    await this.providers.testEndpoints.refresh();
  }

  /** Web-voice endpoints whose call page is served (`callPage`), by slug. */
  get callPages(): Array<{ id: string; slug: string }> {
    return this.config.endpoints.flatMap((e) =>
      e.kind === 'web-voice' && e.callPage ? [{ id: e.id, slug: e.slug }] : [],
    );
  }

  stats(): GatewayStats {
    return {
      activeCalls: this.calls.size,
      callsTotal: this.callsTotal,
      refusals: { ...this.refusals },
      endings: { ...this.endings },
      ...(this.workers?.totals() ?? {
        ports: { available: this.ports.available, size: this.ports.size },
        clockSubscribers: this.clock.size,
      }),
      sip: this.engine.stats(),
      framesDroppedToAgents: this.framesDroppedToAgents,
      overloaded: this.overload.overloaded,
      load: this.overload.load,
      draining: this.drainingCalls,
      state: { kind: this.store.kind, health: this.store.health },
      ...(this.workers && { workers: this.workers.summary() }),
    };
  }

  /** An authenticated device as its egress legs present it (`send_as: random` chosen now). */
  private vouchedDevice(username: string): VouchedDevice {
    const device = this.registrar.device(username);
    const numbers = this.config.baseNumbers.map((b) => b.number);
    const sendAs =
      device?.sendAs === 'random'
        ? numbers[Math.floor(Math.random() * numbers.length)]
        : device?.sendAs;
    return {
      device: username,
      host: this.config.sip.registrar.realm,
      ...(sendAs && { sendAs }),
      ...(device?.callerId && { callerId: device.callerId }),
    };
  }

  private async onInvite(invite: IncomingInvite): Promise<void> {
    const invitedAt = Date.now();
    // A device's call is authenticated first: its challenge is not a call offered.
    const fromDevice = deviceCall(invite, this.config, this.registrar, (source) =>
      this.router.fromTrunk(source),
    );
    if (fromDevice && 'rejection' in fromDevice) {
      const { status } = fromDevice.rejection;
      this.logger.info({ callId: invite.callId, status, why: fromDevice.why }, 'device INVITE');
      return invite.reject(fromDevice.rejection);
    }
    this.callsTotal++;
    this.metrics.callOffered();
    const unavailable = this.unavailable();
    // Before routing: a saturated or draining process spends as little as it can on refusals.
    if (unavailable) return this.refuse(invite, unavailable.cause, unavailable.rejection);
    if (!fromDevice) await this.seeTestSlug(invite.requestUri);
    const route = fromDevice
      ? { ok: true as const, endpoint: fromDevice.endpoint, dialed: fromDevice.dialed }
      : this.router.resolve({
          requestUri: invite.requestUri,
          to: invite.to,
          source: invite.source.address,
          clientCertified: invite.source.certified === true,
          ...(isWebSocket(invite.source.transport) && {
            browser: { origin: invite.source.origin },
          }),
          header: (name) => invite.header(name),
        });
    if (!route.ok) return this.refuseRoute(invite, route.cause, route.dialed);
    const identity = callerIdentityOf(
      invite,
      fromDevice
        ? this.vouchedDevice(fromDevice.device)
        : 'trunk' in route && route.trunk?.trusted
          ? { trustedTrunk: true }
          : undefined,
    );
    const refuseUnverified =
      route.endpoint.kind === 'phone' && route.endpoint.refuseFailedVerification;
    if (refuseUnverified && identity.verstat === 'TN-Validation-Failed') {
      return this.refuseRoute(invite, 'identity-failed', route.dialed);
    }
    const telapi = this.telapi;
    if (!telapi) return invite.reject(rejectionFor('link-unavailable', 'not started'));
    const endpoint = route.endpoint;
    const caps: CapRequest[] = [];
    const cap = (key: string, limit: number | undefined) => {
      if (limit !== undefined) caps.push({ key, limit });
    };
    if (route.baseNumber) cap(`base:${route.baseNumber.number}`, route.baseNumber.maxCalls);
    if (route.trunk) cap(`trunk:${route.trunk.id}`, route.trunk.maxCalls);
    cap(`endpoint:${endpoint.id}`, endpoint.maxCalls);
    if (endpoint.provider) {
      cap(`provider:${endpoint.provider}`, this.config.providers[endpoint.provider]?.maxCalls);
    }
    let cancelled = false;
    invite.onCancel(() => (cancelled = true));
    this.admitting++;
    try {
      const admission = await this.store.acquire(invite.callId, caps);
      // Synchronous from here: the admission counts until its call (if any) is in `calls`.
      this.admitted(invite, route, admission, cancelled, invitedAt, telapi, identity);
    } finally {
      this.admitting--;
      this.settled();
    }
  }

  /** Refuses, or starts the call, once the caps have answered. */
  private admitted(
    invite: IncomingInvite,
    route: Extract<ReturnType<Router['resolve']>, { ok: true }>,
    admission: Admission,
    cancelled: boolean,
    invitedAt: number,
    telapi: TelApiClient,
    identity: CallerIdentity,
  ): void {
    const endpoint = route.endpoint;
    if (!admission.ok) {
      if ('full' in admission) {
        return this.refuseRoute(invite, 'over-cap', `${route.dialed} (${admission.full})`);
      }
      const rejection = rejectionFor('state-unavailable', admission.unavailable, [
        ['retry-after', String(OVERLOAD_RETRY_AFTER_SECONDS)],
      ]);
      return this.refuse(invite, 'state-unavailable', rejection, route.dialed);
    }
    if (cancelled) return admission.slot.release(); // the engine answered 487 already
    const trace = traceFor(invite.header('traceparent'));
    const journal = new CallJournal(
      {
        callId: invite.callId,
        endpointId: endpoint.id,
        caller: parseNameAddr(invite.from)?.uri ?? invite.from,
        dialed: route.dialed,
        source: `${invite.source.address}:${invite.source.port}`,
        trace,
        invitedAt,
      },
      this.instance,
      this.store,
    );
    const callbacks: CallCallbacks = {
      onAnswered: (c) => {
        this.metrics.callAnswered(journal.answered(c));
        this.events.emit('answered', c.callId, c.mediaPort);
      },
      onTransferred: (_c, target, mode, sipStatus) => {
        this.metrics.transferred(mode);
        journal.transferred(target, mode, sipStatus);
      },
      onClosed: (c, outcome) => {
        admission.slot.release();
        journal.ended(c, outcome);
        this.onCallClosed(c, outcome);
      },
    };
    const egress = this.egressFor(endpoint, invite.callId);
    const linkFormat = linkFormatFor(endpoint, this.config);
    const dialect = this.dialectFor(endpoint);
    // A browser's call stays on this thread: its WebRTC library cannot run in a worker.
    const browser = isWebSocket(invite.source.transport);
    if (this.workers && !browser) {
      const index = this.workers.pick(this.config.calls.overloadUtilization);
      if (index === undefined) {
        admission.slot.release();
        journal.ended(undefined, { refused: 'overloaded', status: 503 });
        return this.refuse(invite, 'overloaded', this.overloadRefusal(), route.dialed);
      }
      const call = this.workers.place(
        index,
        invite,
        {
          endpoint,
          linkFormat,
          trace,
          egress: egress && withoutSlots(egress),
          dialect,
          calls: this.config.calls,
          identity,
          dialed: route.dialed,
        },
        egress,
        callbacks,
      );
      this.calls.set(call, endpoint.id);
      return;
    }
    const call = new Call(
      invite,
      endpoint,
      {
        ...callBasics(this.callPlace(telapi), {
          linkFormat,
          trace,
          dialect,
          calls: this.config.calls,
        }),
        onAnswered: callbacks.onAnswered,
        onTransferred: callbacks.onTransferred,
        egress,
        identity,
        dialed: route.dialed,
        // Calls on this thread can use WebRTC: a browser's own, a transfer to one.
        webrtc: this.webrtc,
      },
      callbacks.onClosed,
    );
    this.calls.set(call, endpoint.id);
    void call.start();
  }

  /**
   * Places a call from base-number endpoint `endpointId` to `to` through its egress trunk
   * (POST /api/calls): checked as the agent's transfers are (the endpoint's transfer policy),
   * admitted under the endpoint's cap, then run like an inbound call, in a worker when there are
   * workers. Resolves with its Call-ID once it is under way; the outcome is in its events.
   */
  async placeSipCall(request: {
    endpointId: string;
    to: string;
    ringTimeoutMs: number;
  }): Promise<{ callId: string; from: string }> {
    const endpoint = this.config.endpoints.find((e) => e.id === request.endpointId);
    if (!endpoint || endpoint.kind !== 'phone') {
      throw new PlacementRefused(404, `no endpoint ${request.endpointId}`);
    }
    if (!isActive(endpoint)) throw new PlacementRefused(409, 'the endpoint is not active');
    const callId = `placed-${randomBytes(12).toString('hex')}@telgate`;
    const egress = this.egressFor(endpoint, callId);
    if (!egress) {
      throw new PlacementRefused(
        409,
        'the endpoint has no egress base number with an outbound trunk',
      );
    }
    if (endpoint.encryption === 'required' && egress.transport !== 'tls') {
      throw new PlacementRefused(
        409,
        'the endpoint requires SRTP, whose keys travel only over TLS: its egress trunk is not TLS',
      );
    }
    const verdict = checkTransferTarget(request.to, transferPolicyOf(endpoint), egress.number);
    if (!verdict.ok) throw new PlacementRefused(403, `${request.to} refused: ${verdict.reason}`);
    const why = this.unavailable();
    if (why) throw new PlacementRefused(503, REFUSALS[why.cause].text);
    const index = this.workers?.pick(this.config.calls.overloadUtilization);
    if (this.workers && index === undefined) throw new PlacementRefused(503, 'telgate overloaded');
    const caps =
      endpoint.maxCalls === undefined
        ? []
        : [{ key: `endpoint:${endpoint.id}`, limit: endpoint.maxCalls }];
    const admission = await this.store.acquire(callId, caps);
    if (!admission.ok) {
      throw new PlacementRefused(
        503,
        'full' in admission ? `${admission.full} at its cap` : admission.unavailable,
      );
    }
    const trace = traceFor(undefined);
    const journal = new CallJournal(
      {
        callId,
        endpointId: endpoint.id,
        caller: `sip:${egress.number}@${egress.host}`,
        dialed: request.to,
        source: 'api',
        trace,
        invitedAt: Date.now(),
      },
      this.instance,
      this.store,
    );
    const onAnswered = (c: LiveCall) => {
      this.metrics.callAnswered(journal.answered(c));
      this.events.emit('answered', c.callId, c.mediaPort);
    };
    const onClosed = (c: LiveCall, outcome: CallOutcome) => {
      admission.slot.release();
      journal.ended(c, outcome);
      this.onCallClosed(c, outcome);
    };
    const linkFormat = linkFormatFor(endpoint, this.config);
    const dialect = this.dialectFor(endpoint);
    const facts = { callId, to: request.to, endpoint, ringTimeoutMs: request.ringTimeoutMs };
    if (this.workers && index !== undefined) {
      const call = this.workers.placeSip(
        index,
        {
          ...facts,
          egress: withoutSlots(egress),
          linkFormat,
          trace,
          dialect,
          calls: this.config.calls,
        },
        egress,
        { onAnswered, onClosed, onTransferred: () => undefined },
      );
      this.calls.set(call, request.endpointId);
      return { callId, from: egress.number };
    }
    const call = new PlacedSipCall(
      { ...facts, egress },
      {
        ...callBasics(this.callPlace(this.telapi!), {
          linkFormat,
          trace,
          dialect,
          calls: this.config.calls,
        }),
        onAnswered,
      },
      onClosed,
    );
    this.calls.set(call, request.endpointId);
    void call.start();
    return { callId, from: egress.number };
  }

  /** This thread as the place a call runs (without call workers). */
  private callPlace(telapi: TelApiClient): CallPlace {
    return {
      clock: this.clock,
      ports: this.ports,
      logger: this.logger,
      telapi,
      config: this.config,
      placeCall: (request) => this.engine.invite(request),
      findDevice: (target) => this.registrar.transferTarget(target),
    };
  }

  /** The endpoint's egress base number and the outbound side of its trunk, if it has one. */
  private egressFor(endpoint: CallEndpointConfig, callId: string): EgressRoute | undefined {
    if (!endpoint.egressBaseNumber) return undefined;
    const base = this.config.baseNumbers.find((b) => b.number === endpoint.egressBaseNumber);
    const trunk = this.config.trunks.find((t) => t.id === base?.trunk);
    const out = trunk?.outbound;
    if (!base || !trunk || !out) return undefined;
    const password = out.passwordEnv ? this.env[out.passwordEnv] : undefined;
    return {
      number: base.number,
      host: out.host,
      port: out.port,
      transport: out.transport,
      credentials: out.username && password ? { username: out.username, password } : undefined,
      callerIdentity: out.callerIdentity,
      acquireSlot: async () => {
        const caps: CapRequest[] =
          trunk.maxCalls === undefined ? [] : [{ key: `trunk:${trunk.id}`, limit: trunk.maxCalls }];
        const admission = await this.store.acquire(`${callId}#egress`, caps);
        return admission.ok ? admission.slot : undefined;
      },
    };
  }

  /** The endpoint's link dialect, and where it connects when TelAPI does not say. */
  private dialectFor(endpoint: CallEndpointConfig): { name: DialectName; url: string | undefined } {
    return this.dialectOf(endpoint.kind === 'phone' ? endpoint.link : undefined, endpoint.id);
  }

  /** A link's dialect and URL (the local agent's for a dialect without one) for endpoint `id`. */
  private dialectOf(
    link: { dialect: DialectName; url?: string } | undefined,
    id: string,
  ): { name: DialectName; url: string | undefined } {
    const name = link?.dialect ?? 'telphi';
    const url =
      name === 'telphi'
        ? undefined
        : (link?.url ?? `${this.localAgent!.url.replace(/^http/, 'ws')}/${name}/${id}`);
    return { name, url };
  }

  /** 503 with Retry-After, the Reason naming the event loop's utilization. */
  private overloadRefusal(): Rejection {
    const busy = Math.round(this.overload.load.utilization * 100);
    return rejectionFor('overloaded', `event loop ${busy} % busy`, [
      ['retry-after', String(OVERLOAD_RETRY_AFTER_SECONDS)],
    ]);
  }

  /** Refuses an INVITE routing or a cap turned down, with its cause. */
  private refuseRoute(invite: IncomingInvite, cause: RefusalCause, dialed: string): void {
    const status = cause === 'over-cap' ? this.config.routing.capStatus : undefined;
    this.refuse(invite, cause, rejectionFor(cause, dialed, [], status), dialed);
  }

  /** Counts, logs and sends a refusal. */
  private refuse(
    invite: IncomingInvite,
    cause: RefusalCause,
    rejection: Rejection,
    dialed?: string,
  ): void {
    this.countRefusal(cause);
    this.logger.info(
      { callId: invite.callId, dialed, cause, status: rejection.status, source: invite.source },
      'call refused',
    );
    invite.reject(rejection);
  }

  /**
   * Applies a new config to new calls; live calls keep the endpoint they started with. Listen
   * addresses, media ports and the local agent only change on restart.
   */
  reload(config: TelgateConfig): void {
    for (const section of ['sip', 'media', 'localAgent'] as const) {
      if (JSON.stringify(config[section]) !== JSON.stringify(this.config[section])) {
        this.logger.warn({ section }, 'config section changed: it applies after a restart');
      }
    }
    this.config = { ...config, sip: this.config.sip, media: this.config.media };
    this.router = new Router(this.config, () => this.testEndpoints());
    this.workers?.reload(this.config);
    this.events.emit('reloaded');
    this.logger.info({ endpoints: config.endpoints.length }, 'config reloaded');
  }

  private settled(): void {
    for (const waiter of [...this.settledWaiters]) waiter();
  }

  private onCallClosed(call: LiveCall, outcome: CallOutcome): void {
    this.calls.delete(call);
    this.settled();
    const quality = call.quality();
    this.framesDroppedToAgents += quality.framesDroppedToAgent;
    this.events.emit('closed', call.callId, outcome);
    if ('refused' in outcome) return this.countRefusal(outcome.refused);
    this.endings[outcome.ended] = (this.endings[outcome.ended] ?? 0) + 1;
    this.metrics.callEnded(outcome.ended, {
      packetsReceived: quality.packetsReceived,
      packetsLost: quality.packetsLost,
      jitterMs: quality.jitterMs,
      linkResumes: call.linkResumes,
    });
  }

  /** One count of a refusal, in stats() and in the metrics alike. */
  private countRefusal(cause: RefusalCause): void {
    this.refusals[cause] = (this.refusals[cause] ?? 0) + 1;
    this.metrics.callRefused(cause);
  }
}

/** `media.workers` as a thread count: 'auto' is one per core. */
function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? os.availableParallelism() : workers;
}

/** The TLS listener's settings, its certificate files read (a missing file fails start-up). */
/** An egress route as a worker gets it: its slots are taken here, on request. */
function withoutSlots(route: EgressRoute): Omit<EgressRoute, 'acquireSlot'> {
  const { number, host, port, transport, credentials, callerIdentity } = route;
  return { number, host, port, transport, credentials, callerIdentity };
}

/**
 * The local agent's behaviours by endpoint id, and also by the flow id of each endpoint that
 * has one: a temporary test endpoint (a new id) reaches the behaviour of its flow's endpoint.
 */
function behavioursByFlow(config: TelgateConfig): TelgateConfig['localAgent']['behaviours'] {
  const behaviours = { ...config.localAgent.behaviours };
  for (const endpoint of config.endpoints) {
    const behaviour = config.localAgent.behaviours[endpoint.id];
    if (endpoint.kind !== 'web-chat' && endpoint.flow && behaviour) {
      behaviours[endpoint.flow.id] ??= behaviour;
    }
  }
  return behaviours;
}
