/**
 * The echo agent in a process of its own (the embedded local agent's class, from dist/), so its
 * CPU is not telgate's, and the config of a telgate that sends every call to it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Starts the agent on `port` (API key `bench`); resolves once it listens, with its kill. */
export async function startEchoAgent(port: number): Promise<() => void> {
  const server = path.join(here, '..', 'dist', 'link', 'local-agent', 'server.js');
  const code = `const { LocalAgent } = await import(${JSON.stringify(server)});
    const agent = new LocalAgent({ host: '127.0.0.1', port: ${port}, apiKey: 'bench',
      behaviours: { echo: { kind: 'echo' } } });
    await agent.listen(); console.log('READY');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return () => child.kill('SIGKILL');
}

/**
 * The parts of a bench config that route +15550100100 (PCMU, `slin` link) to the agent on
 * `agentPort`; the key comes from BENCH_KEY.
 */
export function echoAgentConfig(agentPort: number) {
  return {
    telapi: { url: `http://127.0.0.1:${agentPort}`, apiKeyEnv: 'BENCH_KEY' },
    localAgent: { enabled: false },
    baseNumbers: [{ number: '+15550100', extensions: true }],
    endpoints: [
      {
        id: 'echo',
        baseNumber: '+15550100',
        extension: '100',
        flow: { id: 'bench', publishedVersion: 1 },
        codecs: ['PCMU'],
        audio: { linkFormat: 'slin' },
      },
    ],
  };
}
