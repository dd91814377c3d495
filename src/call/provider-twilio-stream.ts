/**
 * Twilio Media Streams, bidirectional, as Twilio's server side of the socket speaks it: the
 * messages Twilio sends (connected, start, media, dtmf, mark, stop) read into typed events, and
 * the ones telgate sends back (media, mark, clear). JSON text frames only; counters are strings;
 * audio is base64 µ-law at 8 kHz. Anything else is reported as unusable, never thrown.
 */

export interface TwilioStart {
  streamSid: string;
  callSid: string;
  accountSid: string;
  customParameters: Record<string, string>;
  encoding: string;
  sampleRate: number;
}

export type TwilioStreamEvent =
  | { event: 'connected' }
  | { event: 'start'; start: TwilioStart }
  | { event: 'media'; payload: Buffer }
  | { event: 'dtmf'; digit: string }
  | { event: 'mark'; name: string }
  | { event: 'stop' }
  | { event: 'unusable'; why: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** One text frame from Twilio. */
export function readTwilioMessage(text: string): TwilioStreamEvent {
  let msg: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') return { event: 'unusable', why: 'not an object' };
    msg = parsed as Record<string, unknown>;
  } catch {
    return { event: 'unusable', why: 'not JSON' };
  }
  const body = (key: string) =>
    (msg[key] && typeof msg[key] === 'object' ? msg[key] : {}) as Record<string, unknown>;
  switch (msg.event) {
    case 'connected':
      return { event: 'connected' };
    case 'start': {
      const start = body('start');
      const format = (start.mediaFormat ?? {}) as Record<string, unknown>;
      const params = (start.customParameters ?? {}) as Record<string, unknown>;
      const streamSid = str(msg.streamSid) ?? str(start.streamSid);
      const callSid = str(start.callSid);
      if (!streamSid || !callSid)
        return { event: 'unusable', why: 'start without streamSid or callSid' };
      return {
        event: 'start',
        start: {
          streamSid,
          callSid,
          accountSid: str(start.accountSid) ?? '',
          customParameters: Object.fromEntries(
            Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'),
          ),
          encoding: str(format.encoding) ?? 'audio/x-mulaw',
          sampleRate: Number(format.sampleRate ?? 8000),
        },
      };
    }
    case 'media': {
      const payload = str(body('media').payload);
      if (payload === undefined) return { event: 'unusable', why: 'media without payload' };
      return { event: 'media', payload: Buffer.from(payload, 'base64') };
    }
    case 'dtmf': {
      const digit = str(body('dtmf').digit);
      if (!digit || !/^[0-9*#A-D]$/.test(digit))
        return { event: 'unusable', why: 'bad dtmf digit' };
      return { event: 'dtmf', digit };
    }
    case 'mark': {
      const name = str(body('mark').name);
      return name === undefined
        ? { event: 'unusable', why: 'mark without name' }
        : { event: 'mark', name };
    }
    case 'stop':
      return { event: 'stop' };
    default:
      return { event: 'unusable', why: `unknown event ${JSON.stringify(msg.event)?.slice(0, 40)}` };
  }
}

/** telgate → Twilio: audio for the caller (µ-law bytes). */
export function twilioMedia(streamSid: string, ulaw: Buffer): string {
  return JSON.stringify({ event: 'media', streamSid, media: { payload: ulaw.toString('base64') } });
}

/** telgate → Twilio: a mark, echoed back once the audio before it has played. */
export function twilioMark(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

/** telgate → Twilio: drop the audio Twilio still holds for the caller. */
export function twilioClear(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
