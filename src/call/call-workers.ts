/**
 * The call workers of one telgate process (media.workers): each a thread with its own share of
 * the media port range, its own media clock and its own calls (call-worker.ts). The main thread
 * keeps SIP, routing, admission, shared state and ops, and hands each admitted INVITE to the
 * worker with the fewest calls among those keeping up; when none keeps up the call is refused as
 * an overload. Provider calls run in the workers too: their stream's socket stays here, what it
 * says relayed to the worker and back. A worker that dies takes its calls with it: they get a BYE
 * (or a 500), provider calls a hang-up at the provider, all close with `worker-failed`, and a new
 * worker takes its place.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import pino from 'pino';
import type { CallQuality } from '../link/protocol.js';
import type { TelgateConfig } from '../routing/config-schema.js';
import type { IncomingInvite, SipEngine } from '../sip/engine.js';
import type { CallOutcome } from './call.js';
import { NO_QUALITY } from './caller-leg.js';
import { EngineHost } from './engine-host.js';
import { byeReason, rejectionFor, type EndCause } from './failure.js';
import type { LiveCall } from './live-call.js';
import type { DeviceTarget, EgressRoute } from './transfer.js';
import { Rpc } from './worker-rpc.js';
import type {
  CallAnswered,
  CallClosed,
  CallStart,
  CallTransferred,
  PlacedStart,
  StreamIn,
  StreamOut,
  StreamStart,
  WorkerInit,
  WorkerLoad,
} from './worker-protocol.js';
import type { StreamWire } from './caller-leg-stream.js';
import type { StreamCallHandle } from './provider-server.js';
import type { TransferMode } from '../link/protocol.js';

export interface CallCallbacks {
  onAnswered(call: LiveCall): void;
  onTransferred(call: LiveCall, target: string, mode: TransferMode, sipStatus?: number): void;
  onClosed(call: LiveCall, outcome: CallOutcome): void;
}

export interface CallWorkersOptions {
  count: number;
  config: TelgateConfig;
  env: Record<string, string | undefined>;
  apiKey: string;
  localAgentUrl: string | undefined;
  engine: SipEngine;
  logger: Logger;
  /** Each worker's second, for the overload guard. */
  onLoad(loads: WorkerLoad[]): void;
  /** A transfer target that is a registered device (the registrar and its bindings are here). */
  findDevice(target: string): Promise<DeviceTarget | undefined>;
}

/** A call running in a worker, as the main thread sees it. */
class WorkerCall implements LiveCall {
  sessionId: string | undefined;
  mediaPort: number | undefined;
  audio: { codec: string; linkFormat: string } | undefined;
  linkResumes = 0;
  answeredAt = 0;
  private lastQuality: CallQuality = NO_QUALITY;

  constructor(
    readonly callId: string,
    protected readonly worker: CallWorker,
    readonly egress: EgressRoute | undefined,
    readonly callbacks: CallCallbacks,
  ) {}

  quality(): CallQuality {
    return this.lastQuality;
  }

  end(cause: EndCause, detail?: string): Promise<void> {
    return this.worker.rpc
      .request<void>('call.end', { callId: this.callId, cause, detail })
      .catch(() => undefined);
  }

  answered(facts: CallAnswered): void {
    Object.assign(this, {
      sessionId: facts.sessionId,
      mediaPort: facts.mediaPort,
      audio: facts.audio,
      answeredAt: facts.answeredAt,
    });
  }

  closed(facts: CallClosed): void {
    this.lastQuality = facts.quality;
    this.linkResumes = facts.linkResumes;
    this.sessionId = facts.sessionId;
  }

  /** Its worker died: what the call holds outside the worker is let go. */
  abandoned(): void {}
}

/** What a provider call in a worker needs of its stream, which stays on the main thread. */
export interface StreamEnds {
  wire: StreamWire;
  /** Ends the call at the provider. */
  hangUp(): Promise<void>;
  closeStream(): void;
}

/**
 * A provider call running in a worker, as the main thread sees it: what its stream says goes to
 * the worker, what the worker's call says goes to the stream.
 */
class WorkerStreamCall extends WorkerCall implements StreamCallHandle {
  constructor(
    callId: string,
    worker: CallWorker,
    callbacks: CallCallbacks,
    readonly stream: StreamEnds,
  ) {
    super(callId, worker, undefined, callbacks);
  }

  private relay(message: StreamIn): void {
    this.worker.rpc.notify('stream.in', message);
  }

