/**
 * The Redis store (ioredis): caps shared by every instance, taken atomically by a Lua script
 * and held as leases that a heartbeat renews; the live call registry; call events on a Stream.
 *
 * An outage never touches a live call. While Redis is away, new calls follow `onOutage`:
 * `local` admits them against this instance's own slots (a mirror kept of every slot it holds)
 * with a warning, `refuse` turns them away (503). When Redis is back, the next heartbeat writes
 * every slot and live call this instance holds again, so caps and registry are whole once more.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LocalCaps } from './caps-local.js';
import { eventToFields, type CallEvent } from './call-events.js';
import { ACQUIRE, LIVE_MEMBERS, PUT_CALL, RENEW } from './redis-scripts.js';
import type {
  Admission,
  Binding,
  CapRequest,
  LiveCallRecord,
  Slot,
  StateStore,
  StoreHealth,
} from './store.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  leaseMs: number;
  onOutage: 'local' | 'refuse';
  eventsMaxLen: number;
  commandTimeoutMs: number;
  logger: Logger;
}

interface HeldSlot {
  holder: string;
  keys: string[];
  releaseLocal: () => void;
}

type ScriptedRedis = Redis & {
  telgateAcquire(...args: Array<string | number>): Promise<number>;
  telgateRenew(...args: Array<string | number>): Promise<number>;
  telgatePutCall(...args: Array<string | number>): Promise<number>;
  telgateLive(key: string): Promise<string[]>;
};

/** How long start() waits for a first connection before going on under the outage policy. */
const FIRST_CONNECT_WAIT_MS = 3000;

export class RedisStore implements StateStore {
  readonly kind = 'redis';
  onEvent?: (event: CallEvent) => void;
  onHealth?: (health: StoreHealth) => void;
  /** Events not written because Redis was away (they are in the logs). */
  eventsDropped = 0;
  private readonly redis: ScriptedRedis;
  private readonly held = new Set<HeldSlot>();
  private readonly calls = new Map<string, LiveCallRecord>();
  private readonly mirror = new LocalCaps();
  /** Slots and registry entries let go of while Redis was away: removed when it is back. */
  private readonly releasedOffline: Array<{ key: string; member: string }> = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private connected = false;
  private everConnected = false;
  private closing = false;

