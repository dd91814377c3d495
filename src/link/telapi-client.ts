/** TelAPI REST client: creates the session a call's WebSocket link then joins. */
import type { CreateSessionRequest, CreateSessionResponse } from './protocol.js';

export class TelApiError extends Error {
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface TelApiOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

export class TelApiClient {
  constructor(private readonly options: TelApiOptions) {}

  /** `cancel` aborts the request, e.g. when the caller hangs up while it is in flight. */
  async createSession(
    request: CreateSessionRequest,
    cancel?: AbortSignal,
  ): Promise<CreateSessionResponse> {
    const traceparent =
      request.traceId && request.parentSpanId
        ? `00-${request.traceId}-${request.parentSpanId}-01`
        : undefined;
    const body = await this.post('/api/v1/sessions', request, 'the session', cancel, traceparent);
    if (typeof body.sessionId !== 'string' || typeof body.wsToken !== 'string') {
      throw new TelApiError('TelAPI answered without sessionId and wsToken');
    }
    return {
      sessionId: body.sessionId,
      wsToken: body.wsToken,
      wsTokenExpiresIn: Number(body.wsTokenExpiresIn ?? 0),
      expiresIn: Number(body.expiresIn ?? 0),
    };
  }

  /** A fresh socket token for a live session (its old one expired while the socket was down). */
  async refreshToken(
    session: CreateSessionResponse,
    cancel?: AbortSignal,
  ): Promise<CreateSessionResponse> {
    const path = `/api/v1/sessions/${encodeURIComponent(session.sessionId)}/token`;
    const body = await this.post(path, {}, 'a new token', cancel);
    if (typeof body.wsToken !== 'string') throw new TelApiError('TelAPI answered without wsToken');
    return {
      ...session,
      wsToken: body.wsToken,
      wsTokenExpiresIn: Number(body.wsTokenExpiresIn ?? 0),
    };
  }

  private async post(
    path: string,
    request: object,
    what: string,
    cancel?: AbortSignal,
    traceparent?: string,
  ): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(new URL(path, this.options.baseUrl), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': this.options.apiKey,
          ...(traceparent && { traceparent }),
        },
        body: JSON.stringify(request),
        signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
      });
    } catch (err) {
      throw new TelApiError(`TelAPI unreachable: ${(err as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new TelApiError(
        `TelAPI refused ${what}: HTTP ${response.status} ${text.slice(0, 200)}`,
        response.status,
      );
    }
    const body = (await response.json().catch(() => undefined)) as unknown;
    if (typeof body !== 'object' || body === null) {
      throw new TelApiError(`TelAPI answered ${what} without a JSON object`);
    }
    return body as Record<string, unknown>;
  }

  /** The WebSocket URL for a session: the REST base with ws(s) and /ws/session. */
  sessionUrl(session: CreateSessionResponse): string {
    const url = new URL('/ws/session', this.options.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('sessionId', session.sessionId);
    url.searchParams.set('token', session.wsToken);
    return url.toString();
  }
}
