/**
 * The registrar (RFC 3261 §10.3) for the config's SIP devices: REGISTER is challenged with
 * digest (the device's algorithms, qop=auth; an expired nonce gets `stale=true`), a username
 * may only bind its own address of record (403 otherwise), registrations shorter than
 * `minExpires` get 423 with Min-Expires, `Contact: *` with `Expires: 0` removes every binding,
 * a device may hold several, and the 200 lists them all. Bindings live in the state store, so
 * any instance of a cluster finds a device; each keeps where its REGISTER came from (received
 * and rport, its transport), which is where requests to the device go when NAT is between
 * (hopOf).
 *
 * SIP outbound (RFC 5626): a REGISTER that supports `outbound` and whose Contact carries
 * `+sip.instance` and `reg-id` binds a flow: a later REGISTER of the same flow replaces its
 * binding whatever its Contact, the 200 says `Require: outbound` (and, over TCP and TLS, the
 * Flow-Timer of its CRLF keep-alives: STUN keep-alives over UDP are answered by the transport),
 * and the binding goes as soon as its connection closes, so a transfer never rings a dead flow.
 *
 * Failed authentications are counted per source address: past `maxFailures` in
 * `failureWindowSeconds` the source gets no answer at all for `blockSeconds`, so a password
 * cannot be guessed over SIP at any useful rate.
 */
import type { Logger } from 'pino';
import type { DeviceConfig } from '../routing/config-devices.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { IncomingRegister } from '../sip/engine.js';
import {
  DigestServer,
  parseCredentials,
  type ServerAlgorithm,
  type StoredHa1,
} from '../sip/digest-server.js';
import { isWebSocket, parseNameAddr, parseUri } from '../sip/uri.js';
import type { Binding, StateStore } from '../state/store.js';
import type { DeviceTarget } from './transfer.js';

export interface RegistrarDeps {
  config(): TelgateConfig;
  /** Devices made over the settings API, beside the config's. */
  apiDevices(): readonly DeviceConfig[];
  store: StateStore;
  instance(): string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** The digest algorithms a device may use: those it has an HA1 for. */
export function algorithmsOf(device: DeviceConfig | undefined): ServerAlgorithm[] {
  if (!device) return ['MD5'];
  return (['SHA-256', 'MD5'] as const).filter((a) => device.ha1[a]);
}

/** Counts failures per source and blocks a source that fails too often. */
class FailureLimiter {
  private readonly sources = new Map<
    string,
    { failures: number; since: number; blockedUntil: number }
  >();

  constructor(private readonly settings: () => TelgateConfig['sip']['registrar']) {}

  blocked(address: string, now = Date.now()): boolean {
    const entry = this.sources.get(address);
    return entry !== undefined && entry.blockedUntil > now;
  }

  /** Counts a failure; true when the source is blocked from now on. */
  fail(address: string, now = Date.now()): boolean {
    const s = this.settings();
    if (this.sources.size > 10_000) this.sweep(now);
    let entry = this.sources.get(address);
    if (!entry || now - entry.since > s.failureWindowSeconds * 1000) {
      entry = { failures: 0, since: now, blockedUntil: 0 };
      this.sources.set(address, entry);
    }
    entry.failures++;
    if (entry.failures < s.maxFailures) return false;
    entry.blockedUntil = now + s.blockSeconds * 1000;
    return true;
  }

  private sweep(now: number): void {
    const window = this.settings().failureWindowSeconds * 1000;
    for (const [address, e] of this.sources) {
      if (e.blockedUntil < now && now - e.since > window) this.sources.delete(address);
    }
  }
}

/**
 * Where requests to a binding go: over TCP and TLS the connection its REGISTER came on; over UDP
 * its Contact when that names the address the REGISTER came from (no NAT between), else the
 * address and port it came from (received/rport: the NAT's mapping).
 */
export function hopOf(binding: Binding): Binding['source'] {
  const { source } = binding;
  if (source.transport !== 'udp') return source;
  const uri = parseUri(binding.contact);
  if (!uri || uri.host !== source.address) return source;
  return { transport: 'udp', address: uri.host, port: uri.port ?? 5060 };
}

/** The key of a connection-oriented flow: transport, address and port of its far end. */
const flowKey = (peer: { transport: string; address: string; port: number }): string =>
  `${peer.transport}|${peer.address}|${peer.port}`;

/** The RFC 5626 flow a contact binds, when the REGISTER supports outbound. */
function flowOf(
  r: IncomingRegister,
  params: ReadonlyMap<string, string | null>,
): Binding['flow'] | undefined {
  const supported = (r.header('supported') ?? '').split(',').map((t) => t.trim().toLowerCase());
  const instance = params.get('+sip.instance');
  const regId = params.get('reg-id');
  if (!supported.includes('outbound') || !instance || !regId || !/^\d+$/.test(regId)) return;
  return { instance, regId };
}

/**
 * Whether a binding lives only as long as its connection: an outbound flow over TCP or TLS, and
 * any binding over WebSocket (a browser cannot be reached but over the socket it opened).
 */
const boundToConnection = (flow: Binding['flow'], source: Binding['source']): boolean =>
  isWebSocket(source.transport) || (flow !== undefined && source.transport !== 'udp');

const sameFlow = (a: Binding['flow'], b: Binding['flow']): boolean =>
  a !== undefined && b !== undefined && a.instance === b.instance && a.regId === b.regId;

export class Registrar {
  private readonly digest: DigestServer;
  private readonly limiter: FailureLimiter;
  /** Outbound bindings this instance holds, by the connection they came over. */
  private readonly flows = new Map<string, Set<string>>();

