/**
 * Ends the test run with the slowest files (the suite's time budget is spent there) and one
 * plain line, `tests: N passed, N failed, N skipped`, for CI logs.
 */
import type { Reporter, TestModule } from 'vitest/node';

const SLOWEST_SHOWN = 12;

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) counts[test.result().state]++;
    }
    const slowest = testModules
      .map((m) => ({ name: `${m.project.name} ${m.moduleId}`, ms: m.diagnostic().duration }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST_SHOWN);
    const cwd = process.cwd() + '/';
    const lines = slowest.map((s) => `  ${(s.ms / 1000).toFixed(1)} s  ${s.name.replace(cwd, '')}`);
    process.stdout.write(
      `\nslowest files:\n${lines.join('\n')}\n` +
        `\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