  onAudio(audio: Buffer): void {
    // Its own small buffer: a decoded payload may be a view on a shared pool.
    this.relay({ callId: this.callId, kind: 'audio', audio: new Uint8Array(audio) });
  }

  onDigit(digit: string): void {
    this.relay({ callId: this.callId, kind: 'digit', digit });
  }

  onMark(name: string): void {
    this.relay({ callId: this.callId, kind: 'mark', name });
  }

  onStreamEnd(): void {
    this.relay({ callId: this.callId, kind: 'end' });
  }

  /** What the worker's call said to its stream. */
  out(message: StreamOut): void {
    const { wire } = this.stream;
    if (message.kind === 'audio') {
      const { audio } = message;
      wire.sendAudio(Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
    } else if (message.kind === 'clear') wire.clear();
    else wire.mark(message.name);
  }

  /**
   * The call closed: unless the caller hung up (the provider ended the stream), the call ends at
   * the provider and its stream closes, as a StreamCall on the main thread does it.
   */
  override closed(facts: CallClosed): void {
    super.closed(facts);
    const outcome = facts.outcome;
    if ('ended' in outcome && outcome.ended === 'caller-hangup') return;
    this.abandoned();
  }

  override abandoned(): void {
    this.stream
      .hangUp()
      .catch((err: Error) =>
        this.worker.logger.warn(
          { callId: this.callId, err: err.message },
          'hang-up at the provider failed',
        ),
      )
      .finally(() => this.stream.closeStream());
  }
}

/** One worker thread and the main thread's view of it. */
class CallWorker {
  readonly rpc: Rpc;
  readonly host: EngineHost;
  readonly calls = new Map<string, WorkerCall>();
  private readonly slots = new Map<string, { release(): void }>();
  private nextSlot = 1;
  load: WorkerLoad;
  readonly ready: Promise<void>;
  /** It said it was ready (and has not exited). */
  running = false;
  exited = false;

  constructor(
    readonly thread: Worker,
    engine: SipEngine,
    readonly logger: Logger,
    findDevice: CallWorkersOptions['findDevice'],
  ) {
    this.rpc = new Rpc(thread);
    this.host = new EngineHost(this.rpc, engine);
    this.load = {
      wakeUps: 0,
      medianLateMs: 0,
      maxLateMs: 0,
      utilization: 0,
      calls: 0,
      clockSubscribers: 0,
      ports: { available: 0, size: 0 },
    };
    const rpc = this.rpc;
    const stream = (logger as unknown as Record<symbol, { write(line: string): void }>)[
      pino.symbols.streamSym
    ];
    rpc.handle('log', (line: string) => stream.write(line));
    this.ready = new Promise((resolve, reject) => {
      rpc.handle('ready', (load: WorkerLoad) => {
        this.load = counted(load);
        this.running = true;
        resolve();
      });
      thread.once('exit', (code) => reject(new Error(`call worker exited with code ${code}`)));
    });
    rpc.handle('load', (load: WorkerLoad) => (this.load = counted(load)));
    rpc.handle('call.answered', (facts: CallAnswered) => {
      const call = this.calls.get(facts.callId);
      call?.answered(facts);
      if (call) call.callbacks.onAnswered(call);
    });
    rpc.handle('call.transferred', (facts: CallTransferred) => {
      const call = this.calls.get(facts.callId);
      call?.callbacks.onTransferred(call, facts.target, facts.mode, facts.sipStatus);
    });
    rpc.handle('call.closed', (facts: CallClosed) => {
      const call = this.calls.get(facts.callId);
      if (!call) return;
      this.calls.delete(facts.callId);
      this.load = { ...this.load, ...facts.counts };
      call.closed(facts);
      call.callbacks.onClosed(call, facts.outcome);
    });
    rpc.handle('stream.out', (message: StreamOut) => {
      const call = this.calls.get(message.callId);
      if (call instanceof WorkerStreamCall) call.out(message);
    });
    rpc.handle('device.find', (target: string) => findDevice(target).then((d) => d ?? null));
    rpc.handle('egress.acquire', async (callId: string) => {
      const slot = await this.calls.get(callId)?.egress?.acquireSlot();
      if (!slot) return null;
      const id = String(this.nextSlot++);
      this.slots.set(id, slot);
      return id;
    });
    rpc.handle('egress.release', (id: string) => {
      this.slots.get(id)?.release();
      this.slots.delete(id);
    });
  }

  /** Stopped on purpose: its exit is not a failure. */
  stopped(): void {
    this.exited = true;
    this.rpc.close('stopped');
  }

