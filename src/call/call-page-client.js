/**
 * The call page's script (runs in the browser; bundled with JsSIP by scripts/build-page.mjs):
 * SIP over WebSocket to the server that served the page, one call to the endpoint's slug,
 * mute, a level meter of what the agent says, and the call's state. The page's state and a
 * frequency probe are on `window.telgateCall` for tests and embedding pages.
 */
/* global document, location, window, requestAnimationFrame, AudioContext, MediaStream,
   performance */
import JsSIP from 'jssip';

const config = JSON.parse(document.getElementById('telgate-call').textContent);
const $ = (id) => document.getElementById(id);
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
const socket = new JsSIP.WebSocketInterface(`${scheme}://${location.host}/`);
const ua = new JsSIP.UA({
  sockets: [socket],
  uri: `sip:web-${Math.random().toString(36).slice(2, 10)}@${config.domain}`,
  register: false,
  session_timers: false,
});
let session;
let analyser;
let audioContext;
/** performance.now() of the click, and of the first audible frame from the agent. */
const timing = { clickedAt: 0, firstAudioAt: 0 };
/** RMS above this is the agent speaking (about −40 dBFS), not comfort noise. */
const AUDIBLE_RMS = 0.01;

const state = {
  value: 'idle',
  set(next, detail) {
    this.value = next;
    document.body.dataset.state = next;
    $('state').textContent = detail ? `${next}: ${detail}` : next;
    $('call').disabled = next === 'calling' || next === 'in call';
    $('hangup').disabled = !(next === 'calling' || next === 'in call');
    $('mute').disabled = next !== 'in call';
  },
};

function meter() {
  if (!analyser) return;
  const samples = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(samples);
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length);
  if (!timing.firstAudioAt && rms > AUDIBLE_RMS) timing.firstAudioAt = performance.now();
  $('level').value = Math.min(1, rms * 4);
  requestAnimationFrame(meter);
}

/** The agent's audio: played, and measured by the level meter. */
function listen(stream) {
  const audio = $('remote');
  audio.srcObject = stream;
  void audio.play().catch(() => undefined);
  audioContext = new AudioContext();
  analyser = audioContext.createAnalyser();
  analyser.fftSize = 4096;
  audioContext.createMediaStreamSource(stream).connect(analyser);
  requestAnimationFrame(meter);
}

function call() {
  state.set('calling');
  timing.clickedAt = performance.now();
  timing.firstAudioAt = 0;
  // Handlers given to call(): JsSIP makes the peer connection before call() returns.
  session = ua.call(`sip:${config.slug}@${config.domain}`, {
    mediaConstraints: { audio: true, video: false },
    pcConfig: { iceServers: [] },
    eventHandlers: {
      peerconnection: ({ peerconnection }) => {
        peerconnection.addEventListener('track', (e) =>
          listen(e.streams[0] ?? new MediaStream([e.track])),
        );
      },
      confirmed: () => state.set('in call'),
      failed: (e) => state.set('failed', e.cause),
      ended: (e) => state.set('ended', e.cause),
    },
  });
}

$('call').addEventListener('click', call);
$('hangup').addEventListener('click', () => session?.terminate());
$('mute').addEventListener('click', () => {
  if (!session) return;
  const muted = session.isMuted().audio;
  if (muted) session.unmute({ audio: true });
  else session.mute({ audio: true });
  $('mute').textContent = muted ? 'Mute' : 'Unmute';
});
ua.start();
state.set('idle');

window.telgateCall = {
  get state() {
    return state.value;
  },
  /** The strongest frequency (Hz) in what the agent says, 0 before audio. */
  dominantFrequency() {
    if (!analyser) return 0;
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return (best * audioContext.sampleRate) / analyser.fftSize;
  },
  level() {
    return Number($('level').value);
  },
  /** Sends DTMF digits in the call (JsSIP's default: SIP INFO). */
  sendDtmf(digits) {
    session?.sendDTMF(digits);
  },
  /** Milliseconds from the click to the agent's first audible audio (0 before it). */
  clickToAudioMs() {
    return timing.firstAudioAt ? timing.firstAudioAt - timing.clickedAt : 0;
  },
  /** The browser's own account of the agent's audio: inbound RTP packets, level and codec. */
  async received() {
    const report = session?.connection ? await session.connection.getStats() : new Map();
    for (const entry of report.values()) {
      if (entry.type === 'inbound-rtp' && entry.kind === 'audio') {
        return {
          packets: entry.packetsReceived ?? 0,
          audioLevel: entry.audioLevel ?? 0,
          codec: report.get(entry.codecId)?.mimeType ?? '',
        };
      }
    }
    return { packets: 0, audioLevel: 0, codec: '' };
  },
};