  constructor(private readonly options: RedisStoreOptions) {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // A command while disconnected fails at once: a call is never held up waiting for Redis.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 1000),
      connectionName: 'telgate',
    });
    redis.defineCommand('telgateAcquire', { lua: ACQUIRE });
    redis.defineCommand('telgateRenew', { lua: RENEW });
    redis.defineCommand('telgatePutCall', { numberOfKeys: 2, lua: PUT_CALL });
    redis.defineCommand('telgateLive', { numberOfKeys: 1, lua: LIVE_MEMBERS });
    redis.on('ready', () => this.onReady());
    redis.on('close', () => this.onDown());
    // ioredis reports each failed reconnect as an error; the transitions are logged instead.
    redis.on('error', () => {});
    this.redis = redis as ScriptedRedis;
  }

  get health(): StoreHealth {
    if (this.connected) return 'up';
    return this.options.onOutage === 'local' ? 'degraded' : 'refusing';
  }

  /** Connects (bounded wait) and starts the heartbeat; an unreachable Redis is not fatal. */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.redis.once('ready', resolve));
    this.redis.connect().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!this.connected) {
      this.options.logger.error(
        { url: redacted(this.options.url), onOutage: this.options.onOutage },
        'Redis unreachable at start: new calls follow state.redis.onOutage until it answers',
      );
    }
    this.heartbeat = setInterval(
      () => void this.renewAll(),
      Math.max(100, this.options.leaseMs / 3),
    );
  }

  async acquire(holder: string, caps: CapRequest[]): Promise<Admission> {
    if (caps.length === 0) return { ok: true, slot: { release: () => {} } };
    if (this.connected) {
      const keys = caps.map((c) => this.key(`cap:${c.key}`));
      try {
        const full = await this.redis.telgateAcquire(
          keys.length,
          ...keys,
          holder,
          this.options.leaseMs,
          ...caps.map((c) => c.limit),
        );
        if (full > 0) return { ok: false, full: caps[full - 1]!.key };
        return { ok: true, slot: this.hold(holder, caps, this.mirror.take(caps)) };
      } catch (err) {
        this.options.logger.warn({ err, holder }, 'Redis did not answer an admission');
      }
    }
    if (this.options.onOutage === 'refuse') {
      return { ok: false, unavailable: 'shared state (Redis) unreachable' };
    }
    const local = this.mirror.tryTake(caps);
    if (!local.ok) return { ok: false, full: local.key };
    this.options.logger.warn({ holder }, 'Redis unreachable: call admitted against local caps');
    return { ok: true, slot: this.hold(holder, caps, local.release) };
  }

  /** Slots held under a cap across the cluster (expired ones dropped first). */
  async count(key: string): Promise<number> {
    const live = await this.redis.telgateLive(this.key(`cap:${key}`));
    return live.length;
  }

  putCall(record: LiveCallRecord): void {
    this.calls.set(record.callId, record);
    if (this.connected) void this.writeCall(record).catch(() => {});
  }

  removeCall(callId: string): void {
    if (this.calls.delete(callId)) this.removeMembers([{ key: this.key('calls'), member: callId }]);
  }

  /**
   * Removes slots or registry entries (a `calls` member takes its hash along). What Redis does
   * not take now (away, or lost on the way) is kept and removed when it is back.
   */
  private removeMembers(members: Array<{ key: string; member: string }>): void {
    if (!this.connected) {
      this.releasedOffline.push(...members);
      return;
    }
    const pipeline = this.redis.pipeline();
    this.queueRemovals(pipeline, members);
    pipeline.exec().then(
      (replies) => {
        if (replies?.some(([err]) => err)) this.releasedOffline.push(...members);
      },
      () => this.releasedOffline.push(...members),
    );
  }

  private queueRemovals(
    pipeline: ReturnType<Redis['pipeline']>,
    members: Array<{ key: string; member: string }>,
  ): void {
    for (const { key, member } of members) {
      pipeline.zrem(key, member);
      if (key === this.key('calls')) pipeline.del(this.key(`calls:${member}`));
    }
  }

  /** The cluster's live calls; while Redis is away, this instance's own. */
  async listCalls(): Promise<LiveCallRecord[]> {
    if (!this.connected) return [...this.calls.values()];
    const ids = await this.redis.telgateLive(this.key('calls'));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(`calls:${id}`));
    const replies = (await pipeline.exec()) ?? [];
    return replies
      .map(([, fields]) => recordFromHash(fields as Record<string, string>))
      .filter((r): r is LiveCallRecord => r !== undefined);
  }

  /**
   * Bindings of one AOR: a hash `bindings:<aor>` of contact → binding (JSON), the key expiring
   * with its longest binding; expired ones are dropped as they are read. Unlike caps, they need
   * Redis: while it is away a REGISTER fails (the registrar answers 503).
   */
  async putBinding(aor: string, binding: Binding): Promise<void> {
    const key = this.key(`bindings:${aor}`);
    await this.redis
      .multi()
      .hset(key, binding.contact, JSON.stringify(binding))
      .pexpireat(key, binding.expiresAt, 'NX')
      .pexpireat(key, binding.expiresAt, 'GT')
      .exec();
  }

  async removeBinding(aor: string, contact: string): Promise<void> {
    await this.redis.hdel(this.key(`bindings:${aor}`), contact);
  }

  async bindings(aor: string, now = Date.now()): Promise<Binding[]> {
    const key = this.key(`bindings:${aor}`);
    const all = await this.redis.hgetall(key);
    const live: Binding[] = [];
    const expired: string[] = [];
    for (const [contact, json] of Object.entries(all)) {
      const binding = JSON.parse(json) as Binding;
      if (binding.expiresAt > now) live.push(binding);
      else expired.push(contact);
    }
    if (expired.length) await this.redis.hdel(key, ...expired);
    return live;
  }

  emit(event: CallEvent): void {
    this.onEvent?.(event);
    if (!this.connected) {
      this.eventsDropped++;
      return;
    }
    this.redis
      .xadd(
        this.key('call-events'),
        'MAXLEN',
        '~',
        this.options.eventsMaxLen,
        '*',
        ...eventToFields(event),
      )
      .catch(() => this.eventsDropped++);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    if (this.connected) {
      // Hand back what this instance still holds rather than wait for the leases.
      const pipeline = this.redis.pipeline();
      for (const slot of this.held) {
        for (const key of slot.keys) pipeline.zrem(key, slot.holder);
      }
      for (const id of this.calls.keys()) {
        pipeline.del(this.key(`calls:${id}`)).zrem(this.key('calls'), id);
      }
      await pipeline.exec().catch(() => {});
      await this.redis.quit().catch(() => {});
    }
    this.redis.disconnect();
  }

  private hold(holder: string, caps: CapRequest[], releaseLocal: () => void): Slot {
    const slot: HeldSlot = {
      holder,
      keys: caps.map((c) => this.key(`cap:${c.key}`)),
      releaseLocal,
    };
    this.held.add(slot);
    return {
      release: () => {
        if (!this.held.delete(slot)) return;
        slot.releaseLocal();
        this.removeMembers(slot.keys.map((key) => ({ key, member: slot.holder })));
      },
    };
  }

  /** The heartbeat: every held slot and live call written again with a fresh lease. */
  private async renewAll(): Promise<void> {
    if (!this.connected) return;
    const { leaseMs } = this.options;
    const pipeline = this.redis.pipeline() as unknown as ScriptedRedis;
    // What ended during an outage goes first, so a blip leaves no slot held until its lease ends.
    this.queueRemovals(
      pipeline as unknown as ReturnType<Redis['pipeline']>,
      this.releasedOffline.splice(0),
    );
    for (const slot of this.held) {
      pipeline.telgateRenew(
        slot.keys.length,
        ...slot.keys,
        leaseMs,
        ...slot.keys.map(() => slot.holder),
      );
    }
    for (const record of this.calls.values()) this.queueCall(pipeline, record);
    await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec().catch((err: Error) => {
      this.options.logger.warn({ err }, 'Redis heartbeat failed');
    });
  }

  private writeCall(record: LiveCallRecord): Promise<number> {
    return this.queueCall(this.redis, record);
  }

  private queueCall(target: ScriptedRedis, record: LiveCallRecord): Promise<number> {
    const fields = Object.entries(record).flatMap(([name, value]) =>
      value === undefined ? [] : [name, String(value)],
    );
    return target.telgatePutCall(
      this.key(`calls:${record.callId}`),
      this.key('calls'),
      record.callId,
      this.options.leaseMs,
      ...fields,
    );
  }

  private onReady(): void {
    const reconnected = this.everConnected;
    this.connected = true;
    this.everConnected = true;
    this.onHealth?.(this.health);
    if (!reconnected) {
      this.options.logger.info({ url: redacted(this.options.url) }, 'Redis connected');
      return;
    }
    this.options.logger.warn(
      { slots: this.held.size, calls: this.calls.size },
      'Redis back: writing this instance’s slots and live calls again',
    );
    void this.renewAll();
  }

  private onDown(): void {
    if (!this.connected) return;
    this.connected = false;
    if (this.closing) return;
    this.onHealth?.(this.health);
    this.options.logger.error(
      { onOutage: this.options.onOutage, liveCalls: this.calls.size },
      'Redis connection lost: live calls go on; new calls follow state.redis.onOutage',
    );
  }

  private key(name: string): string {
    return this.options.keyPrefix + name;
  }
}

function recordFromHash(fields: Record<string, string>): LiveCallRecord | undefined {
  if (!fields.callId) return undefined;
  return {
    callId: fields.callId,
    instance: fields.instance ?? '',
    endpointId: fields.endpointId ?? '',
    caller: fields.caller ?? '',
    dialed: fields.dialed ?? '',
    sessionId: fields.sessionId,
    traceId: fields.traceId ?? '',
    state: (fields.state ?? 'setting-up') as LiveCallRecord['state'],
    startedAt: Number(fields.startedAt ?? 0),
    answeredAt: fields.answeredAt ? Number(fields.answeredAt) : undefined,
  };
}

/** A Redis URL without its password, for logs. */
export function redacted(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
