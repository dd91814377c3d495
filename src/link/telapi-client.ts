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
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await fetch(new URL('/api/v1/sessions', this.options.baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.options.apiKey },
        body: JSON.stringify(request),
        signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
      });
    } catch (err) {
      throw new TelApiError(`TelAPI unreachable: ${(err as Error).message}`);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new TelApiError(
        `TelAPI refused the session: HTTP ${response.status} ${text.slice(0, 200)}`,
        response.status,
      );
    }
    const body = (await response.json().catch(() => undefined)) as
      Partial<CreateSessionResponse> | undefined;
    if (!body || typeof body.sessionId !== 'string' || typeof body.wsToken !== 'string') {
      throw new TelApiError('TelAPI answered without sessionId and wsToken');
    }
    return {
      sessionId: body.sessionId,
      wsToken: body.wsToken,
      wsTokenExpiresIn: Number(body.wsTokenExpiresIn ?? 0),
      expiresIn: Number(body.expiresIn ?? 0),
    };
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
