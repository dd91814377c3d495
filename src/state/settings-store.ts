/**
 * What the settings API keeps (telephony endpoints and telephony settings), shared by every
 * instance through Redis, or in a JSON file on this machine when there is no Redis. Records are
 * stored as the API shows them, secrets included (the API masks them on the way out): whoever
 * reads the file or the Redis keys sees them, as with any credential store.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface TelephonyEndpointRecord {
  id: string;
  phone_number: string;
  provider: 'twilio' | 'exotel' | 'vobiz';
  inbound_agent_name: string;
  outbound_agent_name: string;
  label: string;
  is_active: boolean;
  created_at: string;
  /**
   * An Exotel endpoint's webhook secret, as its SHA-256 (hex): the secret itself is shown once,
   * when made, and never kept.
   */
  webhook_secret_sha256?: string;
}

/**
 * A SIP device made over the API: the config's device shape (routing/config-devices.ts, HA1
 * only, never the password) and when it was made.
 */
export interface DeviceRecord {
  id: string;
  username: string;
  ha1: { MD5?: string; 'SHA-256'?: string };
  callerId?: string;
  sendAs?: string;
  codecs: Array<'PCMU' | 'PCMA' | 'G722' | 'L16' | 'opus'>;
  encryption: 'optional' | 'required';
  ciphers: string[];
  handler: { endpoint?: string; transferTarget: boolean };
  created_at: string;
}

/**
 * A temporary Web Voice endpoint (POST /api/test-endpoints): active without a published
 * version, it runs a flow's draft until it expires.
 */
export interface TestEndpointRecord {
  id: string;
  slug: string;
  flow_id: string;
  draft_version: number;
  /** Browsers' page origins allowed; empty: any page (the slug is unguessable). */
  allowed_origins: string[];
  expires_at: string;
  created_at: string;
}

/** Telephony settings as the API names them; absent fields are unset. */
export type TelephonySettingsRecord = Record<string, string | number>;

export interface SettingsStore {
  endpoints(): Promise<TelephonyEndpointRecord[]>;
  saveEndpoint(endpoint: TelephonyEndpointRecord): Promise<void>;
  /** False when there was no such endpoint. */
  deleteEndpoint(id: string): Promise<boolean>;
  telephony(): Promise<TelephonySettingsRecord>;
  saveTelephony(settings: TelephonySettingsRecord): Promise<void>;
  devices(): Promise<DeviceRecord[]>;
  saveDevice(device: DeviceRecord): Promise<void>;
  /** False when there was no such device. */
  deleteDevice(id: string): Promise<boolean>;
  testEndpoints(): Promise<TestEndpointRecord[]>;
  saveTestEndpoint(endpoint: TestEndpointRecord): Promise<void>;
  /** False when there was no such test endpoint. */
  deleteTestEndpoint(id: string): Promise<boolean>;
  close(): Promise<void>;
}

type RecordKind = 'endpoints' | 'devices' | 'testEndpoints';

interface FileShape {
  endpoints: Record<string, TelephonyEndpointRecord>;
  telephony: TelephonySettingsRecord;
  devices: Record<string, DeviceRecord>;
  testEndpoints: Record<string, TestEndpointRecord>;
}

/** One JSON file, rewritten whole through a temporary file and a rename (never half-written). */
export class FileSettingsStore implements SettingsStore {
  private data: FileShape | undefined;
  private writing = Promise.resolve();

  constructor(private readonly file: string) {}

