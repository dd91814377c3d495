/**
 * The local agent's side of each link dialect: how it reads what telgate sends (the session's
 * start and format, audio in the link format, events) and how its behaviours' actions go on
 * the wire. TelPhi's is the full protocol; the Twilio-compatible one has no DTMF sending and
 * hangs up by closing; the Asterisk-compatible one has no DTMF sending either.
 */
import { LINK_FORMAT_RATE, type AudioFormat, type LinkFormat } from '../protocol.js';
import type { DialectName } from '../dialects/dialect.js';

export type WireRead =
  | { start?: AudioFormat; audio?: Buffer; message?: Record<string, unknown>; end?: boolean }
  | 'protocol-error';

/** `close` means: the action is closing the socket normally. */
export type WireOut = Array<string | Buffer> | 'close';

export interface AgentWire {
  read(data: Buffer, isBinary: boolean): WireRead;
  audio(linkBytes: Buffer): string | Buffer;
  mark(name: string): WireOut;
  clear(): WireOut;
  dtmf(digits: string, durationMs: number): WireOut;
  hangup(reason: string): WireOut;
  transfer(request: object): WireOut;
  transferEnd(complete: boolean): WireOut;
}

function parseJson(data: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(data.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function telphiWire(): AgentWire {
  const json = (message: object) => [JSON.stringify(message)];
  return {
    read(data, isBinary) {
      if (isBinary) return { audio: data };
      const message = parseJson(data);
      if (!message) return 'protocol-error';
      return {
        message,
        start: message.type === 'session.start' ? (message.audio as AudioFormat) : undefined,
        end: message.type === 'session.end',
      };
    },
    audio: (bytes) => bytes,
    mark: (name) => json({ type: 'mark', name }),
    clear: () => json({ type: 'clear' }),
    dtmf: (digits, durationMs) => json({ type: 'dtmf.send', digits, durationMs }),
    hangup: (reason) => json({ type: 'hangup', reason }),
    transfer: (request) => json({ type: 'transfer', ...request }),
    transferEnd: (complete) => json({ type: complete ? 'transfer.complete' : 'transfer.cancel' }),
  };
}

function twilioWire(): AgentWire {
  let streamSid = '';
  const event = (name: string, body: object = {}) => [
    JSON.stringify({ event: name, streamSid, ...body }),
  ];
  return {
    read(data, isBinary) {
      if (isBinary) return 'protocol-error';
      const message = parseJson(data);
      if (!message) return 'protocol-error';
      if (message.event === 'media') {
        const payload = (message.media as { payload?: unknown } | undefined)?.payload;
        return typeof payload === 'string' ? { audio: Buffer.from(payload, 'base64') } : {};
      }
      if (message.event === 'start') {
        streamSid = String(message.streamSid ?? '');
        return { message, start: { format: 'ulaw', sampleRate: 8000, channels: 1, frameMs: 20 } };
      }
      return { message, end: message.event === 'stop' };
    },
    audio: (bytes) => event('media', { media: { payload: bytes.toString('base64') } })[0],
    mark: (name) => event('mark', { mark: { name } }),
    clear: () => event('clear'),
    dtmf: () => [],
    hangup: () => 'close',
    transfer: () => [],
    transferEnd: () => [],
  };
}

function asteriskWire(): AgentWire {
  const command = (name: string, extra: object = {}) => [
    JSON.stringify({ command: name, ...extra }),
  ];
  return {
    read(data, isBinary) {
      if (isBinary) return { audio: data };
      const message = parseJson(data);
      if (!message) return 'protocol-error';
      if (message.event === 'MEDIA_START') {
        const format = message.format as LinkFormat;
        if (!(format in LINK_FORMAT_RATE)) return 'protocol-error';
        const start: AudioFormat = {
          format,
          sampleRate: LINK_FORMAT_RATE[format],
          channels: 1,
          frameMs: Number(message.ptime ?? 20),
        };
        return { message, start };
      }
      return { message };
    },
    audio: (bytes) => bytes,
    mark: (name) => command('MARK_MEDIA', { correlation_id: name }),
    clear: () => command('FLUSH_MEDIA'),
    dtmf: () => [],
    hangup: () => command('HANGUP'),
    transfer: () => [],
    transferEnd: () => [],
  };
}

export function agentWire(dialect: DialectName): AgentWire {
  switch (dialect) {
    case 'telphi':
      return telphiWire();
    case 'twilio':
      return twilioWire();
    case 'asterisk':
      return asteriskWire();
  }
}
