/**
 * The telgate process: loads config/ (or TELGATE_CONFIG / the first argument), starts the
 * gateway and prints where it listens and which numbers to call. SIGHUP or a change to the config
 * folder reloads it (new calls only); SIGTERM/SIGINT stop it cleanly.
 */
import { Gateway } from './call/gateway.js';
import { createLogger } from './ops/logger.js';
import { ConfigWatcher } from './ops/config-watch.js';
import { ConfigError, loadConfig } from './routing/config-load.js';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? process.env.TELGATE_CONFIG ?? 'config';
  const logger = createLogger();
  let gateway: Gateway;
  try {
    gateway = new Gateway(await loadConfig(dir), logger);
    await gateway.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`telgate: invalid config in ${dir}:\n${err.message}\n`);
    } else {
      process.stderr.write(`telgate: cannot start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
  const sip = gateway.engine.listenAddress;
  const lines = [
    `telgate listening for SIP on ${sip.transports.map((t) => `${t}:${sip.host}:${sip.port}`).join(' ')}`,
  ];
  if (gateway.localAgent)
    lines.push(`embedded local agent (TelAPI + /ws/session) on ${gateway.localAgent.url}`);
  for (const ep of gateway.endpointsToCall)
    lines.push(`  call sip:${ep.number}@${sip.host}:${sip.port}  → endpoint ${ep.id}`);
  process.stderr.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    watcher.stop();
    logger.info({ signal }, 'stopping');
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const watcher = new ConfigWatcher({ dir, logger, apply: (c) => gateway.reload(c) });
  watcher.start();
  process.on('SIGHUP', () => watcher.schedule('SIGHUP'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
