/**
 * Builds the SIP engine the config (or TELGATE_SIP_ENGINE) names: telgate's own stack on its
 * listen address, or a drachtio-srf application of a drachtio-server (DRACHTIO_HOST,
 * DRACHTIO_PORT and DRACHTIO_SECRET override `sip.drachtio`, as jambonz names them).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { Rejection, SipEngine } from '../sip/engine.js';
import { DrachtioSipEngine, type DrachtioEngineOptions } from '../sip/engine-drachtio.js';
import { NativeSipEngine } from '../sip/engine-native.js';
import type { TlsSettings } from '../sip/transport-tcp.js';
import type { WsListen } from '../sip/transport-ws.js';

export interface EngineHooks {
  draining: () => boolean;
  optionsRefusal: () => Rejection | undefined;
  /** The call page and other plain HTTP on the SIP WebSocket port (native engine only). */
  onHttp: NonNullable<WsListen['onHttp']>;
  /** The drachtio engine's admin connection came up or went. */
  onReadyChange: (ready: boolean, detail: string) => void;
}

export type EngineName = TelgateConfig['sip']['engine'];

export function engineName(config: TelgateConfig, env: NodeJS.ProcessEnv): EngineName {
  const chosen = env.TELGATE_SIP_ENGINE?.trim();
  if (!chosen) return config.sip.engine;
  if (chosen !== 'native' && chosen !== 'drachtio') {
    throw new Error(`TELGATE_SIP_ENGINE=${chosen}: expected native or drachtio`);
  }
  return chosen;
}

export function createSipEngine(
  config: TelgateConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  hooks: EngineHooks,
): SipEngine {
  if (engineName(config, env) === 'drachtio') {
    const own = (['tls', 'websocket'] as const).filter((key) => config.sip[key]);
    if (own.length) {
      logger.warn(
        { ignored: own.map((key) => `sip.${key}`) },
        "with the drachtio engine SIP transports are drachtio-server's: configure its contacts",
      );
    }
    return new DrachtioSipEngine({
      ...drachtioSettings(config, env),
      t1: config.sip.timers.t1,
      draining: hooks.draining,
      optionsRefusal: hooks.optionsRefusal,
      onConnection: (up, detail) => {
        if (up) logger.info(detail);
        else logger.error(`${detail}: no calls can come in or go out until it is back`);
        hooks.onReadyChange(up, detail);
      },
    });
  }
  const sip = config.sip;
  const tls = tlsListen(sip.tls);
  const websocket = sip.websocket;
  return new NativeSipEngine({
    host: sip.listen.host,
    port: sip.listen.port,
    advertisedHost: sip.advertisedHost,
    transports: sip.transports,
    tls,
    ...(websocket && {
      websocket: {
        port: websocket.port,
        ...(websocket.secure && tls && { tls: tls.settings }),
        onHttp: hooks.onHttp,
      },
    }),
    tcp: sip.tcp,
    timers: sip.timers,
    userAgent: 'telgate',
    draining: hooks.draining,
    optionsRefusal: hooks.optionsRefusal,
    onProtocolError: (problem, peer) => logger.warn({ problem, peer }, 'SIP message refused'),
  });
}

function drachtioSettings(
  config: TelgateConfig,
  env: NodeJS.ProcessEnv,
): Pick<DrachtioEngineOptions, 'host' | 'port' | 'secret' | 'tls'> {
  const settings = config.sip.drachtio;
  const port = env.DRACHTIO_PORT ? Number(env.DRACHTIO_PORT) : settings.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`DRACHTIO_PORT=${env.DRACHTIO_PORT}: expected a port number`);
  }
  const secret = env.DRACHTIO_SECRET || settings.secret;
  if (!secret) {
    throw new Error('the drachtio engine needs the admin secret: set DRACHTIO_SECRET');
  }
  const tls = settings.tls && {
    rejectUnauthorized: settings.tls.rejectUnauthorized,
    ...(settings.tls.caFile && {
      ca: readConfigFile(settings.tls.caFile, 'sip.drachtio.tls.caFile').toString(),
    }),
  };
  return { host: env.DRACHTIO_HOST || settings.host, port, secret, ...(tls && { tls }) };
}

/** A file the config names, with the config path in the error when it cannot be read. */
function readConfigFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function tlsListen(
  tls: TelgateConfig['sip']['tls'],
): { port: number; settings: TlsSettings } | undefined {
  if (!tls) return undefined;
  return {
    port: tls.port,
    settings: {
      cert: readConfigFile(tls.certFile, 'sip.tls.certFile'),
      key: readConfigFile(tls.keyFile, 'sip.tls.keyFile'),
      ca: tls.caFile ? readConfigFile(tls.caFile, 'sip.tls.caFile') : undefined,
      requireClientCert: tls.requireClientCert,
      verifyServers: tls.verifyServers,
    },
  };
}
