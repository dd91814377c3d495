/**
 * The gateway's cloud-provider side, when `telephony` is configured: the settings API's store
 * (Redis when the state store is Redis, else a file), the settings in force (the config's with
 * the API's laid over), the provider server, and the calls its streams start, each with its
 * agent's link settings: in the call workers like SIP calls (the stream's socket stays on this
 * thread, its messages relayed), or on this thread without workers.
 */
import type { Logger } from 'pino';
import type { DialectName } from '../link/dialects/dialect.js';
import type { TelApiClient } from '../link/telapi-client.js';
import type { MediaClock } from '../media/media-clock.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { DeviceConfig } from '../routing/config-devices.js';
import { agentLinkFormat } from '../routing/resolve.js';
import {
  FileSettingsStore,
  RedisSettingsStore,
  type SettingsStore,
  type TelephonySettingsRecord,
} from '../state/settings-store.js';
import { redisUrlOf } from '../state/store-factory.js';
import type { Admission, CapRequest, Slot } from '../state/store.js';
import type { CallEvent } from '../state/call-events.js';
import type { CallOutcome } from './call.js';
import type { CallFacts, CallJournal } from './call-journal.js';
import { linkOpener } from './call-config.js';
import type { StreamWire } from './caller-leg-stream.js';
import type { CallWorkers } from './call-workers.js';
import type { LiveCall } from './live-call.js';
import { ProviderServer, type PlacedCallStatus, type StreamCallHandle } from './provider-server.js';
import type { ProviderName } from './provider-wire.js';
import { SettingsApi, webhookSecretMatches, type SettingsApiDeps } from './settings-api.js';
import { TestEndpoints } from './test-endpoints.js';
import { StreamCall, type StreamCallFacts } from './stream-call.js';
import { effectiveTelephony } from './telephony-settings.js';

export interface ProviderCallsDeps {
  config(): TelgateConfig;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  clock: MediaClock;
  telapi(): TelApiClient;
  /** A link's dialect and URL for agent (endpoint) `id`. */
  dialectOf(
    link: { dialect: DialectName; url?: string } | undefined,
    id: string,
  ): { name: DialectName; url: string | undefined };
  /** Why the gateway takes no new call now, if it does not. */
  unavailable(): string | undefined;
  /** Slots under caps, cluster-wide (the state store). */
  acquire(holder: string, caps: CapRequest[]): Promise<Admission>;
  /** Places a call through a base-number endpoint's egress trunk (POST /api/calls). */
  placeSipCall: SettingsApiDeps['placeSipCall'];
  /** The call workers, when calls run in them. */
  workers(): CallWorkers | undefined;
  /** A started call, for the gateway's books (stats, drain). */
  register(call: LiveCall): void;
  /** Writes a call event (placed calls' status reports; a call's own go through its journal). */
  emit(event: CallEvent): void;
  /** This instance's name, as call events carry it. */
  instance(): string;
  /** The journal of a call (its live-call registry entry and its events). */
  journal(facts: CallFacts): CallJournal;
  /** The call is up, `setupMs` after its stream started. */
  onAnswered(call: LiveCall, setupMs: number): void;
  onClosed(call: LiveCall, outcome: CallOutcome): void;
  /** A test endpoint expired or was deleted: its live calls end. */
  testEndpointEnded(endpointId: string, why: string): void;
}

/** How often devices made over the API on another instance are picked up here. */
const DEVICE_REFRESH_MS = 5000;

export class ProviderCalls {
  private readonly store: SettingsStore;
  private stored: TelephonySettingsRecord = {};
  private readonly server: ProviderServer;
  /** Where the provider server listens, once started. */
  address: { host: string; port: number } | undefined;
  /** The SIP devices made over the API (the registrar serves them beside the config's). */
  devices: DeviceConfig[] = [];
  private readonly deviceSweep: NodeJS.Timeout;
  /** Temporary Web Voice endpoints (the settings API's /api/test-endpoints). */
  readonly testEndpoints: TestEndpoints;

  constructor(private readonly deps: ProviderCallsDeps) {
    const config = deps.config();
    const redisUrl = redisUrlOf(config, deps.env);
    this.store = redisUrl
      ? new RedisSettingsStore(redisUrl, config.state.redis.keyPrefix)
      : new FileSettingsStore(config.telephony!.settingsFile);
    this.testEndpoints = new TestEndpoints(this.store, deps.logger, deps.testEndpointEnded);
    this.server = new ProviderServer({
      config: deps.config,
      telephony: () => this.inForce(),
      refresh: () => this.refresh(),
      endpointActive: async (provider, number) => {
        const endpoints = await this.store.endpoints();
        const own = endpoints.find((e) => e.provider === provider && e.phone_number === number);
        return own?.is_active ?? true;
      },
      endpointCredentialsValid: async (provider, agent, { user, password }) => {
        const endpoint = (await this.store.endpoints()).find((e) => e.id === user);
        return (
          !!endpoint &&
          endpoint.provider === provider &&
          endpoint.is_active &&
          endpoint.inbound_agent_name === agent &&
          webhookSecretMatches(endpoint, password)
        );
      },
      api: new SettingsApi({
        store: this.store,
        config: deps.config,
        env: deps.env,
        stored: () => this.stored,
        changed: (stored) => (this.stored = stored),
        placeCall: (call) => this.server.placeCall(call),
        devicesChanged: () => this.loadDevices(),
        testEndpoints: this.testEndpoints,
        placeSipCall: deps.placeSipCall,
      }),
      logger: deps.logger,
      admit: (provider, holder) => this.admit(provider, holder),
      onStatus: (status) => this.reportStatus(status),
      startCall: (facts, wire, end) => this.startCall(facts, wire, end),
    });
    this.deviceSweep = setInterval(() => void this.loadDevices(), DEVICE_REFRESH_MS);
    this.deviceSweep.unref();
  }