  constructor(private readonly deps: RegistrarDeps) {
    const settings = deps.config().sip.registrar;
    const secret = deps.env[settings.nonceSecretEnv];
    this.digest = new DigestServer({
      realm: settings.realm,
      nonceTtlSeconds: settings.nonceTtlSeconds,
      secret: secret ? Buffer.from(secret) : undefined,
    });
    this.limiter = new FailureLimiter(() => this.deps.config().sip.registrar);
  }

  /** The device `username`, if the config has it. */
  device(username: string): DeviceConfig | undefined {
    const byName = (d: DeviceConfig) => d.username === username;
    return this.deps.config().devices.find(byName) ?? this.deps.apiDevices().find(byName);
  }

  /** The digest checks of INVITEs from devices share the registrar's nonces and limits. */
  get digestServer(): DigestServer {
    return this.digest;
  }

  /** Whether `address` is blocked; counts a failure of it (true: blocked from now on). */
  blocked(address: string): boolean {
    return this.limiter.blocked(address);
  }

  failed(address: string): boolean {
    return this.limiter.fail(address);
  }

  ha1(username: string): StoredHa1 | undefined {
    return this.device(username)?.ha1;
  }

  /**
   * The device a transfer target names (`sip:<username>`, with or without a host) and where its
   * bindings are, when agents may transfer to it.
   */
  async transferTarget(target: string): Promise<DeviceTarget | undefined> {
    const username = /^sips?:([^@;>?]+)/i.exec(target.trim())?.[1];
    const device = username ? this.device(username) : undefined;
    if (!device?.handler.transferTarget) return undefined;
    const bindings = await this.deps.store.bindings(device.username);
    return {
      username: device.username,
      codecs: device.codecs,
      encryption: device.encryption,
      ciphers: device.ciphers,
      bindings: bindings.map((b) => ({ contact: b.contact, source: hopOf(b) })),
    };
  }

  /** A connection closed: the bindings that live on it (boundToConnection) go with it. */
  flowClosed(peer: { transport: string; address: string; port: number }): void {
    const key = flowKey(peer);
    const bound = this.flows.get(key);
    if (!bound) return;
    this.flows.delete(key);
    const store = this.deps.store;
    const drop = async (aor: string) => {
      for (const b of await store.bindings(aor)) {
        const ours = b.instance === this.deps.instance() && flowKey(b.source) === key;
        if (ours && boundToConnection(b.flow, b.source)) {
          await store.removeBinding(aor, b.contact);
          this.deps.logger.info({ aor, contact: b.contact }, 'flow closed: binding removed');
        }
      }
    };
    for (const aor of bound) {
      drop(aor).catch((err: Error) =>
        this.deps.logger.warn({ aor, err: err.message }, 'binding of a closed flow not removed'),
      );
    }
  }

  handle(register: IncomingRegister): void {
    this.serve(register).catch((err: Error) => {
      this.deps.logger.error({ err: err.message, callId: register.callId }, 'REGISTER failed');
      register.respond(503, [['retry-after', '5']]);
    });
  }

