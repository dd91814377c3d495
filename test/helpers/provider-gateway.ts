/**
 * A telgate for the provider tests: the test config with named agents and `telephony`, started
 * with the providers' secrets in its environment, what its calls ended with, and what the
 * embedded agent was told.
 */
import { once } from 'node:events';
import { startGateway, testConfig, type TestGateway } from './gateway.js';
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
  const config = testConfig(mediaPortMin, (raw) => {
    raw.agents = [{ name: 'echo' }, { name: 'hangup' }, { name: 'barge' }];
    raw.telephony = {
      publicBaseUrl: PUBLIC_BASE,
      listen: { host: '127.0.0.1', port: 0 },
      ...providers,
    };
    patch(raw);
  });
  const tg = await startGateway(config, env);
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
