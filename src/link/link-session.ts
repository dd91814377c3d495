/**
 * One call's link to the voice agent: TelAPI session creation, then the /ws/session socket.
 * Audio frames out are dropped (and counted) rather than queued without bound when the agent
 * reads slower than real time.
 */
import WebSocket from 'ws';
import type { TelApiClient } from './telapi-client.js';
import { TelApiError } from './telapi-client.js';
import {
  parseAgentMessage,
  type AgentMessage,
  type CreateSessionRequest,
  type GatewayMessage,
} from './protocol.js';

export interface LinkEvents {
  onAudio(frame: Buffer): void;
  onMessage(message: AgentMessage): void;
  onClose(code: number, reason: string): void;
}

/** Above this much unsent data the agent is a slow consumer and frames are dropped. */
const MAX_BUFFERED_BYTES = 256 * 1024;

export class LinkSession {
  private ws: WebSocket | undefined;
  private closed = false;
  private readonly abort = new AbortController();
  sessionId = '';
  framesDropped = 0;

  constructor(
    private readonly telapi: TelApiClient,
    private readonly events: LinkEvents,
    private readonly connectTimeoutMs: number,
  ) {}

  async open(request: CreateSessionRequest): Promise<void> {
    const session = await this.telapi.createSession(request, this.abort.signal);
    this.sessionId = session.sessionId;
    if (this.closed) throw new TelApiError('link closed while it was being opened');
    const ws = new WebSocket(this.telapi.sessionUrl(session), {
      handshakeTimeout: this.connectTimeoutMs,
    });
    ws.binaryType = 'nodebuffer';
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(new TelApiError(`agent WebSocket refused: HTTP ${res.statusCode}`, res.statusCode)),
      );
      ws.once('error', (err) => reject(new TelApiError(`agent WebSocket failed: ${err.message}`)));
    });
    ws.on('error', () => undefined); // 'close' follows and carries the outcome
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.events.onAudio(data);
      else {
        const message = parseAgentMessage(data.toString('utf8'));
        if (message) this.events.onMessage(message);
      }
    });
    ws.on('close', (code, reason) => {
      const wasClosed = this.closed;
      this.closed = true;
      if (!wasClosed) this.events.onClose(code, reason.toString('utf8'));
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.ws?.readyState === WebSocket.OPEN;
  }

  sendAudio(frame: Buffer): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.framesDropped++;
      return;
    }
    ws.send(frame, { binary: true });
  }

  send(message: GatewayMessage): void {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  /** Closes the socket (after a last message, if given); never calls onClose. */
  close(finalMessage?: GatewayMessage): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    const ws = this.ws;
    if (!ws) return;
    if (finalMessage) this.send(finalMessage);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'call ended');
    else ws.terminate();
    // A peer that never completes the closing handshake must not keep the socket alive.
    const force = setTimeout(() => ws.terminate(), 2000);
    ws.once('close', () => clearTimeout(force));
  }
}
