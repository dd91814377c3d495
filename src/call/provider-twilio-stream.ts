/**
 * Twilio Media Streams, bidirectional, as Twilio's server side of the socket speaks it: the
 * messages Twilio sends (connected, start, media, dtmf, mark, stop) read into typed events, and
 * the ones telgate sends back (media, mark, clear). JSON text frames only; counters are strings;
 * audio is base64 µ-law at 8 kHz. Anything else is reported as unusable, never thrown. What the
 * stream's `start` carries beyond the call and stream ids (custom parameters, the format, always
 * µ-law 8 kHz on a bidirectional stream) telgate does not need: the token already names the call.
 */
import {
  dtmfEvent,
  jsonObject,
  mediaEvent,
  obj,
  str,
  unknownEvent,
  type StreamEvent,
} from './provider-wire.js';

/** One text frame from Twilio, as the provider server reads every provider's. */
export function readTwilioMessage(text: string): StreamEvent {
  const msg = jsonObject(text);
  if (!msg) return { event: 'unusable', why: 'not a JSON object' };
  switch (msg.event) {
    case 'connected':
      return { event: 'other' };
    case 'start': {
      const start = obj(msg.start);
      const streamId = str(msg.streamSid) ?? str(start.streamSid);
      const callId = str(start.callSid);
      if (!streamId || !callId) {
        return { event: 'unusable', why: 'start without streamSid or callSid' };
      }
      return { event: 'start', callId, streamId };
    }
    case 'media':
      return mediaEvent(obj(msg.media).payload);
    case 'dtmf':
      return dtmfEvent(obj(msg.dtmf).digit);
    case 'mark': {
      const name = str(obj(msg.mark).name);
      return name === undefined
        ? { event: 'unusable', why: 'mark without name' }
        : { event: 'mark', name };
    }
    case 'stop':
      return { event: 'stop' };
    default:
      return unknownEvent(msg.event);
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
