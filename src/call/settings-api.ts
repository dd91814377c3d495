/**
 * The settings API (served beside the providers' webhooks on `telephony.listen`), in the
 * platform's shapes:
 *   GET    /api/settings/endpoints          the telephony endpoints
 *   POST   /api/settings/endpoints          {phone_number, provider, inbound_agent_name,
 *                                            outbound_agent_name, label} → 201, the endpoint
 *   PUT    /api/settings/endpoints/{id}     agent names, label, is_active
 *   DELETE /api/settings/endpoints/{id}     204
 *   …/api/settings/devices                  SIP devices (devices-api.ts)
 *   GET    /api/settings/telephony          the settings, secrets masked
 *   PUT    /api/settings/telephony          a partial update
 *   POST   /api/calls                       {to, endpoint (id or number), agent?, metadata?,
 *                                            timeout_seconds?}: a call placed through the
 *                                            endpoint's provider, or a base-number endpoint's
 *                                            (config id) through its egress trunk
 * Every request carries one of the API keys (X-API-Key); an endpoint shows its computed
 * `inbound_webhook_url`. An Exotel endpoint gets a webhook secret (Exotel signs nothing): shown
 * once as `webhook_secret` when made or rotated (PUT `rotate_webhook_secret: true`), kept only
 * as its hash. A refusal names the field and the reason.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { z } from 'zod';
import type { TelgateConfig } from '../routing/config-schema.js';
import type {
  SettingsStore,
  TelephonyEndpointRecord,
  TelephonySettingsRecord,
} from '../state/settings-store.js';
import { PlacementRefused, type OutboundCall } from './provider-server.js';
import { settingsView, telephonySettingsUpdate } from './telephony-settings.js';
import { parse, Refusal } from './api-support.js';
import { DevicesApi } from './devices-api.js';
import type { TestEndpoints } from './test-endpoints.js';

const MAX_BODY_BYTES = 64 * 1024;
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number, e.g. +15551234567');
const agentName = z.string().min(1).max(63);

const endpointCreate = z
  .object({
    phone_number: e164,
    provider: z.enum(['twilio', 'exotel', 'vobiz']),
    inbound_agent_name: agentName,
    outbound_agent_name: agentName,
    label: z.string().max(200).default(''),
  })
  .strict();

const callRequest = z
  .object({
    to: e164,
    /** The telephony endpoint the call leaves from: its id, or its phone number. */
    endpoint: z.string().min(1).max(64),
    /** Another agent than the endpoint's outbound one. */
    agent: agentName.optional(),
    /** How long a call through a SIP egress trunk may ring. */
    timeout_seconds: z.number().int().min(5).max(600).default(30),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const endpointUpdate = z
  .object({
    inbound_agent_name: agentName,
    outbound_agent_name: agentName,
    label: z.string().max(200),
    is_active: z.boolean(),
    /** A new webhook secret (Exotel endpoints), shown once in this answer. */
    rotate_webhook_secret: z.literal(true),
  })
  .partial()
  .strict();

export interface SettingsApiDeps {
  store: SettingsStore;
  config(): TelgateConfig;
  env: NodeJS.ProcessEnv;
  /** The settings as stored now (the gateway keeps them for the providers' wires). */
  stored(): TelephonySettingsRecord;
  /** The settings were changed through the API. */
  changed(stored: TelephonySettingsRecord): void;
  /** The API's devices changed: the registrar reads them again. */
  devicesChanged(): Promise<void>;
  /** POST/GET/DELETE /api/test-endpoints. */
  testEndpoints: TestEndpoints;
  /** Places a call through a provider (PlacementRefused when it cannot). */
  placeCall(call: OutboundCall): Promise<{ callId: string | undefined }>;
  /**
   * Places a call through the egress trunk of base-number endpoint `endpointId` (config), or
   * PlacementRefused; its Call-ID and the caller ID it shows.
   */
  placeSipCall(request: {
    endpointId: string;
    to: string;
    ringTimeoutMs: number;
  }): Promise<{ callId: string; from: string }>;
}

export class SettingsApi {
  private readonly devices: DevicesApi;

  constructor(private readonly deps: SettingsApiDeps) {
    this.devices = new DevicesApi({
      store: deps.store,
      config: deps.config,
      changed: deps.devicesChanged,
    });
  }

