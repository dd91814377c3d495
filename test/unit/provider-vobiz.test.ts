/** Vobiz's wire as telgate reads and writes it: signatures, the Stream answer, stream messages. */
import { describe, expect, it } from 'vitest';
import {
  readVobizMessage,
  vobizSignatureValid,
  vobizStreamAnswer,
} from '../../src/call/provider-vobiz.js';

const url = 'https://tg.example.test/telephony/vobiz/inbound/echo';

describe('Vobiz signatures', () => {
  // HMAC-SHA256 with token "vobiz-token", base64; computed apart from telgate (Python's hmac).
  const v3 = 'TK2m5rGBPgo7o5IpUGgZKELwlcH6jvoJ7zaG6Pa+wS8=';
  const v2 = 'xORpcWyXVY82HzIuOMVhJPHKY/UqawuoLEsVoC+Dp14=';

  it('accepts V3 (url.nonce) and V2 (urlnonce), the query left out', () => {
    const headers = { 'x-vobiz-signature-v3': v3, 'x-vobiz-signature-v3-nonce': 'nonce-123' };
    expect(vobizSignatureValid('vobiz-token', url, headers)).toBe(true);
    expect(vobizSignatureValid('vobiz-token', `${url}?x=1`, headers)).toBe(true);
    expect(
      vobizSignatureValid('vobiz-token', url, {
        'x-vobiz-signature-v2': v2,
        'x-vobiz-signature-v2-nonce': 'nonce-123',
      }),
    ).toBe(true);
  });

  it('refuses another nonce, URL or token, and no signature', () => {
    const headers = { 'x-vobiz-signature-v3': v3, 'x-vobiz-signature-v3-nonce': 'nonce-124' };
    expect(vobizSignatureValid('vobiz-token', url, headers)).toBe(false);
    const good = { 'x-vobiz-signature-v3': v3, 'x-vobiz-signature-v3-nonce': 'nonce-123' };
    expect(vobizSignatureValid('vobiz-token', `${url}x`, good)).toBe(false);
    expect(vobizSignatureValid('other', url, good)).toBe(false);
    expect(vobizSignatureValid('vobiz-token', url, {})).toBe(false);
    expect(vobizSignatureValid('', url, good)).toBe(false);
  });
});

describe('Vobiz stream', () => {
  it('answers with the stream URL escaped', () => {
    expect(vobizStreamAnswer('wss://h/s/a?b=1&c=2')).toContain('>wss://h/s/a?b=1&amp;c=2</Stream>');
  });

  it('reads start, media and the acknowledgements; reports the rest', () => {
    expect(
      readVobizMessage(
        '{"event":"start","sequenceNumber":1,"start":{"callId":"c1","streamId":"s1"}}',
      ),
    ).toEqual({ event: 'start', callId: 'c1', streamId: 's1' });
    expect(
      readVobizMessage('{"event":"media","streamId":"s1","media":{"payload":"AQI="}}'),
    ).toEqual({
      event: 'media',
      payload: Buffer.from([1, 2]),
    });
    expect(readVobizMessage('{"event":"playedStream","name":"x"}')).toEqual({
      event: 'mark',
      name: 'x',
    });
    expect(readVobizMessage('{"event":"clearedAudio","streamId":"s1"}')).toEqual({
      event: 'other',
    });
    for (const text of [
      '',
      '1',
      '{"event":"start","start":{}}',
      '{"event":"media"}',
      '{"event":"x"}',
    ]) {
      expect(readVobizMessage(text).event).toBe('unusable');
    }
  });
});
