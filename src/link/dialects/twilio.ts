/**
 * A Twilio Media Streams-compatible dialect (bidirectional stream): telgate plays Twilio's
 * part. JSON text frames only, counters as strings, audio as base64 µ-law at 8 kHz. Out:
 * connected, start, media, dtmf, mark (back when played, or cleared), stop. In: media, mark,
 * clear. The protocol has no hang-up message: the agent closing the socket ends the call.
 */
import { randomBytes } from 'node:crypto';
import type { GatewayMessage } from '../protocol.js';
import type { Dialect, DialectInfo, Inbound } from './dialect.js';

export const TWILIO_INFO: DialectInfo = {
  fixedFormat: 'ulaw',
  resumable: false,
  provisioned: false,
};

export function twilioDialect(): Dialect {
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  let sequence = 0;
  let chunk = 0;
  let startedAt = Date.now();
  let callSid = '';
  const event = (name: string, body: object) =>
    JSON.stringify({ event: name, sequenceNumber: String(++sequence), streamSid, ...body });
  return {
    name: 'twilio',
    encodeAudio(frame) {
      return event('media', {
        media: {
          track: 'inbound',
          chunk: String(++chunk),
          timestamp: String(Date.now() - startedAt),
          payload: frame.toString('base64'),
        },
      });
    },
    encodeMessage(message: GatewayMessage) {
      switch (message.type) {
        case 'session.start':
          startedAt = Date.now();
          callSid = message.callId;
          return [
            JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
            event('start', {
              start: {
                accountSid: 'telgate',
                streamSid,
                callSid,
                tracks: ['inbound'],
                customParameters: {
                  from: message.from,
                  to: message.to,
                  endpointId: message.endpointId,
                },
                mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
              },
            }),
          ];
        case 'dtmf':
          return [event('dtmf', { dtmf: { track: 'inbound_track', digit: message.digit } })];
        case 'mark':
          return [event('mark', { mark: { name: message.name } })];
        case 'session.end':
          return [event('stop', { stop: { accountSid: 'telgate', callSid } })];
        default:
          return [];
      }
    },
    decode(data, isBinary): Inbound {
      if (isBinary) return undefined; // Twilio answers binary frames with a warning, no more
      let msg: { event?: unknown; media?: { payload?: unknown }; mark?: { name?: unknown } };
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        return undefined;
      }
      if (msg.event === 'media' && typeof msg.media?.payload === 'string') {
        return { audio: Buffer.from(msg.media.payload, 'base64') };
      }
      if (msg.event === 'mark' && typeof msg.mark?.name === 'string') {
        return { message: { type: 'mark', name: msg.mark.name.slice(0, 200) } };
      }
      if (msg.event === 'clear') return { message: { type: 'clear' } };
      return undefined;
    },
    closeMeansHangup: (code) => code === 1000 || code === 1005,
  };
}
