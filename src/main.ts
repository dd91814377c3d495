/**
 * The telgate process: loads config/ (or TELGATE_CONFIG / the first argument), starts the
 * gateway and prints where it listens and which numbers to call. SIGHUP or a change to the config
 * folder reloads it (new calls only). SIGTERM drains: new calls get 503 while live ones run to
 * their end (at most drain.maxSeconds), then it exits; a second SIGTERM, or SIGINT, stops at
 * once (live calls get a BYE).
 */
import { Gateway } from './call/gateway.js';
import { createLogger } from './ops/logger.js';
import { ConfigWatcher } from './ops/config-watch.js';
import { OpsServer } from './ops/ops-server.js';
import { ConfigError, loadConfig } from './routing/config-load.js';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? process.env.TELGATE_CONFIG ?? 'config';
  const logger = createLogger();
  let gateway: Gateway;
  let ops: OpsServer | undefined;
  let opsAt = '';
  try {
    const config = await loadConfig(dir);
    gateway = new Gateway(config, logger);
    await gateway.start();
    if (config.ops.enabled) {
      const token = config.ops.tokenEnv ? process.env[config.ops.tokenEnv] : undefined;
      ops = new OpsServer(gateway.opsSource(), { ...config.ops.listen, token });
      const at = await ops.listen().catch(async (err: Error) => {
        await gateway.stop();
        throw new Error(`ops HTTP server: ${err.message}`);
      });
      opsAt = `http://${at.host}:${at.port}`;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`telgate: invalid config in ${dir}:\n${err.message}\n`);
    } else {
      process.stderr.write(`telgate: cannot start: ${(err as Error).message}\n`);
    }
    process.exit(1);
  }
  const sip = gateway.engine.listenAddress;
  const portOf = (t: string) =>
    t === 'tls' ? sip.tlsPort : t === 'ws' || t === 'wss' ? sip.wsPort : sip.port;
  const where = sip.transports.map((t) => `${t}:${sip.host}:${portOf(t)}`).join(' ');
  const lines = [
    gateway.engine.kind === 'drachtio'
      ? `telgate on drachtio-server: SIP on ${where || '(daemon not connected yet)'}`
      : `telgate listening for SIP on ${where}`,
  ];
  if (opsAt) lines.push(`ops HTTP (/healthz /readyz /metrics /calls) on ${opsAt}`);
  if (gateway.localAgent)
    lines.push(`embedded local agent (TelAPI + /ws/session) on ${gateway.localAgent.url}`);
  for (const ep of gateway.endpointsToCall)
    lines.push(`  call sip:${ep.number}@${sip.host}:${sip.port}  → endpoint ${ep.id}`);
  const scheme = sip.transports.includes('wss') ? 'https' : 'http';
  const pagesServed = sip.wsPort && gateway.engine.kind === 'native';
  for (const page of pagesServed ? gateway.callPages : []) {
    lines.push(
      `  open ${scheme}://${sip.host}:${sip.wsPort}/call/${page.slug}  → endpoint ${page.id}`,
    );
  }
  process.stderr.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    watcher.stop();
    logger.info({ signal }, 'stopping');
    Promise.all([gateway.stop(), ops?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  let draining = false;
  const drain = () => {
    if (draining) return stop('SIGTERM (second)');
    draining = true;
    void gateway.drain().then(() => stop('SIGTERM (drained)'));
  };
  const watcher = new ConfigWatcher({ dir, logger, apply: (c) => gateway.reload(c) });
  watcher.start();
  process.on('SIGHUP', () => watcher.schedule('SIGHUP'));
  process.on('SIGTERM', drain);
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
