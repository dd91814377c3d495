/**
 * The call page: `/call/<slug>` on the SIP over WebSocket port, for web-voice endpoints with
 * `callPage: true` that take calls. A call button, mute, a level meter of what the agent says
 * and the call's state; its script (JsSIP, bundled at build time into dist/page/) calls the
 * slug over the same origin's WebSocket, so the page's origin is the one the endpoint's
 * allowedOrigins must name.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EndpointConfig } from '../routing/config-parts.js';
import { isActive } from '../routing/resolve.js';

const SCRIPT_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../dist/page/call-page.js',
);

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function pageHtml(slug: string, domain: string): string {
  const config = JSON.stringify({ slug, domain }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Call ${escapeHtml(slug)}</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.3rem; }
  button { font: inherit; padding: .6rem 1.2rem; margin-right: .5rem; border-radius: .4rem; border: 1px solid #8893a8; background: #fff; }
  button#call { background: #1f7a4d; color: #fff; border-color: #1f7a4d; }
  button#hangup { background: #b3261e; color: #fff; border-color: #b3261e; }
  button:disabled { opacity: .4; }
  meter { width: 100%; height: 1.2rem; }
  #state { margin: 1rem 0; font-weight: 600; }
</style>
</head>
<body data-state="loading">
<h1>Talk to <code>${escapeHtml(slug)}</code></h1>
<p><button id="call" disabled>Call</button><button id="hangup" disabled>Hang up</button><button id="mute" disabled>Mute</button></p>
<p id="state">loading</p>
<label for="level">Agent level</label>
<meter id="level" min="0" max="1" value="0"></meter>
<audio id="remote" autoplay></audio>
<script type="application/json" id="telgate-call">${config}</script>
<script src="/call/assets/call-page.js"></script>
</body>
</html>
`;
}

export class CallPage {
  private script: Promise<Buffer> | undefined;

  /** `endpoints`: the config's and the live test endpoints. */
  constructor(private readonly endpoints: () => readonly EndpointConfig[]) {}

  readonly handle = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    void this.serve(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
  };

  private async serve(request: http.IncomingMessage, response: http.ServerResponse) {
    const url = new URL(request.url ?? '/', 'http://page');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return void response.writeHead(405, { allow: 'GET, HEAD' }).end();
    }
    if (url.pathname === '/favicon.ico') return void response.writeHead(204).end();
    if (url.pathname === '/call/assets/call-page.js') {
      this.script ??= readFile(SCRIPT_PATH);
      const body = await this.script.catch(() => undefined);
      if (!body) {
        this.script = undefined;
        return void response
          .writeHead(503, { 'content-type': 'text/plain' })
          .end('the call page script is not built: run npm run build\n');
      }
      return void response
        .writeHead(200, {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'max-age=300',
        })
        .end(request.method === 'HEAD' ? undefined : body);
    }
    const slug = /^\/call\/([a-z0-9][a-z0-9-]{0,62})\/?$/.exec(url.pathname)?.[1];
    const endpoint = this.endpoints().find(
      (e) => e.kind === 'web-voice' && e.slug === slug && e.callPage,
    );
    if (!slug || !endpoint || endpoint.kind !== 'web-voice' || !isActive(endpoint)) {
      return void response
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('no call page here\n');
    }
    const domain = (request.headers.host ?? 'telgate.invalid').replace(/:\d+$/, '');
    response
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'self'; connect-src 'self' ws: wss:; style-src 'unsafe-inline'",
      })
      .end(request.method === 'HEAD' ? undefined : pageHtml(slug, domain));
  }
}
