/**
 * A call worker's provider calls: each a StreamCall on the worker's media clock, its stream's
 * socket on the main thread (worker-protocol.ts StreamStart). The caller's audio arrives
 * decoded; the caller's audio, clears and marks go back raw for the main thread to put in the
 * provider's messages. Ending the call at the provider is the main thread's (it holds the
 * provider's REST client and the socket): it does so when it hears how the call closed.
 */
import type { Logger } from 'pino';
import type { TelApiClient } from '../link/telapi-client.js';
import type { MediaClock } from '../media/media-clock.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import { linkOpener } from './call-config.js';
import type { CallOutcome } from './call.js';
import type { EndCause } from './failure.js';
import { StreamCall } from './stream-call.js';
import type { Rpc } from './worker-rpc.js';
import {
  callAnswered,
  callClosed,
  type StreamIn,
  type StreamOut,
  type StreamStart,
  type WorkerCounts,
} from './worker-protocol.js';

export interface WorkerStreamDeps {
  rpc: Rpc;
  clock: MediaClock;
  logger: Logger;
  telapi: TelApiClient;
  config(): TelgateConfig;
  /** The worker's calls, SIP and provider alike, by call id. */
  calls: Map<string, { end(cause: EndCause, detail?: string): Promise<void> }>;
  counts(): WorkerCounts;
}

/** Serves the provider calls the main thread hands this worker. */
export function serveStreamCalls(deps: WorkerStreamDeps): void {
  const { rpc, calls } = deps;
  const streams = new Map<string, StreamCall>();
  const out = (message: StreamOut) => rpc.notify('stream.out', message);

  rpc.handle('stream.start', (start: StreamStart) => {
    const { callId } = start;
    const config = deps.config();
    const call = new StreamCall(
      start.facts,
      {
        // A copy of the chunk the leg reuses, in its own small buffer (a clone of a view would
        // carry the whole buffer under it).
        sendAudio: (audio) => out({ callId, kind: 'audio', audio: new Uint8Array(audio) }),
        clear: () => out({ callId, kind: 'clear' }),
        mark: (name) => out({ callId, kind: 'mark', name }),
      },
      {
        clock: deps.clock,
        linkFormat: start.linkFormat,
        playoutMaxSeconds: config.media.playoutMaxSeconds,
        playoutDelayMs: config.media.playoutDelayMs,
        calls: start.calls,
        logger: deps.logger,
        openLink: linkOpener(deps.telapi, config, start.dialect),
        // The main thread ends the call at the provider when it hears how the call closed.
        hangUp: async () => undefined,
        closeStream: () => undefined,
        onAnswered: (c) => rpc.notify('call.answered', callAnswered(c)),
      },
      (c: StreamCall, outcome: CallOutcome) => {
        streams.delete(callId);
        calls.delete(callId);
        rpc.notify('call.closed', callClosed(c, outcome, deps.counts()));
      },
    );
    streams.set(callId, call);
    calls.set(callId, call);
    void call.start();
  });

  rpc.handle('stream.in', (message: StreamIn) => {
    const call = streams.get(message.callId);
    if (!call) return;
    if (message.kind === 'audio') {
      const { audio } = message;
      call.onAudio(Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
    } else if (message.kind === 'digit') call.onDigit(message.digit);
    else if (message.kind === 'mark') call.onMark(message.name);
    else call.onStreamEnd();
  });
}
