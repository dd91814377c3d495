/**
 * Screenshots of the call page in its states for docs/webrtc.md: a telgate on loopback with the
 * echo agent, Debian's chromium with a 440 Hz tone as its microphone.
 *   node --import tsx scripts/call-page-screenshots.ts   (writes docs/images/call-page-*.png)
 */
import { startGateway, testConfig, webVoiceEndpoint } from '../test/helpers/gateway.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { toneWav } from '../test/helpers/baresip.js';
import { removeTempDirs, tempDir } from '../test/helpers/temp-dirs.js';

const gw = await startGateway(
  testConfig(44100, (raw) => {
    (raw.sip as Record<string, unknown>).websocket = { port: 0 };
    (raw.media as Record<string, unknown>).webrtc = { portMin: 44120, portMax: 44159 };
    const behaviours = (raw.localAgent as { behaviours: Record<string, unknown> }).behaviours;
    behaviours['echo-web'] = { kind: 'echo' };
    (raw.endpoints as unknown[]).push(
      webVoiceEndpoint('echo-web', { allowAnywhere: true }),
      webVoiceEndpoint('elsewhere', { allowedOrigins: ['https://app.example.com'] }),
    );
  }),
);
const browser = await launchBrowser(await toneWav(await tempDir(), 440, 48000, 30));
try {
  const base = `http://127.0.0.1:${gw.gateway.engine.listenAddress.wsPort}`;
  const shot = (p: Awaited<ReturnType<typeof browser.page>>, name: string) =>
    p.screenshot({ path: `docs/images/call-page-${name}.png` });
  const tab = await browser.page(`${base}/call/echo-web`);
  await tab.setViewportSize({ width: 520, height: 300 });
  await tab.waitForFunction(() => document.body.dataset.state === 'idle');
  await shot(tab, 'idle');
  await tab.click('#call');
  await tab.waitForFunction(() => document.body.dataset.state === 'in call');
  await tab.waitForFunction(
    () => Number((document.getElementById('level') as HTMLMeterElement).value) > 0.2,
  );
  await shot(tab, 'in-call');
  await tab.click('#hangup');
  await tab.waitForFunction(() => document.body.dataset.state === 'ended');
  await shot(tab, 'ended');
  const refused = await browser.page(`${base}/call/elsewhere`);
  await refused.setViewportSize({ width: 520, height: 300 });
  await refused.waitForFunction(() => document.body.dataset.state === 'idle');
  await refused.click('#call');
  await refused.waitForFunction(() => document.body.dataset.state === 'failed');
  await shot(refused, 'refused');
} finally {
  await browser.close();
  await gw.stop();
  await removeTempDirs();
}