  /** The worker died: its calls end here, their dialogs with a BYE. */
  failed(err: unknown): void {
    if (this.exited) return;
    this.exited = true;
    this.running = false;
    this.rpc.close('worker exited');
    this.logger.error({ err, calls: this.calls.size }, 'call worker failed: its calls end');
    void this.host.abandon(
      rejectionFor('internal', 'call worker failed'),
      byeReason('worker-failed'),
    );
    for (const slot of this.slots.values()) slot.release();
    this.slots.clear();
    for (const call of this.calls.values()) {
      // Unanswered calls got the 500 (abandon() above); answered ones the BYE.
      const outcome: CallOutcome = call.answeredAt
        ? { ended: 'worker-failed', reason: byeReason('worker-failed') }
        : { refused: 'internal', status: 500 };
      call.abandoned();
      call.callbacks.onClosed(call, outcome);
    }
    this.calls.clear();
  }
}

/**
 * A worker's second as the overload guard and the worker choice judge it: a worker whose clock
 * is idle (no calls, or starting up) has no audio to spoil, so its utilization does not count.
 */
function counted(load: WorkerLoad): WorkerLoad {
  return load.wakeUps > 0 ? load : { ...load, utilization: 0 };
}

function counts(load: WorkerLoad): Pick<WorkerLoad, 'calls' | 'clockSubscribers' | 'ports'> {
  return { calls: load.calls, clockSubscribers: load.clockSubscribers, ports: load.ports };
}

/** What the choice of a worker for a new call looks at. */
export interface WorkerChoice {
  alive: boolean;
  calls: number;
  /** The worker's event loop utilization in its last second. */
  utilization: number;
}

/**
 * The worker for a new call: the fewest calls among those keeping up (under `maxUtilization`
 * in their last second), else the fewest calls among all alive. A second above the limit is
 * not an overload by itself (a cold start's compilation, a collection, a burst of set-ups):
 * refusing is the overload guard's, which wants two seconds in a row of the busiest thread
 * (overload.ts). Undefined only when no worker is alive.
 */
export function pickWorker(workers: WorkerChoice[], maxUtilization: number): number | undefined {
  let best: number | undefined;
  let bestKeepingUp: number | undefined;
  workers.forEach((worker, index) => {
    if (!worker.alive) return;
    if (best === undefined || worker.calls < workers[best].calls) best = index;
    const keepingUp = maxUtilization <= 0 || worker.utilization < maxUtilization;
    if (keepingUp && (bestKeepingUp === undefined || worker.calls < workers[bestKeepingUp].calls))
      bestKeepingUp = index;
  });
  return bestKeepingUp ?? best;
}

export class CallWorkers {
  private readonly workers: CallWorker[] = [];
  private config: TelgateConfig;
  private stopping = false;
  private beat: NodeJS.Timeout | undefined;

  constructor(private readonly options: CallWorkersOptions) {
    this.config = options.config;
  }

  async start(): Promise<void> {
    for (let index = 0; index < this.options.count; index++) this.workers.push(this.spawn(index));
    await Promise.all(this.workers.map((worker) => worker.ready));
    // The overload guard's beat: the workers' latest seconds, judged together once a second.
    this.beat = setInterval(() => this.options.onLoad(this.loads), 1000);
    this.beat.unref();
  }

  /** New config for new calls (live calls keep theirs). */
  reload(config: TelgateConfig): void {
    this.config = config;
    for (const worker of this.workers) worker.rpc.notify('config', config);
  }

  /** The worker that takes the next call (pickWorker); undefined when every worker is gone. */
  pick(maxUtilization: number): number | undefined {
    return pickWorker(
      this.workers.map((w) => ({
        alive: !w.exited,
        calls: w.calls.size,
        utilization: w.load.utilization,
      })),
      maxUtilization,
    );
  }

  place(
    index: number,
    invite: IncomingInvite,
    start: Omit<CallStart, 'inviteId' | 'invite'>,
    egress: EgressRoute | undefined,
    callbacks: CallCallbacks,
  ): LiveCall {
    const worker = this.workers[index];
    const call = new WorkerCall(invite.callId, worker, egress, callbacks);
    worker.calls.set(invite.callId, call);
    const inviteId = worker.host.adopt(invite);
    const { callId, requestUri, from, to, source, sdp } = invite;
    worker.rpc.notify('call.start', {
      ...start,
      inviteId,
      invite: { callId, requestUri, from, to, source, sdp },
    } satisfies CallStart);
    return call;
  }

