/** A local HTTP server standing in for cloud providers' REST APIs in tests. */
import { once } from 'node:events';
import http from 'node:http';

/**
 * A stand-in for a provider's REST API (Twilio's, Vobiz's: neither is reachable from here):
 * answers 200 with a call resource and records each request.
 */
export class ProviderApiStandIn {
  /** What the stand-in answers a request with (the provider's JSON for it). */
  constructor(
    private readonly respond: (method: string, path: string) => object = () => ({
      sid: 'CA0',
      status: 'completed',
    }),
  ) {}

  readonly requests: Array<{
    method: string;
    path: string;
    auth: string;
    headers: http.IncomingHttpHeaders;
    text: string;
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
        text: Buffer.concat(chunks).toString(),
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.respond(req.method ?? '', req.url ?? '')));
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
