/** Audio checks for tests: Goertzel power and the dominant frequency of a frame. */

export function goertzelPower(
  samples: ArrayLike<number>,
  frequency: number,
  sampleRate: number,
): number {
  const k = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i] + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/** The strongest frequency between 100 Hz and 0.45·rate, in 10 Hz steps; 0 for a silent frame. */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number): number {
  let energy = 0;
  for (let i = 0; i < samples.length; i++) energy += samples[i] * samples[i];
  if (energy / samples.length < 100 * 100) return 0; // below about -50 dBFS: silence
  let best = 0;
  let bestPower = -1;
  for (let f = 100; f <= sampleRate * 0.45; f += 10) {
    const p = goertzelPower(samples, f, sampleRate);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

/** How many frames have `frequency` (± tolerance) as their dominant frequency. */
export function countFramesAt(
  frames: Array<ArrayLike<number>>,
  frequency: number,
  sampleRate: number,
  tolerance = 30,
): number {
  return frames.filter((f) => Math.abs(dominantFrequency(f, sampleRate) - frequency) <= tolerance)
    .length;
}

/** Voiced speech, roughly: seven harmonics of a gliding 110–170 Hz pitch, its level swelling. */
export function voicedSpeech(rate: number, frames: number): Int16Array[] {
  const size = rate / 50;
  let phase = 0;
  return Array.from({ length: frames }, (_, f) =>
    Int16Array.from({ length: size }, (_, i) => {
      const t = (f * size + i) / rate;
      phase += (2 * Math.PI * (140 + 30 * Math.sin(2 * Math.PI * 0.7 * t))) / rate;
      let v = 0;
      for (let h = 1; h < 8; h++) v += Math.sin(h * phase) / h;
      return Math.round(5000 * v * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)));
    }),
  );
}

/** Signal-to-error ratio (dB) of `got` against `want`. */
export function snrDb(got: Int16Array, want: Int16Array): number {
  let signal = 0;
  let error = 0;
  for (let i = 0; i < want.length; i++) {
    signal += want[i] ** 2;
    error += (got[i] - want[i]) ** 2;
  }
  return 10 * Math.log10(signal / error);
}
