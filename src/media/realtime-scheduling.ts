/**
 * Real-time scheduling (SCHED_RR) for a thread that runs calls' media, as Asterisk's `-p` and
 * FreeSWITCH's `-rp` give theirs. On a host whose cores also run other work, a call worker
 * whose packet is due waits its turn behind ordinary threads: on 2 vCPUs shared with an agent
 * and a load generator, each call worker spent about a quarter of its wall time runnable but
 * not running, and those waits are the RTP spacing the caller hears (bench/README.md). A
 * real-time thread runs as soon as it is ready, ahead of every ordinary one.
 *
 * Node has no binding for sched_setscheduler(2); koffi (already loaded for libopus) calls
 * libc's. Linux schedules threads, so pid 0 is the calling thread alone: V8's and libuv's
 * helper threads keep the ordinary policy. Needs root, CAP_SYS_NICE, or an RLIMIT_RTPRIO at
 * least the priority (systemd: `LimitRTPRIO=`); without it the thread carries on as it was.
 */
import koffi from 'koffi';

/** Linux's SCHED_RR: real-time, round-robin among threads of the same priority. */
const SCHED_RR = 2;
const EPERM = 1;
const EINVAL = 22;

/**
 * sched_setscheduler(0, policy, { sched_priority }) and the errno it left; throws where there
 * is no such call.
 */
export type SetScheduler = (policy: number, priority: number) => { result: number; errno: number };

export type RealtimeOutcome = { applied: true } | { applied: false; reason: string };

let libcCall: ((pid: number, policy: number, param: object) => number) | undefined;

/** libc's sched_setscheduler for the calling thread (bound on first use). */
const libcSetScheduler: SetScheduler = (policy, priority) => {
  if (!libcCall) {
    if (process.platform !== 'linux') {
      throw new Error(`real-time scheduling is Linux only (this is ${process.platform})`);
    }
    koffi.struct('telgate_sched_param', { sched_priority: 'int' });
    libcCall = koffi
      .load('libc.so.6')
      .func('int sched_setscheduler(int pid, int policy, const telgate_sched_param *param)');
  }
  const result = libcCall(0, policy, { sched_priority: priority });
  return { result, errno: result === 0 ? 0 : koffi.errno() };
};

/**
 * Puts the calling thread under SCHED_RR at `priority` (1–99). Never throws: what stopped it
 * comes back as the reason, for the operator's log.
 */
export function useRealtimeScheduling(
  priority: number,
  setScheduler: SetScheduler = libcSetScheduler,
): RealtimeOutcome {
  let outcome: { result: number; errno: number };
  try {
    outcome = setScheduler(SCHED_RR, priority);
  } catch (err) {
    return { applied: false, reason: (err as Error).message };
  }
  if (outcome.result === 0) return { applied: true };
  if (outcome.errno === EPERM) {
    return {
      applied: false,
      reason: `not permitted to use real-time priority ${priority}: run as root, or grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least ${priority} (systemd: LimitRTPRIO=${priority})`,
    };
  }
  if (outcome.errno === EINVAL) {
    return { applied: false, reason: `real-time priority ${priority} refused as invalid (1–99)` };
  }
  return { applied: false, reason: `sched_setscheduler failed with errno ${outcome.errno}` };
}

/**
 * `media.realtimePriority` for the calling thread, which runs calls' media (`who` names it in
 * the log): 0 leaves it alone.
 */
export function realtimeForMedia(
  priority: number,
  who: string,
  log: { info(facts: object, message: string): void; warn(facts: object, message: string): void },
  setScheduler?: SetScheduler,
): RealtimeOutcome | undefined {
  if (priority <= 0) return undefined;
  const outcome = useRealtimeScheduling(priority, setScheduler);
  if (outcome.applied) log.info({ priority }, `${who} runs at real-time priority (SCHED_RR)`);
  else log.warn({ priority }, `${who} keeps ordinary scheduling: ${outcome.reason}`);
  return outcome;
}
