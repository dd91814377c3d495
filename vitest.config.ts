import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/summary-reporter.js';

/**
 * Call-flow files run a second time with every call on the main thread (media.workers 1), so
 * both shapes of the process keep the same call semantics; the whole suite runs in the default
 * shape (a call worker per core).
 */
const MAIN_THREAD_FILES = [
  'test/integration/sip-dialogs.test.ts',
  'test/integration/call-timers.test.ts',
  'test/integration/link-failures.test.ts',
];

/**
 * SIP-level files run a third time on the drachtio engine (TEST_SIP_ENGINE=drachtio): each file's
 * telgate connects to a drachtio-server of its own, and the callers go through the daemon.
 * drachtio.test.ts is what only that engine has (admin connection lost, daemon restarted).
 */
const DRACHTIO_FILES = [
  'test/integration/call-sipp.test.ts',
  'test/integration/routing-sipp.test.ts',
  'test/integration/link-failures.test.ts',
  'test/integration/sip-dialogs.test.ts',
  'test/integration/sip-info-dtmf.test.ts',
  'test/integration/call-baresip.test.ts',
  'test/integration/transfer.test.ts',
  // The daemon's TLS and WSS contacts: baresip with SDES-SRTP over TLS, and a browser phone
  // registered over WSS that a call is transferred to.
  'test/integration/call-srtp.test.ts',
  'test/integration/transfer-browser.test.ts',
  'test/integration/drachtio.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests bind their own ports; files run one at a time so that sipp, baresip
    // and the gateway never compete for the two cores and timings stay meaningful.
    fileParallelism: false,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    reporters: ['default', new SummaryReporter()],
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/drachtio.test.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'main-thread', include: MAIN_THREAD_FILES, env: { TEST_WORKERS: '1' } },
      },
      {
        extends: true,
        test: { name: 'drachtio', include: DRACHTIO_FILES, env: { TEST_SIP_ENGINE: 'drachtio' } },
      },
    ],
  },
});