  /** Serves `req` if it is the API's; false when the path is not. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0];
    const paths = ['/api/calls', '/api/test-endpoints'];
    if (!path.startsWith('/api/settings/') && !paths.some((p) => path.startsWith(p))) return false;
    try {
      this.authenticate(req.headers['x-api-key']);
      const body = req.method === 'POST' || req.method === 'PUT' ? await readJson(req) : undefined;
      const [status, result] = await this.route(req.method ?? 'GET', path, body);
      send(res, status, result);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      send(res, err.status, { error: err.message, ...(err.field && { field: err.field }) });
    }
    return true;
  }

  private authenticate(given: string | string[] | undefined): void {
    const keyEnv = this.deps.config().telephony?.apiKeysEnv ?? 'TELGATE_API_KEYS';
    const keys = (this.deps.env[keyEnv] ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const key = Array.isArray(given) ? given[0] : given;
    const ok =
      key !== undefined &&
      keys.some(
        (k) => k.length === key.length && timingSafeEqual(Buffer.from(k), Buffer.from(key)),
      );
    if (!ok) throw new Refusal(401, undefined, 'a valid X-API-Key is required');
  }

  private async route(method: string, path: string, body: unknown): Promise<[number, unknown]> {
    const device = await this.devices.route(method, path, body);
    if (device) return device;
    const testEndpoint = await this.deps.testEndpoints.route(method, path, body);
    if (testEndpoint) return testEndpoint;
    const one = /^\/api\/settings\/endpoints\/([\w-]+)$/.exec(path);
    if (path === '/api/settings/endpoints' && method === 'GET') {
      const all = await this.deps.store.endpoints();
      all.sort((a, b) => a.created_at.localeCompare(b.created_at));
      return [200, all.map((e) => this.shown(e))];
    }
    if (path === '/api/settings/endpoints' && method === 'POST') return this.create(body);
    if (one && method === 'PUT') return this.update(one[1], body);
    if (one && method === 'DELETE') {
      if (!(await this.deps.store.deleteEndpoint(one[1]))) throw this.notFound(one[1]);
      return [204, undefined];
    }
    if (path === '/api/calls' && method === 'POST') return this.placeCall(body);
    if (path === '/api/settings/telephony' && method === 'GET') return [200, this.view()];
    if (path === '/api/settings/telephony' && method === 'PUT') return this.updateSettings(body);
    throw new Refusal(404, undefined, `no ${method} ${path}`);
  }

  private async create(body: unknown): Promise<[number, unknown]> {
    const input = parse(endpointCreate, body);
    this.checkAgents(input);
    const existing = await this.deps.store.endpoints();
    if (
      existing.some((e) => e.phone_number === input.phone_number && e.provider === input.provider)
    ) {
      throw new Refusal(
        409,
        'phone_number',
        `${input.phone_number} already has a ${input.provider} endpoint`,
      );
    }
    const endpoint: TelephonyEndpointRecord = {
      id: randomUUID(),
      ...input,
      is_active: true,
      created_at: new Date().toISOString(),
    };
    const secret = input.provider === 'exotel' ? withWebhookSecret(endpoint) : undefined;
    await this.deps.store.saveEndpoint(endpoint);
    return [201, { ...this.shown(endpoint), ...(secret && { webhook_secret: secret }) }];
  }

  /**
   * POST /api/calls: from a telephony endpoint's number with its outbound agent, or from a
   * base-number endpoint (config) through its egress trunk.
   */
  private async placeCall(body: unknown): Promise<[number, unknown]> {
    const input = parse(callRequest, body);
    const endpoint = (await this.deps.store.endpoints()).find(
      (e) => e.id === input.endpoint || e.phone_number === input.endpoint,
    );
    if (!endpoint && this.deps.config().endpoints.some((e) => e.id === input.endpoint)) {
      return this.placeSipCall(input);
    }
    if (!endpoint) throw new Refusal(404, 'endpoint', `no endpoint ${input.endpoint}`);
    if (!endpoint.is_active) throw new Refusal(409, 'endpoint', 'the endpoint is not active');
    const agent = input.agent ?? endpoint.outbound_agent_name;
    this.checkAgents({ outbound_agent_name: agent });
    try {
      const placed = await this.deps.placeCall({
        provider: endpoint.provider,
        from: endpoint.phone_number,
        to: input.to,
        agent,
      });
      return [
        201,
        {
          call_id: placed.callId ?? null,
          provider: endpoint.provider,
          from: endpoint.phone_number,
          to: input.to,
          agent,
          endpoint_id: endpoint.id,
          status: 'queued',
          ...(input.metadata && { metadata: input.metadata }),
        },
      ];
    } catch (err) {
      if (err instanceof PlacementRefused) throw new Refusal(err.status, undefined, err.message);
      throw err;
    }
  }

