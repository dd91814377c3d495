/** Exotel's wire as telgate reads it: Basic credentials, snake_case (and camelCase) events. */
import { describe, expect, it } from 'vitest';
import { basicAuthValid, readExotelMessage } from '../../src/call/provider-exotel.js';

const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

describe('Exotel', () => {
  it('takes only the account key and token as Basic credentials', () => {
    expect(basicAuthValid(basic('key:token'), 'key', 'token')).toBe(true);
    expect(basicAuthValid(basic('key:tokex'), 'key', 'token')).toBe(false);
    expect(basicAuthValid(basic('key:token:'), 'key', 'token')).toBe(false);
    expect(basicAuthValid('Bearer x', 'key', 'token')).toBe(false);
    expect(basicAuthValid(undefined, 'key', 'token')).toBe(false);
    expect(basicAuthValid(basic(':'), '', '')).toBe(false);
  });

  it('reads start in snake_case or camelCase, media, dtmf and stop', () => {
    expect(
      readExotelMessage(
        '{"event":"start","sequence_number":1,"stream_sid":"s1","start":{"stream_sid":"s1","call_sid":"c1","media_format":{"encoding":"base64","sample_rate":"8000"}}}',
      ),
    ).toEqual({ event: 'start', callId: 'c1', streamId: 's1' });
    expect(
      readExotelMessage('{"event":"start","streamSid":"s2","start":{"callSid":"c2"}}'),
    ).toEqual({
      event: 'start',
      callId: 'c2',
      streamId: 's2',
    });
    expect(readExotelMessage('{"event":"media","media":{"chunk":1,"payload":"AAE="}}')).toEqual({
      event: 'media',
      payload: Buffer.from([0, 1]),
    });
    expect(readExotelMessage('{"event":"dtmf","dtmf":{"digit":"9","duration":"120"}}')).toEqual({
      event: 'dtmf',
      digit: '9',
    });
    expect(readExotelMessage('{"event":"stop","stop":{"reason":"callended"}}')).toEqual({
      event: 'stop',
    });
    for (const text of ['', '{"event":"start","start":{}}', '{"event":"media"}', '{"event":"x"}']) {
      expect(readExotelMessage(text).event).toBe('unusable');
    }
  });
});
