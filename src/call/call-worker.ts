/**
 * A call worker thread: runs the calls the main thread admitted, each a whole Call (its control,
 * caller leg and agent side) on this thread's own media clock, RTP ports and agent WebSockets.
 * SIP stays on the main thread: the calls reach it through engine-remote.ts. Provider calls
 * (call-worker-streams.ts) run here too, their streams' sockets on the main thread. Each second the
 * worker reports its load (clock lateness, event loop utilization) so the main thread can stop
 * giving it calls before their audio suffers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { TelApiClient } from '../link/telapi-client.js';
import { realtimeForMedia } from '../media/realtime-scheduling.js';
import { MediaClock } from '../media/media-clock.js';
import { PortPool } from '../media/port-pool.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import { Call, type CallOutcome } from './call.js';
import { callBasics, type CallPlace } from './call-config.js';
import { serveStreamCalls } from './call-worker-streams.js';
import { RemoteEngine } from './engine-remote.js';
import { PlacedSipCall } from './placed-sip-call.js';
import { utilizationMeter } from './overload.js';
import type { DeviceTarget, EgressRoute } from './transfer.js';
import { Rpc } from './worker-rpc.js';
import {
  callAnswered,
  callClosed,
  type CallStart,
  type PlacedStart,
  type CallTransferred,
  type WorkerCounts,
  type WorkerInit,
  type WorkerLoad,
} from './worker-protocol.js';
import type { EndCause } from './failure.js';

/** How long stop() waits for the calls' BYEs before it closes the worker anyway. */
const STOP_BYE_WAIT_MS = 2000;

const init = workerData as WorkerInit;
const rpc = new Rpc(parentPort!);
const logger = pino({ level: init.logLevel }, { write: (line: string) => rpc.notify('log', line) });
let config: TelgateConfig = init.config;
realtimeForMedia(config.media.realtimePriority, `call worker ${init.index}`, logger);
const clock = new MediaClock(20);
const ports = new PortPool(init.config.media.host, init.portMin, init.portMax);
const engine = new RemoteEngine(rpc);
const telapi = new TelApiClient({
  baseUrl: config.telapi.url ?? init.localAgentUrl ?? '',
  apiKey: init.apiKey,
  timeoutMs: config.telapi.timeoutMs,
});
/** The worker's calls, SIP (Call) and provider (StreamCall) alike. */
const calls = new Map<string, { end(cause: EndCause, detail?: string): Promise<void> }>();
const utilization = utilizationMeter();

function counts(): WorkerCounts {
  return {
    calls: calls.size,
    clockSubscribers: clock.size,
    ports: { available: ports.available, size: ports.size },
  };
}

function load(clockLoad = { wakeUps: 0, medianLateMs: 0, maxLateMs: 0 }): WorkerLoad {
  return { ...clockLoad, utilization: utilization(), ...counts() };
}
clock.onLoad = (clockLoad) => rpc.notify('load', load(clockLoad));

rpc.handle('config', (next: TelgateConfig) => {
  config = next;
});

/** This worker as the place its calls run. */
function place(): CallPlace {
  return {
    clock,
    ports,
    logger,
    telapi,
    config,
    placeCall: (request) => engine.place(request),
    findDevice: async (target) =>
      (await rpc.request<DeviceTarget | null>('device.find', target).catch(() => null)) ??
      undefined,
  };
}

serveStreamCalls({ rpc, clock, logger, telapi, config: () => config, calls, counts });

rpc.handle('call.start', (start: CallStart) => {
  const invite = engine.invite(start);
  const call = new Call(
    invite,
    start.endpoint,
    {
      ...callBasics(place(), start),
      onAnswered: (c) => rpc.notify('call.answered', callAnswered(c)),
      onTransferred: (c, target, mode, sipStatus) =>
        rpc.notify('call.transferred', {
          callId: c.callId,
          target,
          mode,
          sipStatus,
        } satisfies CallTransferred),
      egress: start.egress && egressOf(start.egress, start.invite.callId),
      identity: start.identity,
      dialed: start.dialed,
    },
    (c: Call, outcome: CallOutcome) => {
      calls.delete(c.callId);
      rpc.notify('call.closed', callClosed(c, outcome, counts()));
    },
  );
  calls.set(start.invite.callId, call);
  void call.start();
});

rpc.handle('placed.start', (start: PlacedStart) => {
  const call = new PlacedSipCall(
    {
      callId: start.callId,
      to: start.to,
      endpoint: start.endpoint,
      egress: egressOf(start.egress, start.callId),
      ringTimeoutMs: start.ringTimeoutMs,
    },
    {
      ...callBasics(place(), start),
      onAnswered: (c) => rpc.notify('call.answered', callAnswered(c)),
    },
    (c, outcome) => {
      calls.delete(c.callId);
      rpc.notify('call.closed', callClosed(c, outcome, counts()));
    },
  );
  calls.set(start.callId, call);
  void call.start();
});

rpc.handle(
  'call.end',
  ({ callId, cause, detail }: { callId: string; cause: EndCause; detail?: string }) =>
    calls.get(callId)?.end(cause, detail),
);

rpc.handle('stop', async () => {
  const byes = Promise.allSettled([...calls.values()].map((call) => call.end('shutdown')));
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([byes, new Promise((r) => (bound = setTimeout(r, STOP_BYE_WAIT_MS)))]);
  clearTimeout(bound);
  return load();
});

/** The egress route, its slots taken on the main thread (where the shared state is). */
function egressOf(route: Omit<EgressRoute, 'acquireSlot'>, callId: string): EgressRoute {
  return {
    ...route,
    acquireSlot: async () => {
      const slot = await rpc.request<string | null>('egress.acquire', callId).catch(() => null);
      return slot === null ? undefined : { release: () => rpc.notify('egress.release', slot) };
    },
  };
}

rpc.notify('ready', load());
