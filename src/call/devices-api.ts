/**
 * SIP devices over the settings API, beside those of the config (docs/sip.md, Registrar):
 *   GET    /api/settings/devices        the devices made here (never their HA1)
 *   POST   /api/settings/devices        {username, password, algorithms?, caller_id?, send_as?,
 *                                        codecs?, encryption?, ciphers?, handler_endpoint?,
 *                                        transfer_target?} → 201, the device
 *   PUT    /api/settings/devices/{id}   any of those (a new password re-derives the HA1)
 *   DELETE /api/settings/devices/{id}   204
 * The password is turned into the digest HA1 of each algorithm at once and never kept. A
 * username is one device, config and API together (409); a handler endpoint must exist (400).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { SRTP_SUITE_NAMES, type SrtpSuite } from '../media/srtp-keys.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import { ha1Of, type ServerAlgorithm } from '../sip/digest-server.js';
import type { DeviceRecord, SettingsStore } from '../state/settings-store.js';
import { parse, Refusal } from './api-support.js';

const codec = z.enum(['PCMU', 'PCMA', 'G722', 'L16', 'opus']);
const fields = {
  password: z.string().min(8, 'at least 8 characters').max(128),
  algorithms: z
    .array(z.enum(['MD5', 'SHA-256']))
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'each algorithm once'),
  caller_id: z.string().min(1).max(64),
  send_as: z.union([z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number'), z.literal('random')]),
  codecs: z.array(codec).min(1),
  encryption: z.enum(['optional', 'required']),
  ciphers: z.array(z.enum(SRTP_SUITE_NAMES as [SrtpSuite, ...SrtpSuite[]])).min(1),
  handler_endpoint: z.string().min(1).max(64),
  transfer_target: z.boolean(),
};
const create = z
  .object({
    username: z.string().regex(/^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$/, 'a SIP user part'),
    ...fields,
    algorithms: fields.algorithms.default(['MD5']),
  })
  .partial({
    caller_id: true,
    send_as: true,
    codecs: true,
    encryption: true,
    ciphers: true,
    handler_endpoint: true,
    transfer_target: true,
  })
  .strict();
const update = z.object(fields).partial().strict();

export interface DevicesApiDeps {
  store: SettingsStore;
  config(): TelgateConfig;
  /** The devices changed (the registrar's copy is refreshed). */
  changed(): Promise<void>;
}

export class DevicesApi {
  constructor(private readonly deps: DevicesApiDeps) {}

  /** Serves a devices path; undefined when `path` is not one. */
  async route(method: string, path: string, body: unknown): Promise<[number, unknown] | undefined> {
    const one = /^\/api\/settings\/devices\/([\w-]+)$/.exec(path);
    if (path === '/api/settings/devices' && method === 'GET') {
      const all = await this.deps.store.devices();
      all.sort((a, b) => a.created_at.localeCompare(b.created_at));
      return [200, all.map(shown)];
    }
    if (path === '/api/settings/devices' && method === 'POST') return this.create(body);
    if (one && method === 'PUT') return this.update(one[1], body);
    if (one && method === 'DELETE') {
      if (!(await this.deps.store.deleteDevice(one[1]))) throw notFound(one[1]);
      await this.deps.changed();
      return [204, undefined];
    }
    return undefined;
  }

  private async create(body: unknown): Promise<[number, unknown]> {
    const input = parse(create, body);
    const taken =
      this.deps.config().devices.some((d) => d.username === input.username) ||
      (await this.deps.store.devices()).some((d) => d.username === input.username);
    if (taken) throw new Refusal(409, 'username', `${input.username} is already a device`);
    this.checkHandler(input.handler_endpoint);
    this.checkSendAs(input.send_as);
    const device: DeviceRecord = {
      id: randomUUID(),
      username: input.username,
      ha1: this.ha1(input.username, input.password, input.algorithms),
      ...(input.caller_id && { callerId: input.caller_id }),
      ...(input.send_as && { sendAs: input.send_as }),
      codecs: input.codecs ?? ['PCMU', 'PCMA', 'G722', 'L16', 'opus'],
      encryption: input.encryption ?? 'optional',
      ciphers: input.ciphers ?? [...SRTP_SUITE_NAMES],
      handler: {
        ...(input.handler_endpoint && { endpoint: input.handler_endpoint }),
        transferTarget: input.transfer_target ?? false,
      },
      created_at: new Date().toISOString(),
    };
    await this.deps.store.saveDevice(device);
    await this.deps.changed();
    return [201, shown(device)];
  }

  private async update(id: string, body: unknown): Promise<[number, unknown]> {
    const input = parse(update, body);
    const device = (await this.deps.store.devices()).find((d) => d.id === id);
    if (!device) throw notFound(id);
    this.checkHandler(input.handler_endpoint);
    this.checkSendAs(input.send_as);
    if (input.algorithms && !input.password) {
      throw new Refusal(400, 'password', 'new algorithms need the password again');
    }
    const algorithms = input.algorithms ?? (Object.keys(device.ha1) as ServerAlgorithm[]);
    const updated: DeviceRecord = {
      ...device,
      ...(input.password && { ha1: this.ha1(device.username, input.password, algorithms) }),
      ...(input.caller_id && { callerId: input.caller_id }),
      ...(input.send_as && { sendAs: input.send_as }),
      ...(input.codecs && { codecs: input.codecs }),
      ...(input.encryption && { encryption: input.encryption }),
      ...(input.ciphers && { ciphers: input.ciphers }),
      handler: {
        endpoint: input.handler_endpoint ?? device.handler.endpoint,
        transferTarget: input.transfer_target ?? device.handler.transferTarget,
      },
    };
    await this.deps.store.saveDevice(updated);
    await this.deps.changed();
    return [200, shown(updated)];
  }

  private ha1(username: string, password: string, algorithms: ServerAlgorithm[]) {
    const realm = this.deps.config().sip.registrar.realm;
    return Object.fromEntries(algorithms.map((a) => [a, ha1Of(a, username, realm, password)]));
  }

  /** A device presents only a number the team owns (a base number), or `random` among them. */
  private checkSendAs(number: string | undefined): void {
    if (number === undefined || number === 'random') return;
    if (!this.deps.config().baseNumbers.some((b) => b.number === number)) {
      throw new Refusal(400, 'send_as', `${number} is not a base number`);
    }
  }

  private checkHandler(endpoint: string | undefined): void {
    if (endpoint !== undefined && !this.deps.config().endpoints.some((e) => e.id === endpoint)) {
      throw new Refusal(400, 'handler_endpoint', `unknown endpoint ${endpoint}`);
    }
  }
}

function notFound(id: string): Refusal {
  return new Refusal(404, 'id', `no device ${id}`);
}

/** A device as the API shows it: its settings and algorithms, never its HA1. */
function shown(d: DeviceRecord) {
  return {
    id: d.id,
    username: d.username,
    algorithms: Object.keys(d.ha1),
    caller_id: d.callerId ?? null,
    send_as: d.sendAs ?? null,
    codecs: d.codecs,
    encryption: d.encryption,
    ciphers: d.ciphers,
    handler_endpoint: d.handler.endpoint ?? null,
    transfer_target: d.handler.transferTarget,
    created_at: d.created_at,
  };
}
