/**
 * One call's link to the voice agent: TelAPI session creation, then the /ws/session socket.
 * Audio frames out are dropped (and counted) rather than queued without bound when the agent
 * reads slower than real time.
 *
 * Resume: when the socket drops without the agent ending the session (no close frame, 1001,
 * 1011–1014, 4008 token expired), the link reconnects with backoff for up to `resumeWindowMs`,
 * asking TelAPI for a fresh token when the old one has expired. Meanwhile the caller's audio is
 * held (the last `holdAudioBytes`, older audio dropped) together with the control messages; on
 * reconnect the agent gets `session.resumed` with the held milliseconds, then that audio, then
 * the messages. A window that runs out, 1000 (the agent closed the session) or 4004 (the session
 * is gone) end the link for good.
 *
 * The socket speaks the endpoint's dialect (./dialects): TelPhi's own is provisioned through
 * TelAPI and resumable; the Asterisk and Twilio ones connect straight to a configured URL,
 * and there a normal close from the agent is its hang-up.
 */
import WebSocket from 'ws';
import type { TelApiClient } from './telapi-client.js';
import { TelApiError } from './telapi-client.js';
import type { Dialect, DialectInfo } from './dialects/dialect.js';
import {
  CLOSE_CODES,
  type AgentMessage,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type GatewayMessage,
} from './protocol.js';

export interface LinkEvents {
  onAudio(frame: Buffer): void;
  onMessage(message: AgentMessage): void;
  /** The link is gone for good (never called after close()). */
  onClose(code: number, reason: string): void;
  onInterrupted?(code: number, reason: string): void;
  onResumed?(heldMs: number, attempts: number): void;
}

export interface LinkOptions {
  dialect: Dialect;
  info: DialectInfo;
  /** Where an unprovisioned dialect connects. */
  url?: string;
  connectTimeoutMs: number;
  /** How long to try reconnecting a dropped socket; 0 turns resume off. */
  resumeWindowMs: number;
  holdAudioBytes: number;
  /** Link audio bytes per millisecond, to report held audio in time. */
  bytesPerMs: number;
}

/** Above this much unsent data the agent is a slow consumer and frames are dropped. */
const MAX_BUFFERED_BYTES = 256 * 1024;
/** Control messages kept while the socket is down. */
const MAX_HELD_MESSAGES = 100;
/** A socket open this long counts as a working link again: the next drop gets a new window. */
const STABLE_MS = 2000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;
const FINAL_CODES: ReadonlySet<number> = new Set([CLOSE_CODES.normal, CLOSE_CODES.unknownSession]);

/** ws send options, made once: audio goes out 50 times a second per call. */
const BINARY = { binary: true } as const;
const TEXT = { binary: false } as const;
const sendOptions = (data: string | Buffer) => (typeof data === 'string' ? TEXT : BINARY);

class SocketClosed extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`WebSocket closed ${code} ${reason}`.trim());
  }
}

