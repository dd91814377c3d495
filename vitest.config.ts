import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/summary-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests bind their own ports; files run one at a time so that sipp, baresip
    // and the gateway never compete for the two cores and timings stay meaningful.
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default', new SummaryReporter()],
  },
});
