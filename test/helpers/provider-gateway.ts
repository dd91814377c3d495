/**
 * A telgate for the provider tests: the test config with named agents and `telephony`, started
 * with the providers' secrets in its environment, what its calls ended with, and what the
 * embedded agent was told.
 */
import { once } from 'node:events';
import path from 'node:path';
import { startGateway, testConfig, type TestGateway } from './gateway.js';
import { tempDir } from './temp-dirs.js';
import { PUBLIC_BASE } from './twilio-peer.js';
import type { CallOutcome } from '../../src/call/call.js';

export interface ProviderGateway {
  tg: TestGateway;
  /** The provider server's port. */
  port: number;
  outcomes: Map<string, CallOutcome>;
  agentHeard: Array<Record<string, unknown>>;
  /** The first message telgate sent the agent that `match` accepts, waiting for it. */
  agentGot(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

export async function startProviderGateway(
  mediaPortMin: number,
  providers: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  patch: (raw: Record<string, unknown>) => void = () => {},
): Promise<ProviderGateway> {
  const settingsFile = path.join(await tempDir(), 'telephony-settings.json');
  const config = testConfig(mediaPortMin, (raw) => {
    raw.agents = [{ name: 'echo' }, { name: 'tone' }, { name: 'hangup' }, { name: 'barge' }];
    raw.telephony = {
      publicBaseUrl: PUBLIC_BASE,
      listen: { host: '127.0.0.1', port: 0 },
      settingsFile,
      ...providers,
    };
    patch(raw);
  });
  const tg = await startGateway(config, { TELGATE_API_KEYS: API_KEY, ...env });
  const outcomes = new Map<string, CallOutcome>();
  const agentHeard: Array<Record<string, unknown>> = [];
  tg.gateway.events.on('closed', (callId, outcome) => outcomes.set(callId, outcome));
  const agent = tg.gateway.localAgent!;
  agent.on('message', (_id: string, m: Record<string, unknown>) => agentHeard.push(m));
  return {
    tg,
    port: tg.gateway.providerAddress!.port,
    outcomes,
    agentHeard,
    async agentGot(match) {
      const signal = AbortSignal.timeout(5000);
      for (;;) {
        const found = agentHeard.find(match);
        if (found) return found;
        await once(agent, 'message', { signal });
      }
    },
  };
}

/** The settings API key the provider gateways accept. */
export const API_KEY = 'settings-key';

/** A JSON object, or a list of them (indexable either way in the tests). */
export type ApiBody = Record<string, unknown> & Record<number, Record<string, unknown>>;

/** A request to the settings API (or /api/calls) on the provider server at `port`. */
export async function settingsApi(
  port: number,
  method: string,
  url: string,
  body?: unknown,
  key = API_KEY,
): Promise<{ status: number; body: ApiBody | undefined }> {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as ApiBody) : undefined };
}
