/** Twilio's wire as telgate reads and writes it: signatures, TwiML, Media Streams messages. */
import { describe, expect, it } from 'vitest';
import { FINAL_PROGRESS, statusReport } from '../../src/call/provider-wire.js';
import {
  twilioConnectStream,
  twilioRejectBusy,
  twilioSignatureValid,
} from '../../src/call/provider-twilio.js';
import {
  readTwilioMessage,
  twilioClear,
  twilioMedia,
} from '../../src/call/provider-twilio-stream.js';

describe('Twilio webhook signatures', () => {
  // Twilio's published example (its security documentation and the twilio package's tests).
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+12349013030',
    Digits: '1234',
    From: '+12349013030',
    To: '+18005551212',
  };
  const signature = '0/KCTR6DLpKmkAf8muzZqo1nDgQ=';

  it('accepts the published test vector', () => {
    expect(twilioSignatureValid('12345', signature, url, params)).toBe(true);
  });

  it('refuses a tampered parameter, another URL, another token, no signature', () => {
    expect(twilioSignatureValid('12345', signature, url, { ...params, Digits: '1235' })).toBe(
      false,
    );
    expect(twilioSignatureValid('12345', signature, url.replace('foo=1', 'foo=2'), params)).toBe(
      false,
    );
    expect(twilioSignatureValid('54321', signature, url, params)).toBe(false);
    expect(twilioSignatureValid('12345', undefined, url, params)).toBe(false);
    expect(twilioSignatureValid('', signature, url, params)).toBe(false);
  });
});

describe('TwiML', () => {
  it('connects to a bidirectional stream with its parameters, escaped', () => {
    const twiml = twilioConnectStream('wss://tg.example.com/telephony/twilio/stream/abc', {
      agent: 'a&b',
    });
    expect(twiml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://tg.example.com/telephony/twilio/stream/abc"><Parameter name="agent" value="a&amp;b"/></Stream></Connect></Response>',
    );
    expect(twilioRejectBusy()).toContain('<Reject reason="busy"/>');
  });
});

describe('Media Streams messages', () => {
  it('reads what Twilio sends', () => {
    expect(readTwilioMessage('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({
      event: 'other',
    });
    const start = readTwilioMessage(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: 'MZ1',
        start: {
          accountSid: 'AC1',
          streamSid: 'MZ1',
          callSid: 'CA1',
          tracks: ['inbound'],
          customParameters: { agent: 'echo', n: 3 },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    expect(start).toEqual({ event: 'start', callId: 'CA1', streamId: 'MZ1' });
    const media = readTwilioMessage(
      '{"event":"media","sequenceNumber":"2","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"}}',
    );
    expect(media).toEqual({ event: 'media', payload: Buffer.from([0xff, 0xff, 0x00]) });
    expect(
      readTwilioMessage(
        '{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"#"}}',
      ),
    ).toEqual({ event: 'dtmf', digit: '#' });
    expect(readTwilioMessage('{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}')).toEqual({
      event: 'mark',
      name: 'm1',
    });
    expect(readTwilioMessage('{"event":"stop","streamSid":"MZ1","stop":{}}')).toEqual({
      event: 'stop',
    });
  });

  it('reports, never throws on, what is not a Twilio message', () => {
    for (const text of [
      '',
      'nope',
      'null',
      '[]',
      '{"event":"media"}',
      '{"event":"dtmf","dtmf":{"digit":"55"}}',
      '{"event":"start","start":{}}',
      '{"event":"other"}',
    ]) {
      expect(readTwilioMessage(text).event).toBe('unusable');
    }
  });

  it('writes media and clear for the stream', () => {
    expect(JSON.parse(twilioMedia('MZ1', Buffer.from([1, 2])))).toEqual({
      event: 'media',
      streamSid: 'MZ1',
      media: { payload: 'AQI=' },
    });
    expect(JSON.parse(twilioClear('MZ1'))).toEqual({ event: 'clear', streamSid: 'MZ1' });
  });
});

describe('placed calls’ status callbacks, in one vocabulary', () => {
  it('maps each provider’s status words, keeping the word and the detail', () => {
    expect(statusReport('CA1', 'in-progress')).toEqual({
      callId: 'CA1',
      progress: 'answered',
      providerStatus: 'in-progress',
    });
    expect(statusReport('u-1', 'TIMEOUT', 'NO_ANSWER')).toEqual({
      callId: 'u-1',
      progress: 'no-answer',
      providerStatus: 'timeout',
      detail: 'NO_ANSWER',
    });
    expect(statusReport(undefined, 'cancel').progress).toBe('canceled');
    expect(statusReport('', 'queued')).toMatchObject({ callId: undefined, progress: 'initiated' });
    expect(statusReport('x', 'weird')).toMatchObject({ progress: 'unknown' });
    expect(statusReport('x', undefined)).toMatchObject({
      progress: 'unknown',
      providerStatus: 'unknown',
    });
    for (const final of ['completed', 'busy', 'no-answer', 'failed', 'canceled'] as const)
      expect(FINAL_PROGRESS.has(final)).toBe(true);
    expect(FINAL_PROGRESS.has('answered')).toBe(false);
  });
});
