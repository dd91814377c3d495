/**
 * Where cloud telephony providers reach telgate (`telephony.listen`, behind the TLS proxy of
 * `telephony.publicBaseUrl`), the same routes for each provider (provider-wire.ts):
 *   POST /telephony/<provider>/inbound/<agent>  the provider's webhook for a new call: checked
 *        (its signature), answered with the provider's markup connecting the call to
 *        wss://<public host>/telephony/<provider>/stream/<token>
 *   GET  /telephony/<provider>/stream/<token>   (WebSocket) that call's media stream
 * The token is minted in the webhook's answer for that call alone: it opens a stream only for
 * the call whose `start` names the same call id, one live stream at a time, while the call
 * lives (a provider whose streams reconnect comes back on it) or until it expires unused. The
 * upgrade must also carry the provider's signature where it has one. Whatever fails a check is
 * refused before any audio flows.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { TelephonyConfig } from '../routing/config-telephony.js';
import type { Slot } from '../state/store.js';
import type { SettingsApi } from './settings-api.js';
import type { StreamWire } from './caller-leg-stream.js';
import { basicCredentials, exotelWire } from './provider-exotel.js';
import { twilioWire } from './provider-twilio.js';
import { vobizWire } from './provider-vobiz.js';
import { traceFor, type TraceContext } from './trace-context.js';
import {
  FINAL_PROGRESS,
  type CallStatusReport,
  type ProviderName,
  type ProviderWire,
  type WebhookRequest,
} from './provider-wire.js';
import type { StreamCallFacts } from './stream-call.js';

/** Form bodies larger than this are not a provider's webhook. */
const MAX_BODY_BYTES = 64 * 1024;
/** A stream message larger than this is not a provider's (a second of 24 kHz PCM is 64 kB). */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** A stream that has not said `start` by then is not the provider's. */
const START_WAIT_MS = 10_000;
/** How long a call whose stream dropped waits for the provider to reconnect it. */
const RECONNECT_WAIT_MS = 3000;

/** What the server needs of a stream's call (StreamCall). */
export interface StreamCallHandle {
  onAudio(audio: Buffer): void;
  onDigit(digit: string): void;
  onMark(name: string): void;
  onStreamEnd(): void;
}

export interface ProviderServerDeps {
  config(): TelgateConfig;
  /** The telephony settings in force (the config's with the API's laid over), and their secrets. */
  telephony(): { telephony: TelephonyConfig | undefined; env: NodeJS.ProcessEnv };
  /** Whether the telephony endpoint of `number` at `provider` (settings API) takes calls: no
   * endpoint for it is no objection. */
  endpointActive(provider: ProviderName, number: string): Promise<boolean>;
  /**
   * Whether `credentials` are the id and webhook secret of an active telephony endpoint at
   * `provider` whose inbound agent is `agent`.
   */
  endpointCredentialsValid(
    provider: ProviderName,
    agent: string,
    credentials: { user: string; password: string },
  ): Promise<boolean>;
  /** Reads the settings in force again (another instance may have changed them). */
  refresh(): Promise<void>;
  /** The settings API, served on the same listener. */
  api: SettingsApi;
  logger: Logger;
  /**
   * A new call through `provider`, admitted: a slot under the provider's `max_concurrent`
   * (cluster-wide through the state store), held until the call's stream is over; or why not.
   */
  admit(provider: ProviderName, holder: string): Promise<{ slot: Slot } | { refused: string }>;
  /** A placed call's provider reported its progress. */
  onStatus(status: PlacedCallStatus): void;
  /** Starts the call of a stream that has begun. */
  startCall(
    facts: StreamCallFacts,
    wire: StreamWire,
    end: { hangUp(): Promise<void>; closeStream(): void },
  ): StreamCallHandle;
}

