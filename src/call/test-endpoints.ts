/**
 * Temporary Web Voice endpoints, what the Flow Designer's Test button makes, over the settings
 * API (same X-API-Key):
 *   POST   /api/test-endpoints       {flow_id, draft_version, ttl_seconds?, allowed_origins?}
 *                                    → 201 {id, slug, flow_id, draft_version, allowed_origins,
 *                                    expires_at, call_page}
 *   GET    /api/test-endpoints       the live ones
 *   DELETE /api/test-endpoints/{id}  204: ended early
 * Each is active without a published version and runs the draft; it expires by itself
 * (15 min by default) and its live calls end then with a Reason. They live in the settings
 * store, so every instance of a cluster routes them: read again every few seconds, and at once
 * when a call names a test slug this instance has not seen.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  endpoint as endpointSchema,
  type WebVoiceEndpointConfig,
} from '../routing/config-parts.js';
import type { SettingsStore, TestEndpointRecord } from '../state/settings-store.js';
import { parse, Refusal } from './api-support.js';

const DEFAULT_TTL_SECONDS = 15 * 60;
const MAX_TTL_SECONDS = 24 * 3600;
/** How often the store is read again (other instances' test endpoints) and expiry checked. */
const SWEEP_MS = 1000;
const REFRESH_EVERY_SWEEPS = 5;
/** Test endpoints' slugs start with this, so a call can tell one it has not seen yet. */
export const TEST_SLUG_PREFIX = 'test-';

const create = z
  .object({
    flow_id: z.string().min(1).max(64),
    draft_version: z.number().int().min(1),
    ttl_seconds: z.number().int().min(1).max(MAX_TTL_SECONDS).optional(),
    allowed_origins: z.array(z.url()).max(32).optional(),
  })
  .strict();

export class TestEndpoints {
  private records: TestEndpointRecord[] = [];
  private readonly sweep: NodeJS.Timeout;
  private sweeps = 0;
  private readonly ended = new Set<string>();

  constructor(
    private readonly store: SettingsStore,
    private readonly logger: Logger,
    /** A test endpoint expired or was deleted: its live calls end. */
    private readonly onEnded: (endpointId: string, why: string) => void,
  ) {
    this.sweep = setInterval(() => void this.tick(), SWEEP_MS);
    this.sweep.unref();
  }

  /** The live test endpoints, as web-voice endpoints the router takes. */
  endpoints(now = Date.now()): WebVoiceEndpointConfig[] {
    return this.records.filter((r) => Date.parse(r.expires_at) > now).map(endpointOf);
  }

  async refresh(): Promise<void> {
    try {
      const records = await this.store.testEndpoints();
      const known = new Set(records.map((r) => r.id));
      for (const gone of this.records) {
        if (!known.has(gone.id)) this.end(gone, 'the test endpoint was deleted');
      }
      // Ended ones the store no longer holds cannot come back: forget them.
      for (const id of this.ended) if (!known.has(id)) this.ended.delete(id);
      this.records = records;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'test endpoints not read: the last stay');
    }
  }

  private async tick(): Promise<void> {
    if (++this.sweeps % REFRESH_EVERY_SWEEPS === 0) await this.refresh();
    const now = Date.now();
    for (const record of this.records) {
      if (Date.parse(record.expires_at) > now) continue;
      this.end(record, 'the test endpoint expired');
      // Whichever instance sees it first removes it; the others find it gone.
      await this.store.deleteTestEndpoint(record.id).catch(() => false);
    }
    this.records = this.records.filter((r) => Date.parse(r.expires_at) > now);
  }

  private end(record: TestEndpointRecord, why: string): void {
    if (this.ended.has(record.id)) return;
    this.ended.add(record.id);
    this.logger.info({ endpointId: record.id, slug: record.slug }, why);
    this.onEnded(record.id, why);
  }

  /** Serves a test-endpoints path; undefined when `path` is not one. */
  async route(method: string, path: string, body: unknown): Promise<[number, unknown] | undefined> {
    const one = /^\/api\/test-endpoints\/([\w-]+)$/.exec(path);
    if (path === '/api/test-endpoints' && method === 'POST') return this.create(body);
    if (path === '/api/test-endpoints' && method === 'GET') {
      await this.refresh();
      return [200, this.records.filter((r) => Date.parse(r.expires_at) > Date.now()).map(shown)];
    }
    if (one && method === 'DELETE') {
      const record = this.records.find((r) => r.id === one[1]);
      if (!(await this.store.deleteTestEndpoint(one[1]))) {
        throw new Refusal(404, 'id', `no test endpoint ${one[1]}`);
      }
      this.records = this.records.filter((r) => r.id !== one[1]);
      if (record) this.end(record, 'the test endpoint was deleted');
      return [204, undefined];
    }
    return undefined;
  }

  private async create(body: unknown): Promise<[number, unknown]> {
    const input = parse(create, body);
    const now = Date.now();
    const record: TestEndpointRecord = {
      id: randomUUID(),
      slug: `${TEST_SLUG_PREFIX}${randomBytes(9).toString('hex')}`,
      flow_id: input.flow_id,
      draft_version: input.draft_version,
      allowed_origins: input.allowed_origins ?? [],
      expires_at: new Date(now + (input.ttl_seconds ?? DEFAULT_TTL_SECONDS) * 1000).toISOString(),
      created_at: new Date(now).toISOString(),
    };
    await this.store.saveTestEndpoint(record);
    this.records.push(record);
    return [201, shown(record)];
  }

  close(): void {
    clearInterval(this.sweep);
  }
}

const converted = new WeakMap<TestEndpointRecord, WebVoiceEndpointConfig>();

/** A record as a web-voice endpoint, its defaults filled by the config schema (made once). */
function endpointOf(record: TestEndpointRecord): WebVoiceEndpointConfig {
  let endpoint = converted.get(record);
  if (!endpoint) converted.set(record, (endpoint = toEndpoint(record)));
  return endpoint;
}

function toEndpoint(record: TestEndpointRecord): WebVoiceEndpointConfig {
  return endpointSchema.parse({
    kind: 'web-voice',
    id: record.id,
    slug: record.slug,
    allowedOrigins: record.allowed_origins,
    allowedIps: [],
    // The slug is unguessable and short-lived: without origins, any page may call it.
    allowAnywhere: record.allowed_origins.length === 0,
    callPage: true,
    flow: { id: record.flow_id, draftVersion: record.draft_version },
  }) as WebVoiceEndpointConfig;
}

function shown(record: TestEndpointRecord) {
  return { ...record, call_page: `/call/${record.slug}` };
}
