/**
 * The ops HTTP server: what a load balancer, an orchestrator and Prometheus ask of an instance.
 *   GET /healthz  200 while the process serves (liveness)
 *   GET /readyz   200 when it takes new calls; 503 with the reason while draining, overloaded
 *                 or refusing for a shared-state outage (readiness)
 *   GET /metrics  Prometheus text (docs/operations.md lists the metrics)
 *   GET /calls    the cluster's live calls and this instance's stats, as JSON
 * Loopback by default; with a token configured every request needs `Authorization: Bearer`.
 */
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export interface OpsSource {
  /** Why new calls are refused, or undefined when ready. */
  notReady(): string | undefined;
  metricsText(): Promise<string>;
  metricsContentType: string;
  calls(): Promise<unknown[]>;
  stats(): unknown;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  token?: string;
}

export class OpsServer {
  private readonly server: http.Server;

  constructor(
    private readonly source: OpsSource,
    private readonly options: OpsServerOptions,
  ) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => send(res, 500, { error: err.message }));
    });
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('ops server has no address');
    return { host: address.address, port: address.port };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.authorised(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'a bearer token is required' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, { error: 'only GET' });
    }
    const path = new URL(req.url ?? '/', 'http://ops').pathname;
    switch (path) {
      case '/healthz':
        return send(res, 200, { status: 'ok' });
      case '/readyz': {
        const reason = this.source.notReady();
        return send(res, reason ? 503 : 200, reason ? { ready: false, reason } : { ready: true });
      }
      case '/metrics': {
        const text = await this.source.metricsText();
        res.writeHead(200, { 'content-type': this.source.metricsContentType });
        return void res.end(text);
      }
      case '/calls':
        return send(res, 200, { calls: await this.source.calls(), stats: this.source.stats() });
      default:
        return send(res, 404, { error: 'not found: /healthz /readyz /metrics /calls' });
    }
  }

  private authorised(header: string | undefined): boolean {
    const token = this.options.token;
    if (!token) return true;
    const given = Buffer.from(header?.replace(/^Bearer\s+/i, '') ?? '');
    const expected = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function send(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}