/** One call's token, and its stream while one is open. */
interface StreamToken {
  id: string;
  wire: ProviderWire;
  agent: string;
  callId: string;
  from: string;
  to: string;
  expiresAt: number;
  socket: WebSocket | undefined;
  /** The open socket whose `start` has come, and its streamId: audio to the caller goes only there. */
  started: WebSocket | undefined;
  streamId: string;
  call: StreamCallHandle | undefined;
  reconnectWait: NodeJS.Timeout | undefined;
  /** The call's place under its provider's max_concurrent, given back when the token is spent. */
  slot: Slot;
  /** A call telgate placed: its id may come only with the provider's answer or stream. */
  outbound: boolean;
  trace: TraceContext;
}

/** A call telgate placed, while its provider may still report on it. */
interface PlacedCall {
  provider: ProviderName;
  agent: string;
  /** The provider's id of the call, once known. */
  callId: string;
  trace: TraceContext;
  /** Its stream's token (spent when the call ends unanswered). */
  tokenId: string;
  /** No report is awaited past this (the longest call, and its set-up). */
  until: number;
}

/** A placed call's status callback, verified, as the server passes it on. */
export interface PlacedCallStatus {
  provider: ProviderName;
  callId: string;
  agent: string;
  trace: TraceContext;
  report: CallStatusReport;
}

/** A call to place through a provider (POST /api/calls). */
export interface OutboundCall {
  provider: ProviderName;
  from: string;
  to: string;
  agent: string;
}

/** Why a call could not be placed: the HTTP status the API answers, and the reason. */
export class PlacementRefused extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

