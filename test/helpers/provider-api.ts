/** A local HTTP server standing in for cloud providers' REST APIs in tests. */
import { once } from 'node:events';
import http from 'node:http';

/**
 * A stand-in for a provider's REST API (Twilio's, Vobiz's: neither is reachable from here):
 * answers 200 with a call resource and records each request.
 */
export class ProviderApiStandIn {
  readonly requests: Array<{
    method: string;
    path: string;
    auth: string;
    headers: http.IncomingHttpHeaders;
    form: URLSearchParams;
  }> = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        auth: req.headers.authorization ?? '',
        headers: req.headers,
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sid: 'CA0', status: 'completed' }));
      this.server.emit('recorded');
    });
  });

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  /** Resolves with request number `n` (from 1) once it has come. */
  async request(n: number): Promise<ProviderApiStandIn['requests'][number]> {
    while (this.requests.length < n) await once(this.server, 'recorded');
    return this.requests[n - 1];
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
