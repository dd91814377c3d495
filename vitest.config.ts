import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/summary-reporter.js';

/**
 * Call-flow files run a second time with every call on the main thread (media.workers 1), so
 * both shapes of the process keep the same call semantics; the whole suite runs in the default
 * shape (a call worker per core).
 */
const MAIN_THREAD_FILES = [
  'test/integration/call-sipp.test.ts',
  'test/integration/sip-dialogs.test.ts',
  'test/integration/call-timers.test.ts',
  'test/integration/link-failures.test.ts',
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
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'main-thread', include: MAIN_THREAD_FILES, env: { TEST_WORKERS: '1' } },
      },
    ],
  },
});
