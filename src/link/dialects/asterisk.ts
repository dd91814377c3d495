/**
 * An Asterisk chan_websocket-compatible dialect: telgate plays Asterisk's part in outbound
 * mode (it connects to the agent). First a MEDIA_START event, then binary frames of raw audio
 * in the link format both ways; DTMF_END and MEDIA_MARK_PROCESSED events. Commands from the
 * agent, as JSON (`{"command":"MARK_MEDIA","correlation_id":"x"}`) or plain text
 * (`MARK_MEDIA x`): HANGUP, MARK_MEDIA, FLUSH_MEDIA; the others (ANSWER, buffering, pause,
 * status) are accepted and ignored, as telgate answers and paces by itself. As in Asterisk,
 * FLUSH_MEDIA drops queued marks without a word, and a normal close ends the call.
 */
import type { GatewayMessage, LinkFormat } from '../protocol.js';
import type { Dialect, DialectInfo, Inbound } from './dialect.js';

export const ASTERISK_INFO: DialectInfo = { resumable: false, provisioned: false };

/** Bytes of 20 ms in each format, Asterisk's `optimal_frame_size`. */
const FRAME_BYTES: Record<LinkFormat, number> = {
  ulaw: 160,
  alaw: 160,
  slin: 320,
  slin16: 640,
  slin24: 960,
  slin48: 1920,
};

/** Commands are at most 128 bytes in Asterisk; longer ones are ignored there, and here. */
const MAX_COMMAND_BYTES = 128;

export function asteriskDialect(): Dialect {
  let channelId = '';
  const event = (name: string, body: object = {}) =>
    JSON.stringify({ event: name, channel_id: channelId, ...body });
  return {
    name: 'asterisk',
    encodeAudio: (frame) => frame,
    encodeMessage(message: GatewayMessage) {
      switch (message.type) {
        case 'session.start':
          channelId = message.callId;
          return [
            event('MEDIA_START', {
              connection_id: message.sessionId,
              channel: `telgate/${message.endpointId}`,
              format: message.audio.format,
              optimal_frame_size: FRAME_BYTES[message.audio.format],
              ptime: 20,
              channel_variables: { CALLERID: message.from, EXTEN: message.to },
            }),
          ];
        case 'dtmf':
          return [event('DTMF_END', { digit: message.digit })];
        case 'mark':
          return message.status === 'played'
            ? [event('MEDIA_MARK_PROCESSED', { correlation_id: message.name })]
            : [];
        default:
          return [];
      }
    },
    decode(data, isBinary): Inbound {
      if (isBinary) return { audio: data };
      if (data.length > MAX_COMMAND_BYTES) return undefined;
      const { command, argument } = readCommand(data.toString('utf8').trim());
      switch (command) {
        case 'HANGUP':
          return { message: { type: 'hangup', reason: 'HANGUP' } };
        case 'MARK_MEDIA':
          return { message: { type: 'mark', name: argument } };
        case 'FLUSH_MEDIA':
          return { message: { type: 'clear' } };
        default:
          return undefined;
      }
    },
    closeMeansHangup: (code) => code === 1000 || code === 1005,
  };
}

function readCommand(text: string): { command: string; argument: string } {
  if (text.startsWith('{')) {
    try {
      const json = JSON.parse(text) as { command?: unknown; correlation_id?: unknown };
      return {
        command: typeof json.command === 'string' ? json.command : '',
        argument: typeof json.correlation_id === 'string' ? json.correlation_id : '',
      };
    } catch {
      return { command: '', argument: '' };
    }
  }
  const space = text.indexOf(' ');
  return space < 0
    ? { command: text, argument: '' }
    : { command: text.slice(0, space), argument: text.slice(space + 1).trim() };
}
