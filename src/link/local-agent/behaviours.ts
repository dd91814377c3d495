/**
 * Scripted behaviours of the embedded local agent, chosen per endpoint in config:
 * `echo` returns the caller's audio, `tone` plays a sine, `script` only runs its steps. Any of
 * them can run timed steps (play a tone for a while, mark, clear, send DTMF, hang up, drop the
 * socket, ask for a transfer) and act as a slow consumer, so every link feature can be driven from a plain SIP call.
 * A behaviour lives as long as its session: after a dropped socket it carries on with the
 * resumed one.
 */
import type { AudioFormat } from '../protocol.js';

export type BehaviourStep = { atMs: number } & (
  | { do: 'play'; frequency: number; ms: number; amplitude?: number }
  | { do: 'mark'; name: string }
  | { do: 'clear' }
  | { do: 'dtmf'; digits: string; durationMs?: number }
  | { do: 'hangup'; reason?: string }
  /** Terminates the socket without a close frame; `refuseResume` turns the reconnect away. */
  | { do: 'drop'; refuseResume?: boolean }
  | {
      do: 'transfer';
      target: string;
      mode: 'blind' | 'bridged' | 'warm';
      timeoutMs?: number;
      headers?: Record<string, string>;
    }
  /** A warm transfer's end: join the caller to the target, or go back to the caller. */
  | { do: 'transfer-complete' }
  | { do: 'transfer-cancel' }
);

interface Common {
  hangupAfterMs?: number;
  steps?: BehaviourStep[];
  /** Stops reading the socket (TCP back-pressure), like an agent that cannot keep up. */
  slowConsumer?: boolean;
}

export type Behaviour = Common &
  ({ kind: 'echo' } | { kind: 'tone'; frequency: number; amplitude?: number } | { kind: 'script' });

/** What a behaviour can do to its session, whatever the dialect on the wire. */
export interface AgentSocket {
  sendAudio(pcm: Buffer): void;
  mark(name: string): void;
  clear(): void;
  dtmf(digits: string, durationMs: number): void;
  hangup(reason: string): void;
  drop(refuseResume: boolean): void;
  pauseReading(): void;
  transfer(request: { target: string; mode: string; timeoutMs?: number; headers?: object }): void;
  transferEnd(complete: boolean): void;
}

export interface RunningBehaviour {
  onAudio(pcm: Buffer): void;
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
  const at = (ms: number, action: () => void) => timers.push(setTimeout(action, ms));
  if (behaviour.hangupAfterMs !== undefined) {
    at(behaviour.hangupAfterMs, () => socket.hangup('scripted hang-up'));
  }
  for (const step of behaviour.steps ?? []) at(step.atMs, () => runStep(step, format, socket));
  if (behaviour.slowConsumer) socket.pauseReading();
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
    onAudio(pcm: Buffer) {
      if (behaviour.kind === 'echo') socket.sendAudio(pcm);
    },
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}

function runStep(step: BehaviourStep, format: AudioFormat, socket: AgentSocket): void {
  switch (step.do) {
    case 'play': {
      const tone = new ToneGenerator(step.frequency, step.amplitude ?? 0.3, format.sampleRate);
      return socket.sendAudio(tone.next(Math.round((format.sampleRate * step.ms) / 1000)));
    }
    case 'mark':
      return socket.mark(step.name);
    case 'clear':
      return socket.clear();
    case 'dtmf':
      return socket.dtmf(step.digits, step.durationMs ?? 100);
    case 'hangup':
      return socket.hangup(step.reason ?? 'scripted hang-up');
    case 'drop':
      return socket.drop(step.refuseResume ?? false);
    case 'transfer':
      return socket.transfer({
        target: step.target,
        mode: step.mode,
        timeoutMs: step.timeoutMs,
        headers: step.headers,
      });
    case 'transfer-complete':
      return socket.transferEnd(true);
    case 'transfer-cancel':
      return socket.transferEnd(false);
  }
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
