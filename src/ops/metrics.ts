/**
 * Prometheus metrics (prom-client), one registry per gateway so several gateways in one
 * process (tests) do not share counters. Names and labels are listed in docs/operations.md.
 * Per-packet figures are added when a call ends (from its quality summary), so the hot path
 * never touches a metric.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  readonly registry = new Registry();
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

  constructor(live: () => LiveFigures, options: { processMetrics?: boolean } = {}) {
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
    this.offered = new Counter({
      name: 'telgate_calls_offered_total',
      help: 'INVITEs that started a call attempt',
      registers,
    });
    this.answered = new Counter({
      name: 'telgate_calls_answered_total',
      help: 'Calls answered (200 OK sent)',
      registers,
    });
    this.refused = new Counter({
      name: 'telgate_calls_refused_total',
      help: 'Calls refused before answer, by cause',
      labelNames: ['cause'],
      registers,
    });
    this.ended = new Counter({
      name: 'telgate_calls_ended_total',
      help: 'Answered calls ended, by cause',
      labelNames: ['cause'],
      registers,
    });
    this.setup = new Histogram({
      name: 'telgate_call_setup_seconds',
      help: 'From the INVITE to the 200 OK',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.packets = new Counter({
      name: 'telgate_rtp_packets_received_total',
      help: 'RTP packets received from callers (counted at call end)',
      registers,
    });
    this.lost = new Counter({
      name: 'telgate_rtp_packets_lost_total',
      help: 'RTP packets from callers that never arrived (counted at call end)',
      registers,
    });
    this.jitter = new Histogram({
      name: 'telgate_rtp_jitter_ms',
      help: "Each ended call's interarrival jitter (RFC 3550)",
      buckets: [1, 2, 5, 10, 20, 40, 80, 160],
      registers,
    });
    this.resumes = new Counter({
      name: 'telgate_link_reconnects_total',
      help: 'Agent WebSocket sessions resumed after a drop',
      registers,
    });
    this.transfers = new Counter({
      name: 'telgate_transfers_total',
      help: 'Completed agent transfers, by mode',
      labelNames: ['mode'],
      registers,
    });
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'telgate_' });
    }
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
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
