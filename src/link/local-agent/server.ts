/**
 * The embedded local agent: a real TelAPI (`POST /api/v1/sessions`, token refresh, endpoint
 * capabilities) and `/ws/session` server, so a whole call runs on one machine with no outside
 * service. Which behaviour an endpoint gets comes from config (`localAgent.behaviours`).
 *
 * A session outlives its socket: telgate may reconnect with the session's (or a refreshed)
 * token and the behaviour carries on. What the agent hears is also emitted as events
 * (`created`: the session request; `session`, `message`, `audio`: PCM at the session's rate),
 * for tests and diagnostics.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import { g711Decode, g711Encode } from '../../codecs/g711.js';
import { CLOSE_CODES, type AudioFormat } from '../protocol.js';
import { agentWire, type AgentWire, type WireOut } from './agent-wires.js';
import type { DialectName } from '../dialects/dialect.js';
import {
  startBehaviour,
  type AgentSocket,
  type Behaviour,
  type RunningBehaviour,
} from './behaviours.js';

export interface LocalAgentOptions {
  host: string;
  port: number;
  apiKey: string;
  behaviours: Record<string, Behaviour>;
  tokenTtlSeconds?: number;
}

interface AgentSession {
  id: string;
  endpointId: string;
  token: string;
  /** When the token stops opening sockets. */
  expiresAt: number;
  behaviour: Behaviour;
  running?: RunningBehaviour;
  format?: AudioFormat;
  ws?: WebSocket;
  refuseResume: boolean;
  ended: boolean;
  wire: AgentWire;
  /** Runs while the session has no socket: forgets it if telgate never comes back. */
  orphanTimer?: NodeJS.Timeout;
}

/** How long a session whose socket dropped waits for telgate to resume it (its longest window). */
const ORPHAN_MS = 300_000;

/** A session no socket has used for this long is forgotten. */
const SESSION_IDLE_MS = 10 * 60_000;

const MAX_BODY_BYTES = 64 * 1024;

export class LocalAgent extends EventEmitter {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, AgentSession>();
  private readonly live = new Set<WebSocket>();
  /** Count of sessions that reached the socket, and of tokens refreshed; tests read them. */
  sessionsStarted = 0;
  tokensRefreshed = 0;

