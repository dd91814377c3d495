/**
 * Where cloud telephony providers reach telgate (`telephony.listen`, behind the TLS proxy of
 * `telephony.publicBaseUrl`):
 *   POST /telephony/twilio/inbound/<agent>   Twilio's voice webhook: signature checked, the
 *        answer is TwiML connecting the call to a bidirectional stream at
 *        wss://<public host>/telephony/twilio/stream/<token>
 *   GET  /telephony/twilio/stream/<token>    (WebSocket) that stream: Twilio Media Streams
 * The token is minted in the webhook's answer for that call alone: it opens one stream, for the
 * call whose `start` names the same CallSid, while it lives; Twilio signs the upgrade too. A
 * request that fails any check is refused before any audio flows.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { StreamWire } from './caller-leg-stream.js';
import {
  twilioConnectStream,
  twilioRejectBusy,
  twilioSignatureValid,
  TwilioRest,
} from './provider-twilio.js';
import { readTwilioMessage, twilioClear, twilioMedia } from './provider-twilio-stream.js';
import type { StreamCallFacts } from './stream-call.js';

/** Form bodies larger than this are not a provider's webhook. */
const MAX_BODY_BYTES = 64 * 1024;
/** A stream that has not said `start` by then is not Twilio's. */
const START_WAIT_MS = 10_000;
/** A stream message larger than this is not a provider's (a second of audio is 11 kB). */
const MAX_MESSAGE_BYTES = 256 * 1024;

/** What the server needs of a stream's call (StreamCall). */
export interface StreamCallHandle {
  onAudio(ulaw: Buffer): void;
  onDigit(digit: string): void;
  onStreamEnd(): void;
}

export interface ProviderServerDeps {
  config(): TelgateConfig;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Whether a call to `agent` is taken now; the refusal's reason when not. */
  refusal(provider: string): string | undefined;
  /** Starts the call of a stream that has begun. */
  startCall(
    facts: StreamCallFacts,
    wire: StreamWire,
    end: { hangUp(): Promise<void>; closeStream(): void },
  ): StreamCallHandle;
}

interface StreamToken {
  provider: 'twilio';
  agent: string;
  callSid: string;
  from: string;
  to: string;
  expiresAt: number;
  live: boolean;
}

export class ProviderServer {
  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly tokens = new Map<string, StreamToken>();
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
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private settings(): NonNullable<TelgateConfig['telephony']> {
    const telephony = this.deps.config().telephony;
    if (!telephony) throw new Error('telephony is not configured');
    return telephony;
  }

