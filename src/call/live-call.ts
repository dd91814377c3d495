/**
 * A live call as the gateway sees it, wherever it runs: a Call on this thread, or one in a
 * call worker (call-workers.ts).
 */
import type { CallQuality } from '../link/protocol.js';
import type { EndCause } from './failure.js';

export interface LiveCall {
  readonly callId: string;
  /** The agent session's id, once the link is open. */
  readonly sessionId: string | undefined;
  /** The negotiated caller codec (`PCMU/8000`) and the link format, once answered. */
  readonly audio: { codec: string; linkFormat: string } | undefined;
  /** The caller leg's local RTP port, once it has one. */
  readonly mediaPort: number | undefined;
  /** Times the agent's WebSocket was resumed after a drop. */
  readonly linkResumes: number;
  quality(): CallQuality;
  /** Ends the call (BYE, or a refusal while unanswered); resolves when the BYE is done. */
  end(cause: EndCause, detail?: string): Promise<void>;
}

/**
 * The call timer that has run out for a call answered at `answeredAt` whose caller has been
 * silent `silentForMs`, if one has: its maximum duration, or the media timeout.
 */
export function expiredTimer(
  answeredAt: number,
  silentForMs: number,
  calls: { maxDurationSeconds: number; mediaTimeoutSeconds: number },
  now = Date.now(),
): { cause: EndCause; detail: string } | undefined {
  if (now - answeredAt >= calls.maxDurationSeconds * 1000) {
    return { cause: 'max-duration', detail: `${calls.maxDurationSeconds} s` };
  }
  if (silentForMs >= calls.mediaTimeoutSeconds * 1000) {
    return { cause: 'media-timeout', detail: `none for ${calls.mediaTimeoutSeconds} s` };
  }
  return undefined;
}