  constructor(private readonly options: LocalAgentOptions) {
    super();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
    this.http = http.createServer((req, res) => void this.handleHttp(req, res));
    this.http.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.options.port, this.options.host, () => resolve());
    });
    return this.address;
  }

  get address(): { host: string; port: number } {
    const addr = this.http.address();
    return {
      host: this.options.host,
      port: typeof addr === 'object' && addr ? addr.port : this.options.port,
    };
  }

  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  get liveSockets(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    for (const session of [...this.sessions.values()]) this.forget(session);
    for (const ws of this.live) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private authorised(req: http.IncomingMessage): boolean {
    const given = Buffer.from(String(req.headers['x-api-key'] ?? ''));
    const expected = Buffer.from(this.options.apiKey);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!this.authorised(req)) return reply(401, { error: 'missing or wrong X-API-Key' });
    const caps = /^\/api\/v1\/endpoints\/([^/]+)\/capabilities$/.exec(url.pathname);
    if (req.method === 'GET' && caps) {
      const behaviour = this.options.behaviours[decodeURIComponent(caps[1])];
      if (!behaviour) return reply(404, { error: 'unknown endpoint' });
      return reply(200, {
        modes: ['voice_conversation'],
        audioFormats: ['slin', 'slin16', 'slin24', 'ulaw', 'alaw'],
        behaviour: behaviour.kind,
      });
    }
    const refresh = /^\/api\/v1\/sessions\/([^/]+)\/token$/.exec(url.pathname);
    if (req.method === 'POST' && refresh) {
      const session = this.sessions.get(decodeURIComponent(refresh[1]));
      if (!session || session.ended) return reply(404, { error: 'unknown session' });
      const ttl = this.options.tokenTtlSeconds ?? 60;
      session.token = randomBytes(18).toString('base64url');
      session.expiresAt = Date.now() + ttl * 1000;
      this.tokensRefreshed++;
      return reply(200, { sessionId: session.id, wsToken: session.token, wsTokenExpiresIn: ttl });
    }
    if (req.method !== 'POST' || url.pathname !== '/api/v1/sessions')
      return reply(404, { error: 'not found' });
    let body: { endpointId?: unknown; mode?: unknown; flow?: { id?: unknown; draft?: unknown } };
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return reply(400, { error: 'body must be JSON' });
    }
    if (typeof body.endpointId !== 'string' || body.mode !== 'voice_conversation') {
      return reply(400, { error: 'endpointId and mode "voice_conversation" are required' });
    }
    // By endpoint, else (a draft: a temporary test endpoint, whose id is new) by its flow.
    const flowId =
      body.flow?.draft === true && typeof body.flow.id === 'string' ? body.flow.id : undefined;
    const behaviour =
      this.options.behaviours[body.endpointId] ??
      (flowId ? this.options.behaviours[flowId] : undefined);
    if (!behaviour) return reply(404, { error: `no behaviour for endpoint ${body.endpointId}` });
    const ttl = this.options.tokenTtlSeconds ?? 60;
    const sessionId = randomUUID();
    const token = randomBytes(18).toString('base64url');
    this.sessions.set(sessionId, {
      id: sessionId,
      endpointId: body.endpointId,
      token,
      behaviour,
      expiresAt: Date.now() + ttl * 1000,
      refuseResume: false,
      ended: false,
      wire: agentWire('telphi'),
    });
    this.pruneExpired();
    // The request as TelAPI received it (call facts, trace context), for tests and diagnostics.
    this.emit('created', sessionId, body);
    reply(201, { sessionId, wsToken: token, wsTokenExpiresIn: ttl, expiresIn: 3600 });
  }

  private pruneExpired(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (!s.ws && (s.ended || s.expiresAt + SESSION_IDLE_MS < now)) this.forget(s);
    }
  }

  private handleUpgrade(
    req: http.IncomingMessage,
    socket: import('node:stream').Duplex,
    head: Buffer,
  ): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const direct = /^\/(twilio|asterisk)\/([^/]+)$/.exec(url.pathname);
    if (direct) return this.acceptDirect(req, socket, head, direct[1] as DialectName, direct[2]);
    if (url.pathname !== '/ws/session') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const sessionId = url.searchParams.get('sessionId') ?? '';
      const session = this.sessions.get(sessionId);
      if (!session || session.ended) return ws.close(CLOSE_CODES.unknownSession, 'unknown session');
      if (session.token !== url.searchParams.get('token'))
        return ws.close(CLOSE_CODES.unauthorized, 'bad token');
      if (session.expiresAt < Date.now())
        return ws.close(CLOSE_CODES.sessionExpired, 'token expired');
      if (session.ws) return ws.close(CLOSE_CODES.protocolError, 'session already connected');
      if (session.refuseResume) return ws.close(CLOSE_CODES.unknownSession, 'session gone');
      this.run(ws, session);
    });
  }

  /**
   * The Asterisk- and Twilio-compatible dialects: telgate connects to /<dialect>/<endpointId>
   * with no TelAPI session, as Asterisk or Twilio would; the session lives as long as the socket.
   */
  private acceptDirect(
    req: http.IncomingMessage,
    socket: import('node:stream').Duplex,
    head: Buffer,
    dialect: DialectName,
    endpointId: string,
  ): void {
    const behaviour = this.options.behaviours[decodeURIComponent(endpointId)];
    if (!behaviour) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session: AgentSession = {
        id: randomUUID(),
        endpointId,
        token: '',
        expiresAt: Infinity,
        behaviour,
        refuseResume: true,
        ended: true, // nothing to resume: the session ends with its socket
        wire: agentWire(dialect),
      };
      this.sessions.set(session.id, session);
      this.run(ws, session);
    });
  }

  private run(ws: WebSocket, session: AgentSession): void {
    this.live.add(ws);
    session.ws = ws;
    clearTimeout(session.orphanTimer);
    const socket = this.agentSocket(session);
    ws.on('message', (data: Buffer, isBinary) => {
      const read = session.wire.read(data, isBinary);
      if (read === 'protocol-error') {
        return ws.close(CLOSE_CODES.protocolError, 'not this dialect’s protocol');
      }
      if (read.message) this.emit('message', session.id, read.message);
      if (read.audio) {
        const pcm = toPcm(read.audio, session.format);
        this.emit('audio', session.id, pcm);
        session.running?.onAudio(pcm);
      }
      if (read.start && !session.running) {
        this.sessionsStarted++;
        session.format = read.start;
        this.emit('session', session.id, session.endpointId);
        session.running = startBehaviour(session.behaviour, read.start, socket);
      }
      if (read.end) session.ended = true;
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.live.delete(ws);
      if (session.ws === ws) session.ws = undefined;
      if (session.ended) return this.forget(session);
      // Dropped: the behaviour waits for a resume, but not for ever.
      session.orphanTimer = setTimeout(() => this.forget(session), ORPHAN_MS);
      session.orphanTimer.unref();
    });
  }

  private forget(session: AgentSession): void {
    clearTimeout(session.orphanTimer);
    session.running?.stop();
    this.sessions.delete(session.id);
  }

  /** The behaviour's handle on its session: always the session's current socket. */
  private agentSocket(session: AgentSession): AgentSocket {
    const send = (data: string | Buffer) => {
      const ws = session.ws;
      if (ws?.readyState === WebSocket.OPEN) ws.send(data, { binary: typeof data !== 'string' });
    };
    const out = (frames: WireOut) => {
      if (frames === 'close') session.ws?.close(1000, 'agent hung up');
      else for (const frame of frames) send(frame);
    };
    const wire = session.wire;
    return {
      sendAudio: (pcm) => send(wire.audio(fromPcm(pcm, session.format))),
      mark: (name) => out(wire.mark(name)),
      clear: () => out(wire.clear()),
      dtmf: (digits, durationMs) => out(wire.dtmf(digits, durationMs)),
      hangup: (reason) => out(wire.hangup(reason)),
      transfer: (request) => out(wire.transfer(request)),
      transferEnd: (complete) => out(wire.transferEnd(complete)),
      drop: (refuseResume) => {
        session.refuseResume = refuseResume;
        session.ws?.terminate();
      },
      pauseReading: () => session.ws?.pause(),
    };
  }
}

/** The session's audio as 16-bit PCM for a behaviour, and back. */
function toPcm(data: Buffer, format: AudioFormat | undefined): Buffer {
  if (format?.format !== 'ulaw' && format?.format !== 'alaw') return data;
  const pcm = new Int16Array(data.length);
  g711Decode(format.format, data, pcm);
  return Buffer.from(pcm.buffer);
}

function fromPcm(pcm: Buffer, format: AudioFormat | undefined): Buffer {
  if (format?.format !== 'ulaw' && format?.format !== 'alaw') return pcm;
  const out = Buffer.alloc(pcm.length >> 1);
  g711Encode(format.format, new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1), out);
  return out;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
