/**
 * Prometheus metrics (prom-client), one registry per gateway so several gateways in one
 * process (tests) do not share counters. Names and labels are listed in docs/operations.md.
 * Per-packet figures are added when a call ends (from its quality summary), so the hot path
 * never touches a metric.
 *
 * prom-client's process metrics are set up once per process: each setup starts an event-loop
 * delay monitor (a libuv timer every 10 ms) and a GC observer that are never stopped. Its
 * default resolution stays: the lag histogram reads the sampling interval as its floor, and at
 * a coarser one an idle process would show ~0.1 s of "lag".
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

let processMetrics: Registry | undefined;

/** The process's CPU, memory, GC and event-loop figures: one registry, set up once. */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'telgate_' });
  }
  return processMetrics;
}

/** What the gauges read at scrape time. */
export interface LiveFigures {
  activeCalls: number;
  eventLoopUtilization: number;
  overloaded: boolean;
  draining: boolean;
  /** 1 while shared state is reachable (always 1 for the in-memory store). */
  stateUp: boolean;
  portsAvailable: number;
}

export interface EndedCallFigures {
  packetsReceived: number;
  packetsLost: number;
  jitterMs: number;
  linkResumes: number;
}

export class Metrics {
  /** This gateway's own metrics. */
  readonly registry = new Registry();
  /** What a scrape shows: this gateway's metrics and the process's. */
  private readonly scraped: Registry;
  private readonly offered: Counter;
  private readonly refused: Counter<'cause'>;
  private readonly ended: Counter<'cause'>;
  private readonly answered: Counter;
  private readonly setup: Histogram;
  private readonly packets: Counter;
  private readonly lost: Counter;
  private readonly jitter: Histogram;
  private readonly resumes: Counter;
  private readonly transfers: Counter<'mode'>;

  constructor(live: () => LiveFigures) {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (f: LiveFigures) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(live()));
        },
      });
    gauge('telgate_calls_active', 'Calls in progress on this instance', (f) => f.activeCalls);
    gauge(
      'telgate_event_loop_utilization',
      'Share of the last second the event loop was busy (0-1)',
      (f) => f.eventLoopUtilization,
    );
    gauge('telgate_overloaded', '1 while new calls are refused for load', (f) => +f.overloaded);
    gauge('telgate_draining', '1 while draining after SIGTERM', (f) => +f.draining);
    gauge('telgate_state_up', '1 while the shared state (Redis) is reachable', (f) => +f.stateUp);
    gauge('telgate_media_ports_available', 'Free RTP ports', (f) => f.portsAvailable);
    const counter = <L extends string = never>(name: string, help: string, labelNames?: L[]) =>
      new Counter<L>({ name, help, labelNames: labelNames ?? [], registers });
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, registers });
    this.offered = counter('telgate_calls_offered_total', 'INVITEs that started a call attempt');
    this.answered = counter('telgate_calls_answered_total', 'Calls answered (200 OK sent)');
    this.refused = counter('telgate_calls_refused_total', 'Calls refused before answer', ['cause']);
    this.ended = counter('telgate_calls_ended_total', 'Answered calls ended, by cause', ['cause']);
    this.setup = histogram(
      'telgate_call_setup_seconds',
      'From the INVITE to the 200 OK',
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    );
    this.packets = counter(
      'telgate_rtp_packets_received_total',
      'RTP packets received from callers (counted at call end)',
    );
    this.lost = counter(
      'telgate_rtp_packets_lost_total',
      'RTP packets from callers that never arrived (counted at call end)',
    );
    this.jitter = histogram(
      'telgate_rtp_jitter_ms',
      "Each ended call's interarrival jitter (RFC 3550)",
      [1, 2, 5, 10, 20, 40, 80, 160],
    );
    this.resumes = counter(
      'telgate_link_reconnects_total',
      'Agent WebSocket sessions resumed after a drop',
    );
    this.transfers = counter('telgate_transfers_total', 'Completed agent transfers', ['mode']);
    this.scraped = Registry.merge([this.registry, processRegistry()]);
  }

  callOffered(): void {
    this.offered.inc();
  }

  callRefused(cause: string): void {
    this.refused.inc({ cause });
  }

  callAnswered(setupMs: number): void {
    this.answered.inc();
    this.setup.observe(setupMs / 1000);
  }

  callEnded(cause: string, figures: EndedCallFigures): void {
    this.ended.inc({ cause });
    this.packets.inc(figures.packetsReceived);
    this.lost.inc(figures.packetsLost);
    if (figures.packetsReceived > 0) this.jitter.observe(figures.jitterMs);
    if (figures.linkResumes > 0) this.resumes.inc(figures.linkResumes);
  }

  transferred(mode: string): void {
    this.transfers.inc({ mode });
  }

  text(): Promise<string> {
    return this.scraped.metrics();
  }

  get contentType(): string {
    return this.scraped.contentType;
  }
}