  async start(): Promise<void> {
    this.stored = await this.store.telephony();
    await this.loadDevices();
    await this.testEndpoints.refresh();
    this.address = await this.server.listen();
  }

  async close(): Promise<void> {
    clearInterval(this.deviceSweep);
    this.testEndpoints.close();
    await this.server.close();
    await this.store.close();
  }

  /**
   * The API's devices, read again: after a change here, and every few seconds for changes made
   * on another instance of the cluster (the store is shared).
   */
  private async loadDevices(): Promise<void> {
    try {
      this.devices = (await this.store.devices()).map(
        ({ created_at: _made, ...device }) => device as DeviceConfig,
      );
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'devices not read: the last stay');
    }
  }

  /** The stored settings again: the store is shared, another instance may have changed them. */
  private async refresh(): Promise<void> {
    try {
      this.stored = await this.store.telephony();
    } catch (err) {
      this.deps.logger.warn(
        { err: (err as Error).message },
        'settings not read: the last ones stay',
      );
    }
  }

  /** The config's telephony with the settings API's laid over it, and their secrets. */
  private inForce() {
    return effectiveTelephony(this.deps.config().telephony, this.stored, this.deps.env);
  }

  /** A placed call's status callback, as a call event. */
  private reportStatus(status: PlacedCallStatus): void {
    const { provider, callId, agent, trace, report } = status;
    this.deps.logger.info(
      { provider, callId, status: report.providerStatus },
      'placed call status',
    );
    this.deps.emit({
      type: 'provider-status',
      callId: `${provider}:${callId || 'unknown'}`,
      instance: this.deps.instance(),
      traceId: trace.traceId,
      spanId: trace.spanId,
      at: Date.now(),
      endpointId: agent,
      provider,
      status: report.progress,
      providerStatus: report.providerStatus,
      ...(report.detail && { detail: report.detail }),
    });
  }

  /** A slot under `provider`'s max_concurrent (none without one), or why there is none. */
  private async admit(
    provider: ProviderName,
    holder: string,
  ): Promise<{ slot: Slot } | { refused: string }> {
    const why = this.deps.unavailable();
    if (why) return { refused: why };
    const max = this.inForce().telephony?.[provider]?.maxConcurrent ?? 0;
    if (max <= 0) return { slot: { release: () => undefined } };
    const admission = await this.deps.acquire(holder, [
      { key: `telephony:${provider}`, limit: max },
    ]);
    if (admission.ok) return { slot: admission.slot };
    if ('full' in admission) return { refused: `${provider} max_concurrent ${max} reached` };
    return { refused: `shared state unavailable: ${admission.unavailable}` };
  }

  /**
   * Runs the call of a stream that has begun: in the call worker with the fewest calls when
   * there are workers (it was admitted at its webhook: a stream under way is not refused), else
   * on this thread.
   */
  private startCall(
    facts: StreamCallFacts,
    wire: StreamWire,
    end: { hangUp(): Promise<void>; closeStream(): void },
  ): StreamCallHandle {
    const config = this.deps.config();
    const agent = config.agents.find((a) => a.name === facts.agent);
    const callId = `${facts.provider}:${facts.providerCallId}`;
    const journal = this.deps.journal({
      callId,
      endpointId: facts.agent,
      caller: facts.from,
      dialed: facts.to,
      source: facts.provider,
      trace: facts.trace,
      invitedAt: Date.now(),
    });
    const linkFormat = agent ? agentLinkFormat(agent, config) : 'slin';
    const dialect = this.deps.dialectOf(agent?.link, facts.agent);
    const onAnswered = (c: LiveCall) => this.deps.onAnswered(c, journal.answered(c));
    const onClosed = (c: LiveCall, outcome: CallOutcome) => {
      journal.ended(c, outcome);
      this.deps.onClosed(c, outcome);
    };
    const workers = this.deps.workers();
    const index = workers?.pick(0);
    if (workers && index !== undefined) {
      const call = workers.placeStream(
        index,
        { callId, facts, linkFormat, dialect, calls: config.calls },
        { wire, ...end },
        { onAnswered, onClosed, onTransferred: () => undefined },
      );
      this.deps.register(call);
      return call;
    }
    const call = new StreamCall(
      facts,
      wire,
      {
        clock: this.deps.clock,
        linkFormat,
        playoutMaxSeconds: config.media.playoutMaxSeconds,
        playoutDelayMs: config.media.playoutDelayMs,
        calls: config.calls,
        logger: this.deps.logger,
        openLink: linkOpener(this.deps.telapi(), config, dialect),
        hangUp: end.hangUp,
        closeStream: end.closeStream,
        onAnswered,
      },
      onClosed,
    );
    this.deps.register(call);
    void call.start();
    return call;
  }
}
