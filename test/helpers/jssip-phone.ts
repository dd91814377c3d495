/**
 * A JsSIP softphone in the test browser: a page served on loopback that registers over SIP over
 * WebSocket with digest credentials and answers every call with its (fake) microphone, playing
 * and measuring what it hears. JsSIP is bundled for it by esbuild from the npm package, as the
 * call page's is.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const PHONE_SCRIPT = `
import JsSIP from 'jssip';
const params = new URLSearchParams(location.search);
const phone = { registered: false, state: 'idle', analyser: undefined, context: undefined };
window.phone = phone;
phone.dominantFrequency = () => {
  if (!phone.analyser) return 0;
  const bins = new Float32Array(phone.analyser.frequencyBinCount);
  phone.analyser.getFloatFrequencyData(bins);
  let best = 1;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return (best * phone.context.sampleRate) / phone.analyser.fftSize;
};
const ua = new JsSIP.UA({
  sockets: [new JsSIP.WebSocketInterface(params.get('ws'))],
  uri: 'sip:' + params.get('user') + '@127.0.0.1',
  password: params.get('password'),
  session_timers: false,
});
ua.on('registered', () => (phone.registered = true));
ua.on('registrationFailed', (e) => (phone.state = 'registration failed: ' + e.cause));
ua.on('newRTCSession', ({ session, originator }) => {
  if (originator !== 'remote') return;
  phone.state = 'ringing';
  session.on('peerconnection', ({ peerconnection }) => {
    peerconnection.addEventListener('track', (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      const audio = new Audio();
      audio.srcObject = stream;
      audio.play().catch(() => undefined);
      phone.context = new AudioContext();
      phone.analyser = phone.context.createAnalyser();
      phone.analyser.fftSize = 4096;
      phone.context.createMediaStreamSource(stream).connect(phone.analyser);
    });
  });
  session.on('confirmed', () => (phone.state = 'in call'));
  session.on('ended', () => (phone.state = 'ended'));
  session.on('failed', (e) => (phone.state = 'failed: ' + e.cause));
  session.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
});
ua.start();
`;

export interface PhonePage {
  url(wsUrl: string, user: string, password: string): string;
  close(): Promise<void>;
}

/** Serves the softphone page on 127.0.0.1 (a secure context for getUserMedia). */
export async function servePhonePage(): Promise<PhonePage> {
  const bundle = await build({
    stdin: { contents: PHONE_SCRIPT, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0].contents;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/phone.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>phone</title><script src="/phone.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (ws, user, password) =>
      `http://127.0.0.1:${port}/?${new URLSearchParams({ ws, user, password })}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
