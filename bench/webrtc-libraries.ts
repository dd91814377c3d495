/**
 * The WebRTC library choice, measured: werift 0.24 (pure TypeScript) against node-datachannel
 * 0.33 (libdatachannel), each answering the same browser calls and echoing their RTP.
 * Usage: npm run bench:webrtc-libraries (env LIBRARIES_CALLS=8, LIBRARIES_SECONDS=20).
 *
 * Method. This process serves a page on 127.0.0.1 and answers its offers (POST /offer) with
 * the library under test: one peer per page, Opus, ICE on loopback, DTLS-SRTP, every RTP packet
 * it receives sent straight back. Debian's chromium opens LIBRARIES_CALLS pages (a 440 Hz tone
 * as the microphone) per row; 2 s after the last is connected, this process's CPU time is read
 * over LIBRARIES_SECONDS (process.cpuUsage: the library's ICE, DTLS and SRTP, the echo, and the
 * same small page server and browser driver in both rows, less the idle process measured the
 * same way). Rows interleave over three rounds; the table has each row's median. The page counts
 * the packets it gets back, so a row where the echo did not flow says so.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import nodeDataChannel from 'node-datachannel';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { toneWav } from '../test/helpers/baresip.js';
import { launchBrowser } from '../test/helpers/browser.js';

const CALLS = Number(process.env.LIBRARIES_CALLS ?? 8);
const SECONDS = Number(process.env.LIBRARIES_SECONDS ?? 20);
const ROUNDS = 3;

type Library = 'werift' | 'node-datachannel';
const closers: Array<() => void> = [];

async function answerWithWerift(offer: string): Promise<string> {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 })],
    },
  });
  pc.onTransceiverAdded.subscribe((transceiver) => {
    transceiver.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => transceiver.sender.sendRtp(rtp));
    });
  });
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  closers.push(() => void pc.close());
  return pc.localDescription!.sdp;
}

function answerWithNodeDataChannel(offer: string): Promise<string> {
  const pc = new nodeDataChannel.PeerConnection('bench', {
    iceServers: [],
    bindAddress: '127.0.0.1',
  });
  pc.onTrack((track) => track.onMessage((packet) => track.sendMessageBinary(packet)));
  closers.push(() => pc.close());
  return new Promise((resolve) => {
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') resolve(pc.localDescription()!.sdp);
    });
    pc.setRemoteDescription(offer, 'offer');
  });
}

const PAGE = `<!doctype html><title>echo</title><script>
window.received = 0;
window.connect = async (library) => {
  const pc = new RTCPeerConnection();
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  pc.addTrack(mic.getAudioTracks()[0], mic);
  pc.ontrack = (e) => { const a = new Audio(); a.srcObject = e.streams[0] || new MediaStream([e.track]); a.play().catch(() => {}); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
  const answer = await (await fetch('/offer?library=' + library, { method: 'POST', body: pc.localDescription.sdp })).text();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  window.pc = pc;
};
window.packets = async () => {
  const report = await window.pc.getStats();
  let n = 0;
  report.forEach((e) => { if (e.type === 'inbound-rtp') n = e.packetsReceived; });
  return n;
};
</script>`;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/offer')) {
    const library = new URL(req.url, 'http://x').searchParams.get('library') as Library;
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const answer =
        library === 'werift' ? answerWithWerift(body) : answerWithNodeDataChannel(body);
      answer.then(
        (sdp) => res.writeHead(200).end(sdp),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telgate-libraries-'));
const browser = await launchBrowser(await toneWav(dir, 440, 48000, 300));

const cpuOver = async (seconds: number): Promise<number> => {
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
};

async function row(library: Library): Promise<{ cpu: number; echoed: number }> {
  const pages = [];
  for (let i = 0; i < CALLS; i++) {
    const page = await browser.page(url);
    await page.evaluate(
      (l) => (window as unknown as { connect(l: string): Promise<void> }).connect(l),
      library,
    );
    pages.push(page);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = await cpuOver(SECONDS);
  let echoed = Infinity;
  for (const page of pages) {
    const n = await page.evaluate(() =>
      (window as unknown as { packets(): Promise<number> }).packets(),
    );
    echoed = Math.min(echoed, n);
    await page.close();
  }
  for (const close of closers.splice(0)) close();
  return { cpu, echoed };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
try {
  const rows: Record<'idle' | Library, number[]> = { idle: [], werift: [], 'node-datachannel': [] };
  const echoed: Record<Library, number[]> = { werift: [], 'node-datachannel': [] };
  for (let round = 0; round < ROUNDS; round++) {
    rows.idle.push(await cpuOver(SECONDS));
    for (const library of ['werift', 'node-datachannel'] as const) {
      const r = await row(library);
      rows[library].push(r.cpu);
      echoed[library].push(r.echoed);
    }
  }
  const idle = median(rows.idle);
  const perPeer = (cpu: number) => ((cpu - idle) / (CALLS * SECONDS)) * 1e6;
  console.log(`\n${CALLS} browser peers per row, ${SECONDS} s windows, ${ROUNDS} rounds\n`);
  console.log(
    '| library | CPU µs per peer-second (median, idle subtracted) | ÷ node-datachannel | fewest packets echoed to one page |',
  );
  console.log('| --- | --- | --- | --- |');
  const ndc = perPeer(median(rows['node-datachannel']));
  for (const library of ['werift', 'node-datachannel'] as const) {
    const cost = perPeer(median(rows[library]));
    console.log(
      `| ${library} | ${cost.toFixed(0)} (rounds: ${rows[library].map((c) => perPeer(c).toFixed(0)).join(', ')}) | ${(cost / ndc).toFixed(2)} | ${Math.min(...echoed[library])} |`,
    );
  }
} finally {
  await browser.close();
  server.close();
  await fs.rm(dir, { recursive: true, force: true });
  process.exit(0);
}