  private twilioAccount() {
    const twilio = this.settings().twilio;
    if (!twilio) return undefined;
    return { ...twilio, authToken: this.deps.env[twilio.authTokenEnv] ?? '' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const inbound = /^\/telephony\/twilio\/inbound\/([^/]+)$/.exec(path);
    if (!inbound) return reply(res, 404, 'not found');
    if (req.method !== 'POST') return reply(res, 405, 'POST only', { allow: 'POST' });
    const account = this.twilioAccount();
    if (!account) return reply(res, 404, 'twilio is not configured');
    const body = await readBody(req);
    if (body === undefined) return reply(res, 413, 'body too large');
    const params = Object.fromEntries(new URLSearchParams(body));
    const url = this.publicUrl('https', req.url ?? '/');
    const signature = header(req, 'x-twilio-signature');
    if (!twilioSignatureValid(account.authToken, signature, url, params)) {
      this.deps.logger.warn({ path }, 'twilio webhook refused: bad signature');
      return reply(res, 403, 'bad signature');
    }
    const agent = decodeURIComponent(inbound[1]);
    if (!this.deps.config().agents.some((a) => a.name === agent)) {
      return reply(res, 404, `unknown agent ${agent}`);
    }
    const callSid = params.CallSid;
    if (!callSid) return reply(res, 400, 'CallSid missing');
    const refusal = this.deps.refusal('twilio');
    if (refusal) {
      this.deps.logger.warn({ callSid, refusal }, 'twilio call refused');
      return reply(res, 200, twilioRejectBusy(), { 'content-type': 'text/xml' });
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, {
      provider: 'twilio',
      agent,
      callSid,
      from: params.From ?? '',
      to: params.To ?? '',
      expiresAt: Date.now() + this.settings().streamTokenTtlSeconds * 1000,
      live: false,
    });
    const streamUrl = this.publicUrl('wss', `/telephony/twilio/stream/${token}`);
    const twiml = twilioConnectStream(streamUrl, { agent });
    this.deps.logger.info({ callSid, agent }, 'twilio call: stream offered');
    reply(res, 200, twiml, { 'content-type': 'text/xml' });
  }

  /** The public URL Twilio used (or will use) for `path`, as its signature covers it. */
  private publicUrl(scheme: 'https' | 'wss', path: string): string {
    const base = new URL(this.settings().publicBaseUrl);
    const prefix = base.pathname.replace(/\/+$/, '');
    const secure = base.protocol === 'https:';
    const proto = scheme === 'https' ? base.protocol : secure ? 'wss:' : 'ws:';
    return `${proto}//${base.host}${prefix}${path}`;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0];
    const match = /^\/telephony\/twilio\/stream\/([A-Za-z0-9_-]+)$/.exec(path);
    const token = match ? this.tokens.get(match[1]) : undefined;
    const account = this.twilioAccount();
    const refuse = (status: number, why: string) => {
      this.deps.logger.warn(
        { path: match ? '/telephony/twilio/stream/…' : path, why },
        'stream refused',
      );
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\n\r\n`);
    };
    if (!match || !account) return refuse(404, 'no such stream');
    if (!token || token.expiresAt < Date.now()) return refuse(403, 'unknown or expired token');
    if (token.live) return refuse(409, 'the stream of this token is live');
    const url = this.publicUrl('wss', req.url ?? '/');
    if (!twilioSignatureValid(account.authToken, header(req, 'x-twilio-signature'), url, {})) {
      return refuse(403, 'bad signature');
    }
    token.live = true;
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.twilioStream(ws, match[1], token, account),
    );
  }

  private twilioStream(
    ws: WebSocket,
    tokenId: string,
    token: StreamToken,
    account: { accountSid: string; authToken: string; apiBaseUrl: string },
  ): void {
    const log = this.deps.logger.child({ provider: 'twilio', callSid: token.callSid });
    let call: StreamCallHandle | undefined;
    let streamSid = '';
    const wire: StreamWire = {
      sendAudio: (ulaw) => ws.readyState === ws.OPEN && ws.send(twilioMedia(streamSid, ulaw)),
      clear: () => ws.readyState === ws.OPEN && ws.send(twilioClear(streamSid)),
    };
    const rest = new TwilioRest(account);
    // One stream per Twilio call: the token is spent once its stream ends, however it ends.
    const spend = () => this.tokens.delete(tokenId);
    const startWait = setTimeout(() => {
      log.warn('stream said no start: closed');
      spend();
      ws.close(1008, 'no start');
    }, START_WAIT_MS);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return; // Twilio sends text frames only
      const message = readTwilioMessage(data.toString());
      switch (message.event) {
        case 'start': {
          if (call) return;
          if (message.start.callSid !== token.callSid) {
            log.warn({ streamCallSid: message.start.callSid }, 'stream for another call: closed');
            spend();
            return ws.close(1008, 'token is for another call');
          }
          clearTimeout(startWait);
          streamSid = message.start.streamSid;
          call = this.deps.startCall(
            {
              provider: 'twilio',
              providerCallId: token.callSid,
              agent: token.agent,
              from: token.from,
              to: token.to,
            },
            wire,
            {
              hangUp: () => rest.hangUp(token.callSid),
              closeStream: () => {
                spend();
                ws.close(1000, 'call ended');
              },
            },
          );
          return;
        }
        case 'media':
          return call?.onAudio(message.payload);
        case 'dtmf':
          return call?.onDigit(message.digit);
        case 'stop':
          spend();
          return call?.onStreamEnd();
        case 'unusable':
          return log.debug({ why: message.why }, 'stream message ignored');
        default:
          return;
      }
    });
    ws.on('error', (err) => log.warn({ err: err.message }, 'stream socket error'));
    ws.on('close', () => {
      clearTimeout(startWait);
      spend();
      call?.onStreamEnd();
    });
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [id, token] of this.tokens) {
      if (!token.live && token.expiresAt < now) this.tokens.delete(id);
    }
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
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
