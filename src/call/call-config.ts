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
