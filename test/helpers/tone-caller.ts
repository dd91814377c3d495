/**
 * A sipp caller that streams a tone (uac_rtp.xml with a generated pcap) and a capture of what
 * telgate sends it, decoded: for tests where a caller and a transfer target hear each other.
 */
import { Capture } from './capture.js';
import { decodeRtpTo } from './rtp.js';
import { scenario, sippPorts, startSipp, toneFile } from './sipp.js';
import type { Finished } from './processes.js';

export interface ToneCall {
  /** sipp's end. */
  done: Promise<Finished>;
  /** Once sipp is done: the samples telgate sent the caller, decoded. */
  heard(): Promise<Int16Array[]>;
}

/** sipp dials `service` at telgate's `target` port, streaming `hz` for `seconds`. */
export async function toneCall(
  dir: string,
  target: number,
  service: string,
  hz: number,
  seconds: number,
): Promise<ToneCall> {
  await toneFile(dir, hz, 8);
  const ports = sippPorts();
  const toCaller = await Capture.start(dir, `udp and dst port ${ports.media}`);
  const call = startSipp({
    dir,
    scenarioFile: await scenario(dir, 'uac_rtp.xml'),
    service,
    target,
    ports,
    extra: ['-d', String(seconds * 1000)],
  });
  return {
    done: call.done,
    heard: async () => decodeRtpTo(await toCaller.stop(), ports.media),
  };
}