export class LinkSession {
  private ws: WebSocket | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  private session: CreateSessionResponse | undefined;
  private tokenExpiresAt = 0;
  private openedAt = 0;
  /** Set from the first drop until the link is stable again. */
  private downSince: number | undefined;
  private heldAudio: Buffer[] = [];
  private heldBytes = 0;
  private heldMessages: GatewayMessage[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  sessionId = '';
  framesDropped = 0;
  resumes = 0;

  constructor(
    private readonly telapi: TelApiClient,
    private readonly events: LinkEvents,
    private readonly options: LinkOptions,
  ) {}

  async open(request: CreateSessionRequest): Promise<void> {
    if (!this.options.info.provisioned) {
      this.sessionId = request.callId;
      return this.connect();
    }
    const session = await this.telapi.createSession(request, this.abort.signal);
    this.adopt(session);
    if (this.closed) throw new TelApiError('link closed while it was being opened');
    await this.connect();
  }

  private adopt(session: CreateSessionResponse): void {
    this.session = session;
    this.sessionId = session.sessionId;
    this.tokenExpiresAt = Date.now() + session.wsTokenExpiresIn * 1000;
  }

  /** Opens the socket; rejects with a TelApiError when it cannot be opened. */
  private async connect(): Promise<void> {
    const url = this.options.url ?? this.telapi.sessionUrl(this.session!);
    const ws = new WebSocket(url, {
      handshakeTimeout: this.options.connectTimeoutMs,
      // ws offers permessage-deflate by default: an agent that accepts it would have every
      // 20 ms audio frame deflated and inflated, CPU spent on data that barely compresses.
      perMessageDeflate: false,
    });
    ws.binaryType = 'nodebuffer';
    this.ws = ws;
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) =>
          reject(
            new TelApiError(`agent WebSocket refused: HTTP ${res.statusCode}`, res.statusCode),
          ),
        );
        ws.once('error', (err) =>
          reject(new TelApiError(`agent WebSocket failed: ${err.message}`)),
        );
        ws.once('close', (code, reason) => reject(new SocketClosed(code, reason.toString())));
      });
    } catch (err) {
      ws.terminate();
      throw err;
    }
    ws.removeAllListeners('close');
    this.openedAt = Date.now();
    ws.on('error', () => undefined); // 'close' follows and carries the outcome
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const inbound = this.options.dialect.decode(data, isBinary);
      if (!inbound) return;
      if ('audio' in inbound) this.events.onAudio(inbound.audio);
      else this.events.onMessage(inbound.message);
    });
    ws.on('close', (code, reason) => this.onSocketClose(ws, code, reason.toString('utf8')));
  }

  private onSocketClose(ws: WebSocket, code: number, reason: string): void {
    if (this.closed || ws !== this.ws) return;
    this.ws = undefined;
    const now = Date.now();
    if (this.options.dialect.closeMeansHangup(code)) {
      this.closed = true;
      return this.events.onMessage({ type: 'hangup', reason: `agent closed the stream (${code})` });
    }
    if (this.downSince === undefined || now - this.openedAt >= STABLE_MS) this.downSince = now;
    const resumable = this.options.info.resumable && this.options.resumeWindowMs > 0;
    if (!resumable || FINAL_CODES.has(code)) {
      return this.finish(code, reason);
    }
    this.events.onInterrupted?.(code, reason);
    this.retry(code, reason, FIRST_RETRY_MS, 0);
  }

  /** One reconnect attempt after `delay`, then the next with a doubled delay, in the window. */
  private retry(code: number, reason: string, delay: number, attempts: number): void {
    const left = this.downSince! + this.options.resumeWindowMs - Date.now();
    if (left <= 0) return this.finish(code, `not resumed within the window: ${reason}`);
    this.retryTimer = setTimeout(
      () => void this.attempt(code, reason, delay, attempts + 1),
      Math.min(delay, left),
    );
  }

  private async attempt(code: number, reason: string, delay: number, attempts: number) {
    if (this.closed) return;
    try {
      if (code === CLOSE_CODES.sessionExpired || Date.now() >= this.tokenExpiresAt) {
        this.adopt(await this.telapi.refreshToken(this.session!, this.abort.signal));
      }
      await this.connect();
    } catch (err) {
      if (this.closed) return;
      const failure = err instanceof SocketClosed ? err.code : code;
      if (FINAL_CODES.has(failure)) return this.finish(failure, (err as Error).message);
      return this.retry(
        failure,
        (err as Error).message,
        Math.min(delay * 2, MAX_RETRY_MS),
        attempts,
      );
    }
    this.resumed(attempts);
  }

  private resumed(attempts: number): void {
    this.resumes++;
    const heldMs = Math.round(this.heldBytes / this.options.bytesPerMs);
    const audio = this.heldAudio;
    const messages = this.heldMessages;
    this.heldAudio = [];
    this.heldBytes = 0;
    this.heldMessages = [];
    this.send({ type: 'session.resumed', sessionId: this.sessionId, heldMs });
    for (const frame of audio) this.sendAudio(frame);
    for (const message of messages) this.send(message);
    this.events.onResumed?.(heldMs, attempts);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.dropHeld();
    this.events.onClose(code, reason);
  }

  get isOpen(): boolean {
    return !this.closed && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Whether the socket is down and being resumed. */
  get resuming(): boolean {
    return !this.closed && this.downSince !== undefined && !this.isOpen;
  }

  sendAudio(frame: Buffer): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return this.hold(frame);
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.framesDropped++;
      return;
    }
    const data = this.options.dialect.encodeAudio(frame);
    ws.send(data, sendOptions(data));
  }

  private hold(frame: Buffer): void {
    if (!this.resuming || this.options.holdAudioBytes <= 0) return;
    this.heldAudio.push(frame);
    this.heldBytes += frame.length;
    while (this.heldBytes > this.options.holdAudioBytes && this.heldAudio.length) {
      this.heldBytes -= this.heldAudio.shift()!.length;
    }
  }

  send(message: GatewayMessage): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) this.write(ws, message);
    else if (this.resuming && this.heldMessages.length < MAX_HELD_MESSAGES) {
      this.heldMessages.push(message);
    }
  }

  private write(ws: WebSocket, message: GatewayMessage): void {
    for (const data of this.options.dialect.encodeMessage(message)) {
      ws.send(data, sendOptions(data));
    }
  }

  private dropHeld(): void {
    clearTimeout(this.retryTimer);
    this.heldAudio = [];
    this.heldBytes = 0;
    this.heldMessages = [];
  }

  /** Closes the socket (after a last message, if given); never calls onClose. */
  close(finalMessage?: GatewayMessage): void {
    if (this.closed) return;
    this.closed = true;
    this.dropHeld();
    this.abort.abort();
    const ws = this.ws;
    if (!ws) return;
    if (finalMessage && ws.readyState === WebSocket.OPEN) this.write(ws, finalMessage);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'call ended');
    else ws.terminate();
    // A peer that never completes the closing handshake must not keep the socket alive.
    const force = setTimeout(() => ws.terminate(), 2000);
    ws.once('close', () => clearTimeout(force));
  }
}
