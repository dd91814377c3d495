/**
 * The ringback tone a caller hears as early media while the agent is being provisioned:
 * 440 Hz + 480 Hz, two seconds on and four off (the North American cadence, ITU-T E.180).
 */

const ON_MS = 2000;
const CYCLE_MS = 6000;
const LEVEL = 0.1 * 32767;

export class Ringback {
  private sample = 0;

  constructor(private readonly sampleRate: number) {}

  /** Fills `out` with the next samples of the cadence. */
  fill(out: Int16Array): void {
    const cycle = (this.sampleRate * CYCLE_MS) / 1000;
    const on = (this.sampleRate * ON_MS) / 1000;
    for (let i = 0; i < out.length; i++, this.sample = (this.sample + 1) % cycle) {
      if (this.sample >= on) {
        out[i] = 0;
        continue;
      }
      const t = this.sample / this.sampleRate;
      out[i] = LEVEL * (Math.sin(2 * Math.PI * 440 * t) + Math.sin(2 * Math.PI * 480 * t));
    }
  }
}
