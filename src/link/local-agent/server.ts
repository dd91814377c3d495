/**
 * The embedded local agent: a real TelAPI (`POST /api/v1/sessions`, endpoint capabilities) and
 * `/ws/session` server, so a whole call runs on one machine with no outside service. Which
 * behaviour an endpoint gets comes from config (`localAgent.behaviours`).
 */
import http from 'node:http';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { WebSocketServer, WebSocket } from 'ws';
import { CLOSE_CODES, type AudioFormat } from '../protocol.js';
import { startBehaviour, type Behaviour, type RunningBehaviour } from './behaviours.js';

export interface LocalAgentOptions {
  host: string;
  port: number;
  apiKey: string;
  behaviours: Record<string, Behaviour>;
  tokenTtlSeconds?: number;
}

interface PendingSession {
  endpointId: string;
  token: string;
  expiresAt: number;
  behaviour: Behaviour;
}

const MAX_BODY_BYTES = 64 * 1024;

export class LocalAgent {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, PendingSession>();
  private readonly live = new Set<WebSocket>();
  /** Count of sessions that reached the socket; tests read it. */
  sessionsStarted = 0;

  constructor(private readonly options: LocalAgentOptions) {
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
    if (req.method !== 'POST' || url.pathname !== '/api/v1/sessions')
      return reply(404, { error: 'not found' });
    let body: { endpointId?: unknown; mode?: unknown };
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return reply(400, { error: 'body must be JSON' });
    }
    if (typeof body.endpointId !== 'string' || body.mode !== 'voice_conversation') {
      return reply(400, { error: 'endpointId and mode "voice_conversation" are required' });
    }
    const behaviour = this.options.behaviours[body.endpointId];
    if (!behaviour) return reply(404, { error: `no behaviour for endpoint ${body.endpointId}` });
    const ttl = this.options.tokenTtlSeconds ?? 60;
    const sessionId = randomUUID();
    const token = randomBytes(18).toString('base64url');
    this.sessions.set(sessionId, {
      endpointId: body.endpointId,
      token,
      behaviour,
      expiresAt: Date.now() + ttl * 1000,
    });
    this.pruneExpired();
    reply(201, { sessionId, wsToken: token, wsTokenExpiresIn: ttl, expiresIn: 3600 });
  }

  private pruneExpired(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt < now) this.sessions.delete(id);
  }

  private handleUpgrade(
    req: http.IncomingMessage,
    socket: import('node:stream').Duplex,
    head: Buffer,
  ): void {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== '/ws/session') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const sessionId = url.searchParams.get('sessionId') ?? '';
      const session = this.sessions.get(sessionId);
      if (!session) return ws.close(CLOSE_CODES.unknownSession, 'unknown session');
      if (session.token !== url.searchParams.get('token'))
        return ws.close(CLOSE_CODES.unauthorized, 'bad token');
      if (session.expiresAt < Date.now())
        return ws.close(CLOSE_CODES.sessionExpired, 'token expired');
      this.sessions.delete(sessionId);
      this.run(ws, session);
    });
  }

  private run(ws: WebSocket, session: PendingSession): void {
    this.live.add(ws);
    let running: RunningBehaviour | undefined;
    const socket = {
      sendAudio: (frame: Buffer) =>
        ws.readyState === WebSocket.OPEN && ws.send(frame, { binary: true }),
      sendJson: (message: object) =>
        ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message)),
    };
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return running?.onAudio(data);
      let msg: { type?: string; audio?: AudioFormat };
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        return ws.close(CLOSE_CODES.protocolError, 'text frames must be JSON');
      }
      if (msg.type === 'session.start' && msg.audio && !running) {
        this.sessionsStarted++;
        running = startBehaviour(session.behaviour, msg.audio, socket);
      }
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      running?.stop();
      this.live.delete(ws);
    });
  }
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