  private async load(): Promise<FileShape> {
    if (this.data) return this.data;
    try {
      const parsed = JSON.parse(await fs.readFile(this.file, 'utf8')) as Partial<FileShape>;
      this.data = {
        endpoints: parsed.endpoints ?? {},
        telephony: parsed.telephony ?? {},
        devices: parsed.devices ?? {},
        testEndpoints: parsed.testEndpoints ?? {},
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`settings file ${this.file}: ${(err as Error).message}`, { cause: err });
      }
      this.data = { endpoints: {}, telephony: {}, devices: {}, testEndpoints: {} };
    }
    return this.data;
  }

  private async persist(): Promise<void> {
    const text = JSON.stringify(this.data, null, 2);
    const write = async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true });
      const temporary = `${this.file}.${process.pid}.tmp`;
      await fs.writeFile(temporary, text, { mode: 0o600 });
      await fs.rename(temporary, this.file);
    };
    this.writing = this.writing.then(write, write);
    await this.writing;
  }

  async endpoints(): Promise<TelephonyEndpointRecord[]> {
    return Object.values((await this.load()).endpoints);
  }

  saveEndpoint(endpoint: TelephonyEndpointRecord): Promise<void> {
    return this.put('endpoints', endpoint.id, endpoint);
  }

  deleteEndpoint(id: string): Promise<boolean> {
    return this.remove('endpoints', id);
  }

  private async put<K extends RecordKind>(
    kind: K,
    id: string,
    record: FileShape[K][string],
  ): Promise<void> {
    (await this.load())[kind][id] = record;
    await this.persist();
  }

  private async remove(kind: RecordKind, id: string): Promise<boolean> {
    const records = (await this.load())[kind];
    if (!records[id]) return false;
    delete records[id];
    await this.persist();
    return true;
  }

  async telephony(): Promise<TelephonySettingsRecord> {
    return { ...(await this.load()).telephony };
  }

  async saveTelephony(settings: TelephonySettingsRecord): Promise<void> {
    (await this.load()).telephony = settings;
    await this.persist();
  }

  async devices(): Promise<DeviceRecord[]> {
    return Object.values((await this.load()).devices);
  }

  saveDevice(device: DeviceRecord): Promise<void> {
    return this.put('devices', device.id, device);
  }

  deleteDevice(id: string): Promise<boolean> {
    return this.remove('devices', id);
  }

  async testEndpoints(): Promise<TestEndpointRecord[]> {
    return Object.values((await this.load()).testEndpoints);
  }

  saveTestEndpoint(endpoint: TestEndpointRecord): Promise<void> {
    return this.put('testEndpoints', endpoint.id, endpoint);
  }

  deleteTestEndpoint(id: string): Promise<boolean> {
    return this.remove('testEndpoints', id);
  }

  close(): Promise<void> {
    return this.writing;
  }
}

/** A Redis hash of endpoints (id → JSON) and one key holding the settings' JSON. */
export class RedisSettingsStore implements SettingsStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined); // a command's own rejection says what failed
  }

  private key(name: string): string {
    return `${this.prefix}telephony:${name}`;
  }

  endpoints(): Promise<TelephonyEndpointRecord[]> {
    return this.all<TelephonyEndpointRecord>('endpoints');
  }

  saveEndpoint(endpoint: TelephonyEndpointRecord): Promise<void> {
    return this.put('endpoints', endpoint.id, endpoint);
  }

  deleteEndpoint(id: string): Promise<boolean> {
    return this.remove('endpoints', id);
  }

  /** Records of one kind: a hash of id → JSON. */
  private async all<T>(kind: RecordKind): Promise<T[]> {
    const all = await this.redis.hgetall(this.key(kind));
    return Object.values(all).map((json) => JSON.parse(json) as T);
  }

  private async put(kind: RecordKind, id: string, record: object): Promise<void> {
    await this.redis.hset(this.key(kind), id, JSON.stringify(record));
  }

  private async remove(kind: RecordKind, id: string): Promise<boolean> {
    return (await this.redis.hdel(this.key(kind), id)) > 0;
  }

  async telephony(): Promise<TelephonySettingsRecord> {
    const json = await this.redis.get(this.key('settings'));
    return json ? (JSON.parse(json) as TelephonySettingsRecord) : {};
  }

  async saveTelephony(settings: TelephonySettingsRecord): Promise<void> {
    await this.redis.set(this.key('settings'), JSON.stringify(settings));
  }

  devices(): Promise<DeviceRecord[]> {
    return this.all<DeviceRecord>('devices');
  }

  saveDevice(device: DeviceRecord): Promise<void> {
    return this.put('devices', device.id, device);
  }

  deleteDevice(id: string): Promise<boolean> {
    return this.remove('devices', id);
  }

  testEndpoints(): Promise<TestEndpointRecord[]> {
    return this.all<TestEndpointRecord>('testEndpoints');
  }

  saveTestEndpoint(endpoint: TestEndpointRecord): Promise<void> {
    return this.put('testEndpoints', endpoint.id, endpoint);
  }

  deleteTestEndpoint(id: string): Promise<boolean> {
    return this.remove('testEndpoints', id);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
