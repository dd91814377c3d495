/**
 * How late the media clock's ticks run in a process doing nothing else: the floor under the
 * RTP spacing figures of bench:latency. Usage: npm run bench:clock (env CLOCK_SECONDS=10,
 * CLOCK_SUBSCRIBERS=2).
 *
 * Method: subscribers on a MediaClock, each noting (clock time at its tick − the millisecond it
 * was due), for CLOCK_SECONDS; the spacing deviation is the change of that lateness between
 * one subscriber's consecutive ticks.
 */
import { MediaClock } from '../src/media/media-clock.js';

const SECONDS = Number(process.env.CLOCK_SECONDS ?? 10);
const SUBSCRIBERS = Number(process.env.CLOCK_SUBSCRIBERS ?? 2);

const clock = new MediaClock(20);
const lateness: number[] = [];
const spacing: number[] = [];
const subscribers = Array.from({ length: SUBSCRIBERS }, () => {
  let last: number | undefined;
  return {
    onTick: (at: number) => {
      const late = clock.elapsedMs() - at;
      lateness.push(late);
      if (last !== undefined) spacing.push(Math.abs(late - last));
      last = late;
    },
  };
});
for (const s of subscribers) clock.add(s);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
for (const s of subscribers) clock.remove(s);

const quantile = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(2);
};
console.log('| measure (ms) | ticks | p50 | p90 | p99 | max |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, values] of [
  ['tick lateness', lateness],
  ['spacing deviation', spacing],
] as const) {
  console.log(
    `| ${name} | ${values.length} | ${quantile(values, 0.5)} | ${quantile(values, 0.9)} | ${quantile(values, 0.99)} | ${quantile(values, 1)} |`,
  );
}