  /** A base-number endpoint's call: its own agent, through its egress trunk. */
  private async placeSipCall(input: z.infer<typeof callRequest>): Promise<[number, unknown]> {
    if (input.agent !== undefined) {
      throw new Refusal(400, 'agent', "a base-number endpoint's calls run its own agent");
    }
    try {
      const placed = await this.deps.placeSipCall({
        endpointId: input.endpoint,
        to: input.to,
        ringTimeoutMs: input.timeout_seconds * 1000,
      });
      return [
        201,
        {
          call_id: placed.callId,
          provider: 'sip',
          from: placed.from,
          to: input.to,
          agent: input.endpoint,
          endpoint_id: input.endpoint,
          status: 'queued',
          ...(input.metadata && { metadata: input.metadata }),
        },
      ];
    } catch (err) {
      if (err instanceof PlacementRefused) {
        throw new Refusal(err.status, err.status === 403 ? 'to' : 'endpoint', err.message);
      }
      throw err;
    }
  }

  private async update(id: string, body: unknown): Promise<[number, unknown]> {
    const input = parse(endpointUpdate, body);
    this.checkAgents(input);
    const endpoint = (await this.deps.store.endpoints()).find((e) => e.id === id);
    if (!endpoint) throw this.notFound(id);
    const { rotate_webhook_secret: rotate, ...changes } = input;
    if (rotate && endpoint.provider !== 'exotel') {
      throw new Refusal(
        400,
        'rotate_webhook_secret',
        'only Exotel endpoints have a webhook secret',
      );
    }
    const updated = { ...endpoint, ...changes };
    const secret = rotate ? withWebhookSecret(updated) : undefined;
    await this.deps.store.saveEndpoint(updated);
    return [200, { ...this.shown(updated), ...(secret && { webhook_secret: secret }) }];
  }

  private async updateSettings(body: unknown): Promise<[number, unknown]> {
    const input = parse(telephonySettingsUpdate, body);
    const stored = { ...this.deps.stored(), ...input } as TelephonySettingsRecord;
    await this.deps.store.saveTelephony(stored);
    this.deps.changed(stored);
    return [200, this.view()];
  }

  private view() {
    return settingsView(this.deps.stored(), this.deps.config().telephony, this.deps.env);
  }

  private checkAgents(input: { inbound_agent_name?: string; outbound_agent_name?: string }): void {
    const agents = new Set(this.deps.config().agents.map((a) => a.name));
    for (const field of ['inbound_agent_name', 'outbound_agent_name'] as const) {
      const name = input[field];
      if (name !== undefined && !agents.has(name)) {
        throw new Refusal(400, field, `unknown agent ${name}`);
      }
    }
  }

  private notFound(id: string): Refusal {
    return new Refusal(404, 'id', `no endpoint ${id}`);
  }

  /** The endpoint as the API shows it: its webhook URL computed, its secret's hash left out. */
  private shown(endpoint: TelephonyEndpointRecord) {
    const base = String(
      this.deps.stored().public_base_url ?? this.deps.config().telephony?.publicBaseUrl ?? '',
    ).replace(/\/+$/, '');
    const agent = encodeURIComponent(endpoint.inbound_agent_name);
    const shown: Partial<TelephonyEndpointRecord> = { ...endpoint };
    delete shown.webhook_secret_sha256;
    return {
      ...shown,
      inbound_webhook_url: `${base}/telephony/${endpoint.provider}/inbound/${agent}`,
    };
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** Gives `endpoint` a new webhook secret (its hash kept) and returns the secret. */
function withWebhookSecret(endpoint: TelephonyEndpointRecord): string {
  const secret = randomBytes(24).toString('base64url');
  endpoint.webhook_secret_sha256 = sha256(secret).toString('hex');
  return secret;
}

/** Whether `secret` is `endpoint`'s webhook secret (compared as hashes, in constant time). */
export function webhookSecretMatches(endpoint: TelephonyEndpointRecord, secret: string): boolean {
  if (!endpoint.webhook_secret_sha256) return false;
  const expected = Buffer.from(endpoint.webhook_secret_sha256, 'hex');
  const given = sha256(secret);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Refusal(413, undefined, 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Refusal(400, undefined, 'the body is not JSON');
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