  /** Places a call through an endpoint's egress trunk from worker `index`. */
  placeSip(
    index: number,
    start: PlacedStart,
    egress: EgressRoute,
    callbacks: CallCallbacks,
  ): LiveCall {
    const worker = this.workers[index];
    const call = new WorkerCall(start.callId, worker, egress, callbacks);
    worker.calls.set(start.callId, call);
    worker.rpc.notify('placed.start', start);
    return call;
  }

  /** Runs a provider call whose stream has begun in worker `index`. */
  placeStream(
    index: number,
    start: StreamStart,
    stream: StreamEnds,
    callbacks: CallCallbacks,
  ): LiveCall & StreamCallHandle {
    const worker = this.workers[index];
    const call = new WorkerStreamCall(start.callId, worker, callbacks, stream);
    worker.calls.set(start.callId, call);
    worker.rpc.notify('stream.start', start);
    return call;
  }

  /** Each worker's live calls and its event loop's utilization in its last second. */
  summary(): Array<{ calls: number; utilization: number }> {
    return this.workers.map((w) => ({ calls: w.calls.size, utilization: w.load.utilization }));
  }

  /** The threads, in worker order. */
  get threads(): Worker[] {
    return this.workers.map((worker) => worker.thread);
  }

  get loads(): WorkerLoad[] {
    return this.workers.map((worker) => worker.load);
  }

  /** Ports and clock subscribers over all workers. */
  totals(): { ports: { available: number; size: number }; clockSubscribers: number } {
    const totals = { ports: { available: 0, size: 0 }, clockSubscribers: 0 };
    for (const { load } of this.workers) {
      totals.ports.available += load.ports.available;
      totals.ports.size += load.ports.size;
      totals.clockSubscribers += load.clockSubscribers;
    }
    return totals;
  }

  /** Ends every call (BYE), then the threads. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.beat);
    await Promise.all(
      this.workers.map(async (worker) => {
        if (worker.exited) return;
        const load = await worker.rpc.request<WorkerLoad>('stop', null).catch(() => undefined);
        if (load) worker.load = { ...worker.load, ...counts(load) };
        worker.stopped();
        await worker.thread.terminate();
      }),
    );
  }

  private spawn(index: number): CallWorker {
    const { config, count } = { config: this.config, count: this.options.count };
    const range = shareOf(config.media.portMin, config.media.portMax, index, count);
    const init: WorkerInit = {
      index,
      config,
      env: this.options.env,
      apiKey: this.options.apiKey,
      localAgentUrl: this.options.localAgentUrl,
      portMin: range.min,
      portMax: range.max,
      logLevel: this.options.logger.level,
    };
    const thread = startThread(init, this.options.env);
    const worker = new CallWorker(
      thread,
      this.options.engine,
      this.options.logger,
      this.options.findDevice,
    );
    thread.on('error', (err) => worker.failed(err));
    thread.on('exit', (code) => {
      const wasRunning = worker.running;
      worker.failed(new Error(`exited with code ${code}`));
      // One that never started (a broken install) fails start() instead of looping here.
      if (wasRunning && !this.stopping) this.workers[index] = this.spawn(index);
    });
    return worker;
  }
}

/**
 * A small young generation: a worker's garbage is per-packet buffers and records that die
 * young, and V8 otherwise grows the young generation to tens of MB under that allocation rate,
 * each MB of it also holding native memory behind the buffers it keeps alive. Measured with
 * bench-floor at 200 calls: 0.85 MB of resident memory per call with V8's default, 0.38 MB with
 * 3 MB (1 MB gave the same), for no CPU difference beyond the run's noise.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 3 };

/**
 * The worker thread. Built, it runs call-worker.js; from the TypeScript sources (tests, `npm run
 * dev`) it registers tsx's loader first, as a worker does not inherit the parent's loader.
 */
function startThread(init: WorkerInit, env: Record<string, string | undefined>): Worker {
  const entry = new URL(
    import.meta.url.endsWith('.ts') ? './call-worker.ts' : './call-worker.js',
    import.meta.url,
  );
  const options = { workerData: init, env, resourceLimits: WORKER_LIMITS };
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** Worker `index`'s share of the port range: contiguous, starting on an even port. */
export function shareOf(
  min: number,
  max: number,
  index: number,
  count: number,
): { min: number; max: number } {
  const first = min + (min % 2);
  const pairs = Math.floor((max - first + 1) / 2);
  const per = Math.floor(pairs / count);
  if (per < 1)
    throw new RangeError(`media port range ${min}-${max} too small for ${count} workers`);
  const start = first + 2 * per * index;
  return { min: start, max: index === count - 1 ? max : start + 2 * per - 1 };
}
