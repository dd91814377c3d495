/**
 * The gateway's cloud-provider side, when `telephony` is configured: the settings API's store
 * (Redis when the state store is Redis, else a file), the settings in force (the config's with
 * the API's laid over), the provider server, and the calls its streams start: StreamCalls on
 * this thread (the stream's socket is this thread's), each with its agent's link settings.
 */
import type { Logger } from 'pino';
import type { DialectName } from '../link/dialects/dialect.js';
import type { TelApiClient } from '../link/telapi-client.js';
import type { MediaClock } from '../media/media-clock.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import { agentLinkFormat } from '../routing/resolve.js';
import {
  FileSettingsStore,
  RedisSettingsStore,
  type SettingsStore,
  type TelephonySettingsRecord,
} from '../state/settings-store.js';
import { redisUrlOf } from '../state/store-factory.js';
import type { CallOutcome } from './call.js';
import { linkOpener } from './call-config.js';
import type { StreamWire } from './caller-leg-stream.js';
import { ProviderServer } from './provider-server.js';
import type { ProviderName } from './provider-wire.js';
import { SettingsApi } from './settings-api.js';
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
  /** A started call, for the gateway's books (stats, drain). */
  register(call: StreamCall): void;
  onAnswered(call: StreamCall): void;
  onClosed(call: StreamCall, outcome: CallOutcome): void;
}

export class ProviderCalls {
  private readonly store: SettingsStore;
  private stored: TelephonySettingsRecord = {};
  private readonly server: ProviderServer;
  private readonly live = new Set<StreamCall>();
  /** Where the provider server listens, once started. */
  address: { host: string; port: number } | undefined;

  constructor(private readonly deps: ProviderCallsDeps) {
    const config = deps.config();
    const redisUrl = redisUrlOf(config, deps.env);
    this.store = redisUrl
      ? new RedisSettingsStore(redisUrl, config.state.redis.keyPrefix)
      : new FileSettingsStore(config.telephony!.settingsFile);
    this.server = new ProviderServer({
      config: deps.config,
      telephony: () => this.inForce(),
      api: new SettingsApi({
        store: this.store,
        config: deps.config,
        env: deps.env,
        stored: () => this.stored,
        changed: (stored) => (this.stored = stored),
        placeCall: (call) => this.server.placeCall(call),
      }),
      logger: deps.logger,
      refusal: (provider, pending) => this.refusal(provider, pending),
      startCall: (facts, wire, end) => this.startCall(facts, wire, end),
    });
  }

  async start(): Promise<void> {
    this.stored = await this.store.telephony();
    this.address = await this.server.listen();
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.store.close();
  }

  /** The config's telephony with the settings API's laid over it, and their secrets. */
  private inForce() {
    return effectiveTelephony(this.deps.config().telephony, this.stored, this.deps.env);
  }

  /** Why a new call through `provider` is refused now (`pending` placed ones count), if it is. */
  private refusal(provider: ProviderName, pending: number): string | undefined {
    const why = this.deps.unavailable();
    if (why) return why;
    const max = this.inForce().telephony?.[provider]?.maxConcurrent ?? 0;
    const live = pending + [...this.live].filter((c) => c.provider === provider).length;
    return max > 0 && live >= max ? `${provider} max_concurrent ${max} reached` : undefined;
  }

  private startCall(
    facts: StreamCallFacts,
    wire: StreamWire,
    end: { hangUp(): Promise<void>; closeStream(): void },
  ): StreamCall {
    const config = this.deps.config();
    const agent = config.agents.find((a) => a.name === facts.agent);
    const dialect = this.deps.dialectOf(agent?.link, facts.agent);
    const call = new StreamCall(
      facts,
      wire,
      {
        clock: this.deps.clock,
        linkFormat: agent ? agentLinkFormat(agent, config) : 'slin',
        playoutMaxSeconds: config.media.playoutMaxSeconds,
        playoutDelayMs: config.media.playoutDelayMs,
        calls: config.calls,
        logger: this.deps.logger,
        openLink: linkOpener(this.deps.telapi(), config, dialect),
        hangUp: end.hangUp,
        closeStream: end.closeStream,
        onAnswered: (c) => this.deps.onAnswered(c),
      },
      (c, outcome) => {
        this.live.delete(c);
        this.deps.onClosed(c, outcome);
      },
    );
    this.live.add(call);
    this.deps.register(call);
    void call.start();
    return call;
  }
}
