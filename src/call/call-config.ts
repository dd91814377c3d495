/**
 * The parts of a Call's dependencies that come straight from the running config, built the same
 * way whether the call runs on the main thread or in a call worker.
 */
import type { LinkEvents } from '../link/link-session.js';
import { LinkSession } from '../link/link-session.js';
import { createDialect } from '../link/dialects/index.js';
import type { DialectName } from '../link/dialects/dialect.js';
import type { TelApiClient } from '../link/telapi-client.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { Logger } from 'pino';
import type { MediaClock } from '../media/media-clock.js';
import type { PortPool } from '../media/port-pool.js';
import type { OutgoingCall, OutgoingInviteRequest } from '../sip/engine.js';
import type { CallDeps } from './call.js';

/** The media settings of `config.media` a call reads. */
export function mediaDepsOf(
  media: TelgateConfig['media'],
): Pick<
  CallDeps,
  | 'mediaAddress'
  | 'strictSource'
  | 'playoutMaxSeconds'
  | 'jitterMinMs'
  | 'jitterMaxMs'
  | 'playoutDelayMs'
  | 'comfortNoise'
> {
  return {
    mediaAddress: media.advertisedHost ?? media.host,
    strictSource: media.strictSource,
    playoutMaxSeconds: media.playoutMaxSeconds,
    jitterMinMs: media.jitterMinMs,
    jitterMaxMs: media.jitterMaxMs,
    playoutDelayMs: media.playoutDelayMs,
    comfortNoise: media.comfortNoise,
  };
}

/** A call's `openLink`: its endpoint's dialect, with the link and TelAPI timeouts of `config`. */
export function linkOpener(
  telapi: TelApiClient,
  config: TelgateConfig,
  dialect: { name: DialectName; url: string | undefined },
): CallDeps['openLink'] {
  return (events: LinkEvents, bytesPerMs: number) =>
    new LinkSession(telapi, events, {
      ...createDialect(dialect.name),
      url: dialect.url,
      connectTimeoutMs: config.telapi.timeoutMs,
      resumeWindowMs: config.link.resumeWindowMs,
      holdAudioBytes: config.link.holdAudioMs * bytesPerMs,
      bytesPerMs,
    });
}

/** Where a call runs: its thread's clock, ports and SIP engine, the TelAPI client, the config. */
export interface CallPlace {
  clock: MediaClock;
  ports: PortPool;
  logger: Logger;
  telapi: TelApiClient;
  config: TelgateConfig;
  placeCall(request: OutgoingInviteRequest): OutgoingCall;
  findDevice: CallDeps['findDevice'];
}

/** What a call is given apart from its callbacks and egress, built the same way everywhere. */
export type CallBasics = Omit<
  CallDeps,
  'onAnswered' | 'onTransferred' | 'egress' | 'identity' | 'dialed'
>;

/** A call's basics from where it runs and its own settings. */
export function callBasics(
  place: CallPlace,
  call: {
    linkFormat: CallDeps['linkFormat'];
    trace: CallDeps['trace'];
    calls: CallDeps['calls'];
    dialect: { name: DialectName; url: string | undefined };
  },
): CallBasics {
  return {
    clock: place.clock,
    ports: place.ports,
    ...mediaDepsOf(place.config.media),
    linkFormat: call.linkFormat,
    logger: place.logger,
    trace: call.trace,
    placeCall: place.placeCall,
    findDevice: place.findDevice,
    calls: call.calls,
    openLink: linkOpener(place.telapi, place.config, call.dialect),
  };
}
