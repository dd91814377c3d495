/**
 * Scripted behaviours of the embedded local agent, chosen per endpoint in config:
 * `echo` returns the caller's audio, `tone` plays a sine; either can hang up after a delay.
 */
import type { AudioFormat } from '../protocol.js';

export type Behaviour =
  | { kind: 'echo'; hangupAfterMs?: number }
  | { kind: 'tone'; frequency: number; amplitude?: number; hangupAfterMs?: number };

export interface AgentSocket {
  sendAudio(frame: Buffer): void;
  sendJson(message: object): void;
}

export interface RunningBehaviour {
  onAudio(frame: Buffer): void;
  stop(): void;
}

/** How far ahead of real time the tone is sent, like a TTS engine streaming its output. */
const TONE_LEAD_MS = 200;
const TONE_CHUNK_MS = 100;

export function startBehaviour(
  behaviour: Behaviour,
  format: AudioFormat,
  socket: AgentSocket,
): RunningBehaviour {
  const timers: NodeJS.Timeout[] = [];
  if (behaviour.hangupAfterMs !== undefined) {
    timers.push(
      setTimeout(
        () => socket.sendJson({ type: 'hangup', reason: 'scripted hang-up' }),
        behaviour.hangupAfterMs,
      ),
    );
  }
  if (behaviour.kind === 'tone') {
    const tone = new ToneGenerator(
      behaviour.frequency,
      behaviour.amplitude ?? 0.3,
      format.sampleRate,
    );
    const chunkSamples = (format.sampleRate * TONE_CHUNK_MS) / 1000;
    socket.sendAudio(tone.next((format.sampleRate * TONE_LEAD_MS) / 1000));
    timers.push(setInterval(() => socket.sendAudio(tone.next(chunkSamples)), TONE_CHUNK_MS));
  }
  return {
    onAudio(frame: Buffer) {
      if (behaviour.kind === 'echo') socket.sendAudio(frame);
    },
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}

/** A phase-continuous sine as 16-bit little-endian PCM. */
export class ToneGenerator {
  private phase = 0;

  constructor(
    private readonly frequency: number,
    private readonly amplitude: number,
    private readonly sampleRate: number,
  ) {}

  next(samples: number): Buffer {
    const out = Buffer.alloc(samples * 2);
    const step = (2 * Math.PI * this.frequency) / this.sampleRate;
    for (let i = 0; i < samples; i++) {
      out.writeInt16LE(Math.round(Math.sin(this.phase) * this.amplitude * 32767), i * 2);
      this.phase += step;
      if (this.phase > 2 * Math.PI) this.phase -= 2 * Math.PI;
    }
    return out;
  }
}