  private async serve(r: IncomingRegister): Promise<void> {
    const log = this.deps.logger.child({ callId: r.callId, source: r.source });
    if (this.deps.config().devices.length === 0 && this.deps.apiDevices().length === 0) {
      return r.respond(405, [['allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, REFER']]);
    }
    if (this.limiter.blocked(r.source.address)) return r.ignore();
    const aor = parseUri(parseNameAddr(r.to)?.uri ?? '')?.user ?? '';
    const device = this.device(aor);
    const verdict = this.digest.verify(
      parseCredentials(r.header('authorization')),
      'REGISTER',
      (username) => this.ha1(username),
    );
    if (!verdict.ok && verdict.why !== 'refused') {
      const challenges = this.digest.challenges(algorithmsOf(device), verdict.why === 'stale');
      return r.respond(
        401,
        challenges.map((c) => ['www-authenticate', c]),
      );
    }
    if (!verdict.ok || verdict.username !== aor) {
      const detail = verdict.ok ? `${verdict.username} does not own ${aor}` : verdict.detail;
      const blocked = this.limiter.fail(r.source.address);
      log.warn({ aor, detail, blocked }, 'REGISTER refused');
      return r.respond(403);
    }
    await this.bind(r, aor, log);
  }

  /** Applies the REGISTER's contacts to `aor`'s bindings and answers with all of them. */
  private async bind(r: IncomingRegister, aor: string, log: Logger): Promise<void> {
    const settings = this.deps.config().sip.registrar;
    const store = this.deps.store;
    const contacts = r.headers('contact');
    const expiresHeader = r.header('expires');
    const now = Date.now();
    if (contacts.some((c) => c.trim() === '*')) {
      if (contacts.length !== 1 || expiresHeader?.trim() !== '0') {
        return r.respond(400, [['warning', '399 telgate "Contact: * needs Expires: 0 alone"']]);
      }
      for (const binding of await store.bindings(aor))
        await store.removeBinding(aor, binding.contact);
      log.info({ aor }, 'every binding removed');
      return r.respond(200, [['date', new Date(now).toUTCString()]]);
    }
    const current = await store.bindings(aor);
    const existing = new Map(current.map((b) => [b.contact, b]));
    const changes: Array<{ contact: string; expires: number; flow?: Binding['flow'] }> = [];
    for (const value of contacts) {
      const addr = parseNameAddr(value);
      if (!addr || !parseUri(addr.uri)) return r.respond(400);
      const flow = flowOf(r, addr.params);
      const param = addr.params.get('expires') ?? expiresHeader ?? String(settings.defaultExpires);
      const asked = Number.parseInt(param, 10);
      if (!Number.isFinite(asked) || asked < 0) return r.respond(400);
      if (asked > 0 && asked < settings.minExpires) {
        return r.respond(423, [['min-expires', String(settings.minExpires)]]);
      }
      const before = flow ? current.find((b) => sameFlow(b.flow, flow)) : existing.get(addr.uri);
      if (before && before.callId === r.callId && before.cseq >= r.cseq) {
        return r.respond(500, [['retry-after', '1']]); // out of order (RFC 3261 §10.3 step 7)
      }
      changes.push({ contact: addr.uri, expires: Math.min(asked, settings.maxExpires), flow });
    }
    for (const { contact, expires, flow } of changes) {
      // The flow's earlier binding is replaced, whatever Contact it had (RFC 5626 §6).
      for (const old of current) {
        if (flow && sameFlow(old.flow, flow) && old.contact !== contact) {
          await store.removeBinding(aor, old.contact);
        }
      }
      if (expires === 0) await store.removeBinding(aor, contact);
      else {
        await store.putBinding(aor, {
          contact,
          expiresAt: now + expires * 1000,
          callId: r.callId,
          cseq: r.cseq,
          source: r.source,
          instance: this.deps.instance(),
          ...(flow && { flow }),
        });
        if (boundToConnection(flow, r.source)) this.trackFlow(r.source, aor);
      }
    }
    const outbound = changes.some((c) => c.flow);
    const bound = await store.bindings(aor);
    log.info(
      { aor, bindings: bound.length, contacts: changes.map((c) => `${c.contact} ${c.expires}s`) },
      'registered',
    );
    const stream = r.source.transport !== 'udp';
    r.respond(200, [
      ...bound.map((b): [string, string] => [
        'contact',
        `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}` +
          (b.flow ? `;+sip.instance=${b.flow.instance};reg-id=${b.flow.regId}` : ''),
      ]),
      ...(outbound ? [['require', 'outbound'] as [string, string]] : []),
      ...(outbound && stream
        ? [['flow-timer', String(settings.flowTimerSeconds)] as [string, string]]
        : []),
      ['date', new Date(now).toUTCString()],
    ]);
  }

  private trackFlow(source: Binding['source'], aor: string): void {
    const key = flowKey(source);
    let aors = this.flows.get(key);
    if (!aors) this.flows.set(key, (aors = new Set()));
    aors.add(aor);
  }
}