export class ProviderServer {
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly tokens = new Map<string, StreamToken>();
  /** Placed calls by the id in their status callback URL (their token's). */
  private readonly placed = new Map<string, PlacedCall>();
  /** Each provider's wire, and the settings it was made with. */
  private readonly wires = new Map<string, { key: string; wire: ProviderWire }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly deps: ProviderServerDeps) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        deps.logger.error({ err }, 'provider webhook failed');
        if (!res.headersSent) reply(res, 500, 'internal error');
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.sweep = setInterval(() => this.dropExpired(), 5000);
    this.sweep.unref();
  }

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.settings().listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('provider server has no address');
    return { host: address.address, port: address.port };
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    for (const token of [...this.tokens.values()]) this.spend(token);
    this.placed.clear();
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private settings(): TelephonyConfig {
    const { telephony } = this.deps.telephony();
    if (!telephony) throw new Error('telephony is not configured');
    return telephony;
  }

  /**
   * The provider's wire with the settings in force, if it is configured: made again only when
   * those settings change, so a provider's REST client (and its kept-alive connections) is one
   * per account, not one per call.
   */
  private wireOf(name: string): ProviderWire | undefined {
    const { telephony: settings, env } = this.deps.telephony();
    const made = (settings: object, secretEnv: string, make: () => ProviderWire) => {
      const key = JSON.stringify(settings) + (env[secretEnv] ?? '');
      const cached = this.wires.get(name);
      if (cached?.key === key) return cached.wire;
      const wire = make();
      this.wires.set(name, { key, wire });
      return wire;
    };
    const { twilio, vobiz, exotel } = settings ?? {};
    if (name === 'twilio' && twilio) {
      return made(twilio, twilio.authTokenEnv, () => twilioWire(twilio, env));
    }
    if (name === 'vobiz' && vobiz) {
      return made(vobiz, vobiz.authTokenEnv, () => vobizWire(vobiz, env));
    }
    if (name === 'exotel' && exotel) {
      return made(exotel, exotel.apiTokenEnv, () => exotelWire(exotel, env));
    }
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    await this.deps.refresh();
    if (await this.deps.api.handle(req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    const placed = /^\/telephony\/([a-z]+)\/(outbound|status)\/([A-Za-z0-9_-]+)$/.exec(path);
    if (placed)
      return this.placedCallRequest(
        req,
        res,
        placed[1],
        placed[2] as 'outbound' | 'status',
        placed[3],
      );
    const inbound = /^\/telephony\/([a-z]+)\/inbound\/([^/]+)$/.exec(path);
    if (!inbound) return reply(res, 404, 'not found');
    const wire = this.wireOf(inbound[1]);
    if (!wire) return reply(res, 404, `${inbound[1]} is not configured`);
    // Exotel's applet may fetch its URL with GET, the call's facts in the query.
    const get = req.method === 'GET' && wire.name === 'exotel';
    if (req.method !== 'POST' && !get) return reply(res, 405, 'POST only', { allow: 'POST' });
    const body = get ? new URL(req.url ?? '/', 'http://x').search.slice(1) : await readBody(req);
    if (body === undefined) return reply(res, 413, 'body too large');
    const agent = decodeURIComponent(inbound[2]);
    const credentials = basicCredentials(req.headers.authorization);
    const call = wire.webhook({
      url: this.publicUrl('https', req.url ?? '/'),
      headers: headersOf(req),
      params: Object.fromEntries(new URLSearchParams(body)),
      endpointAuthenticated:
        credentials && (await this.deps.endpointCredentialsValid(wire.name, agent, credentials)),
    });
    if ('status' in call) {
      this.deps.logger.warn({ provider: wire.name, why: call.why }, 'provider webhook refused');
      return reply(res, call.status, call.why);
    }
    if (!this.deps.config().agents.some((a) => a.name === agent)) {
      return reply(res, 404, `unknown agent ${agent}`);
    }
    const id = randomBytes(24).toString('base64url');
    const active = await this.deps.endpointActive(wire.name, call.to);
    const admitted = active
      ? await this.deps.admit(wire.name, id)
      : { refused: `the endpoint of ${call.to} is not active` };
    if ('refused' in admitted) {
      const refusal = admitted.refused;
      this.deps.logger.warn({ provider: wire.name, callId: call.callId, refusal }, 'call refused');
      const busy = wire.busy();
      return reply(res, busy.status, busy.body, { 'content-type': wire.contentType });
    }
    this.mint(id, admitted.slot, wire, agent, call, false);
    const streamUrl = this.publicUrl('wss', `/telephony/${wire.name}/stream/${id}`);
    this.deps.logger.info({ provider: wire.name, callId: call.callId, agent }, 'stream offered');
    reply(res, 200, wire.answer(streamUrl, agent), { 'content-type': wire.contentType });
  }

  /**
   * A placed call's requests: its answer URL (a provider that asks one, as Vobiz does: answered
   * with the stream of the call's token), signed as the provider's webhooks are, and its status
   * callbacks (statusCallback), checked as the provider allows and reported.
   */
  private async placedCallRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    provider: string,
    what: 'outbound' | 'status',
    id: string,
  ): Promise<void> {
    const wire = this.wireOf(provider);
    if (!wire) return reply(res, 404, `${provider} is not configured`);
    if (req.method !== 'POST') return reply(res, 405, 'POST only', { allow: 'POST' });
    const body = await readBody(req);
    if (body === undefined) return reply(res, 413, 'body too large');
    const request = {
      url: this.publicUrl('https', req.url ?? '/'),
      headers: headersOf(req),
      params: Object.fromEntries(new URLSearchParams(body)),
    };
    if (what === 'status') return this.statusCallback(res, wire, id, request);
    const call = wire.webhook(request);
    if ('status' in call) return reply(res, call.status, call.why);
    const token = this.tokens.get(id);
    if (!token || !token.outbound || token.wire.name !== wire.name)
      return reply(res, 404, 'no such call');
    if (!token.callId) token.callId = call.callId;
    const streamUrl = this.publicUrl('wss', `/telephony/${wire.name}/stream/${token.id}`);
    reply(res, 200, wire.answer(streamUrl, token.agent), { 'content-type': wire.contentType });
  }

  /**
   * A placed call's progress, reported (the call's events). Once the provider says the call is
   * over, nothing more is awaited: a call that was never answered gives its token, and its place
   * under max_concurrent, back at once.
   */
  private statusCallback(
    res: http.ServerResponse,
    wire: ProviderWire,
    id: string,
    request: WebhookRequest,
  ): void {
    const placed = this.placed.get(id);
    if (!placed || placed.provider !== wire.name) return reply(res, 404, 'no such call');
    const report = wire.status(request);
    if ('status' in report) {
      this.deps.logger.warn({ provider: wire.name, why: report.why }, 'status callback refused');
      return reply(res, report.status, report.why);
    }
    const token = this.tokens.get(placed.tokenId);
    placed.callId ||= report.callId ?? token?.callId ?? '';
    if (token && !token.callId && report.callId) token.callId = report.callId;
    const { provider, callId, agent, trace } = placed;
    this.deps.onStatus({ provider, callId, agent, trace, report });
    if (FINAL_PROGRESS.has(report.progress)) {
      this.placed.delete(id);
      if (token && !token.call && !token.socket) this.spend(token);
    }
    reply(res, 200, '');
  }

  /** A token for one call's stream. */
  private mint(
    id: string,
    slot: Slot,
    wire: ProviderWire,
    agent: string,
    call: { callId: string; from: string; to: string },
    outbound: boolean,
  ): StreamToken {
    const token: StreamToken = {
      id,
      slot,
      wire,
      agent,
      ...call,
      expiresAt: Date.now() + this.settings().streamTokenTtlSeconds * 1000 * (outbound ? 2 : 1),
      socket: undefined,
      started: undefined,
      streamId: '',
      call: undefined,
      reconnectWait: undefined,
      outbound,
      trace: traceFor(undefined),
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /**
   * Places a call through its provider: a token for its stream first, then the provider's REST
   * request; the provider's id of the call when it says it.
   */
  async placeCall(request: OutboundCall): Promise<{ callId: string | undefined }> {
    const wire = this.wireOf(request.provider);
    if (!wire) throw new PlacementRefused(409, `${request.provider} is not configured`);
    const id = randomBytes(24).toString('base64url');
    const admitted = await this.deps.admit(wire.name, id);
    if ('refused' in admitted) throw new PlacementRefused(503, admitted.refused);
    const token = this.mint(
      id,
      admitted.slot,
      wire,
      request.agent,
      { callId: '', from: request.from, to: request.to },
      true,
    );
    const record: PlacedCall = {
      provider: wire.name,
      agent: request.agent,
      callId: '',
      trace: token.trace,
      tokenId: token.id,
      until: token.expiresAt + this.deps.config().calls.maxDurationSeconds * 1000,
    };
    this.placed.set(token.id, record);
    try {
      const placed = await wire.place({
        from: request.from,
        to: request.to,
        agent: request.agent,
        streamUrl: this.publicUrl('wss', `/telephony/${wire.name}/stream/${token.id}`),
        answerUrl: this.publicUrl('https', `/telephony/${wire.name}/outbound/${token.id}`),
        statusUrl: this.publicUrl('https', `/telephony/${wire.name}/status/${token.id}`),
      });
      if (placed.callId && !token.callId) token.callId = placed.callId;
      record.callId ||= placed.callId ?? '';
      this.deps.logger.info(
        { provider: wire.name, callId: placed.callId, agent: request.agent },
        'call placed',
      );
      return placed;
    } catch (err) {
      this.placed.delete(token.id);
      this.spend(token);
      throw new PlacementRefused(502, `${wire.name}: ${(err as Error).message}`);
    }
  }

  /** The public URL the provider used (or will use) for `path`, as its signature covers it. */
  private publicUrl(scheme: 'https' | 'wss', path: string): string {
    const base = new URL(this.settings().publicBaseUrl);
    const prefix = base.pathname.replace(/\/+$/, '');
    const secure = base.protocol === 'https:';
    const proto = scheme === 'https' ? base.protocol : secure ? 'wss:' : 'ws:';
    return `${proto}//${base.host}${prefix}${path}`;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    const match = /^\/telephony\/([a-z]+)\/stream\/([A-Za-z0-9_-]+)$/.exec(path);
    const token = match ? this.tokens.get(match[2]) : undefined;
    const refuse = (status: number, why: string) => {
      this.deps.logger.warn({ provider: match?.[1], why }, 'stream refused');
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\n\r\n`);
    };
    if (!match || !token || token.wire.name !== match[1]) return refuse(403, 'unknown token');
    if (!token.call && token.expiresAt < Date.now()) return refuse(403, 'expired token');
    if (token.socket) return refuse(409, 'the stream of this token is live');
    if (!token.wire.upgradeValid(this.publicUrl('wss', req.url ?? '/'), headersOf(req))) {
      return refuse(403, 'bad signature');
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.stream(ws, token));
  }

  private stream(ws: WebSocket, token: StreamToken): void {
    const wire = token.wire;
    const log = this.deps.logger.child({ provider: wire.name, callId: token.callId });
    token.socket = ws;
    const startWait = setTimeout(() => {
      log.warn('stream said no start: closed');
      ws.close(1008, 'no start');
    }, START_WAIT_MS);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return; // providers send JSON text frames
      const message = wire.read(data.toString());
      if (message.event === 'start') {
        if (token.started === ws) return;
        // A placed call whose provider named no id yet: its stream names it.
        if (token.outbound && !token.callId) token.callId = message.callId;
        if (message.callId !== token.callId) {
          log.warn({ streamCallId: message.callId }, 'stream for another call: closed');
          this.spend(token);
          return ws.close(1008, 'token is for another call');
        }
        clearTimeout(startWait);
        token.streamId = message.streamId;
        token.started = ws;
        if (token.call) {
          clearTimeout(token.reconnectWait);
          log.info({ streamId: message.streamId }, 'stream reconnected');
        } else token.call = this.startCall(token);
        return;
      }
      if (token.started !== ws) return;
      if (message.event === 'media') token.call?.onAudio(message.payload);
      else if (message.event === 'dtmf') token.call?.onDigit(message.digit);
      else if (message.event === 'mark') token.call?.onMark(message.name);
      else if (message.event === 'stop') this.ended(token);
      else if (message.event === 'unusable') log.debug({ why: message.why }, 'message ignored');
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'stream socket error'));
    ws.on('close', () => {
      clearTimeout(startWait);
      if (token.socket === ws) token.socket = undefined;
      if (token.started === ws) token.started = undefined;
      if (!this.tokens.has(token.id)) return;
      if (!token.call) return this.spend(token);
      if (!wire.reconnects) return this.ended(token);
      // The provider may bring the stream back: the call waits a little before it ends.
      token.reconnectWait = setTimeout(() => this.ended(token), RECONNECT_WAIT_MS);
    });
  }

  private startCall(token: StreamToken): StreamCallHandle {
    const wire = token.wire;
    // A reconnected socket gets audio only once its own `start` has named its streamId.
    const send = (text: string) => {
      const socket = token.started;
      if (socket && socket.readyState === socket.OPEN) socket.send(text);
    };
    return this.deps.startCall(
      {
        provider: wire.name,
        providerCallId: token.callId,
        agent: token.agent,
        from: token.from,
        to: token.to,
        audio: wire.audio,
        trace: token.trace,
      },
      {
        sendAudio: (audio) => send(wire.media(token.streamId, audio)),
        clear: () => send(wire.clear(token.streamId)),
        mark: (name) => send(wire.mark(token.streamId, name)),
      },
      {
        hangUp: () => wire.hangUp(token.callId),
        closeStream: () => {
          this.spend(token);
          token.socket?.close(1000, 'call ended');
        },
      },
    );
  }

  /** The caller is gone: the token is spent and the call ends. */
  private ended(token: StreamToken): void {
    this.spend(token);
    token.call?.onStreamEnd();
  }

  private spend(token: StreamToken): void {
    clearTimeout(token.reconnectWait);
    token.slot.release();
    this.tokens.delete(token.id);
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const token of this.tokens.values()) {
      if (!token.call && !token.socket && token.expiresAt < now) this.spend(token);
    }
    for (const [id, placed] of this.placed) if (placed.until < now) this.placed.delete(id);
  }
}

function headersOf(req: http.IncomingMessage): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
  );
}

function reply(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

/** The request body as text, or undefined past MAX_BODY_BYTES. */
async function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
