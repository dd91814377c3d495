/**
 * Debian's chromium, headless, driven by playwright-core (no browser download): a fake
 * microphone that plays a WAV file, media permission granted, loopback ICE allowed. One browser
 * per test file; close() ends it and its processes.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  browser: Browser;
  page(url: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(microphoneWav: string): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${microphoneWav}`,
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const context = await browser.newContext({
    permissions: ['microphone'],
    // A page's wss:// to drachtio-server meets the test file's self-signed certificate.
    ignoreHTTPSErrors: true,
  });
  return {
    browser,
    async page(url) {
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    close: () => browser.close(),
  };
}
