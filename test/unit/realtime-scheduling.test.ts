/**
 * What an operator reads when real-time scheduling cannot be had (the kernel's refusals are
 * stood in for here: as root, which the tests run as, it never refuses; the real call is
 * test/integration/realtime-workers.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  realtimeForMedia,
  useRealtimeScheduling,
  type SetScheduler,
} from '../../src/media/realtime-scheduling.js';

const refusing =
  (errno: number): SetScheduler =>
  () => ({ result: -1, errno });

function capturingLog() {
  const lines: Array<{ level: string; facts: object; message: string }> = [];
  return {
    lines,
    info: (facts: object, message: string) => lines.push({ level: 'info', facts, message }),
    warn: (facts: object, message: string) => lines.push({ level: 'warn', facts, message }),
  };
}

describe('real-time scheduling', () => {
  it('asks for SCHED_RR at the priority', () => {
    const asked: Array<[number, number]> = [];
    const outcome = useRealtimeScheduling(7, (policy, priority) => {
      asked.push([policy, priority]);
      return { result: 0, errno: 0 };
    });
    expect(outcome).toEqual({ applied: true });
    expect(asked).toEqual([[2, 7]]);
  });

  it('says what would permit it when the kernel refuses (EPERM)', () => {
    const outcome = useRealtimeScheduling(5, refusing(1));
    expect(outcome.applied).toBe(false);
    if (outcome.applied) return;
    expect(outcome.reason).toContain('CAP_SYS_NICE');
    expect(outcome.reason).toContain('LimitRTPRIO=5');
  });

  it('names an invalid priority and any other errno', () => {
    expect(useRealtimeScheduling(5, refusing(22))).toMatchObject({
      reason: expect.stringContaining('invalid'),
    });
    expect(useRealtimeScheduling(5, refusing(3))).toMatchObject({
      reason: expect.stringContaining('errno 3'),
    });
  });

  it('does not throw when libc cannot be had (another platform)', () => {
    const outcome = useRealtimeScheduling(5, () => {
      throw new Error('real-time scheduling is Linux only (this is darwin)');
    });
    expect(outcome).toEqual({
      applied: false,
      reason: 'real-time scheduling is Linux only (this is darwin)',
    });
  });

  it('logs the outcome for the thread, and leaves priority 0 alone', () => {
    const log = capturingLog();
    expect(realtimeForMedia(0, 'call worker 0', log, refusing(1))).toBeUndefined();
    expect(log.lines).toEqual([]);
    realtimeForMedia(4, 'call worker 1', log, refusing(1));
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0].level).toBe('warn');
    expect(log.lines[0].message).toMatch(/^call worker 1 keeps ordinary scheduling: not permitted/);
    realtimeForMedia(4, 'call worker 1', log, () => ({ result: 0, errno: 0 }));
    expect(log.lines[1]).toMatchObject({
      level: 'info',
      facts: { priority: 4 },
      message: 'call worker 1 runs at real-time priority (SCHED_RR)',
    });
  });
});
