import { describe, expect, it } from 'vitest';
import { g711Decode, g711Encode, g711Silence } from '../../src/codecs/g711.js';
import { SessionDescription } from '../../src/call/session-description.js';
import { negotiate } from '../../src/codecs/negotiate.js';
import { answerDirection, buildAnswer, parseAudioOffer, SdpError } from '../../src/codecs/sdp.js';
import { dominantFrequency } from '../helpers/audio.js';

describe('G.711', () => {
  it('encodes silence to the standard codes and decodes them to near zero', () => {
    const out = new Uint8Array(1);
    g711Encode('ulaw', new Int16Array([0]), out);
    expect(out[0]).toBe(g711Silence('ulaw'));
    g711Encode('alaw', new Int16Array([0]), out);
    expect(out[0]).toBe(g711Silence('alaw'));
  });

  it.each(['ulaw', 'alaw'] as const)(
    '%s round trip stays within the quantisation step and keeps a tone',
    (law) => {
      const n = 8000;
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++)
        pcm[i] = Math.round(Math.sin((2 * Math.PI * 1000 * i) / 8000) * 20000);
      const coded = new Uint8Array(n);
      const back = new Int16Array(n);
      g711Encode(law, pcm, coded);
      g711Decode(law, coded, back);
      for (let i = 0; i < n; i++)
        expect(Math.abs(back[i] - pcm[i])).toBeLessThanOrEqual(Math.abs(pcm[i]) / 16 + 16);
      expect(dominantFrequency(back.subarray(0, 160), 8000)).toBe(1000);
    },
  );

  it('every code decodes and re-encodes to itself (except the two zeros of µ-law)', () => {
    for (const law of ['ulaw', 'alaw'] as const) {
      const codes = Uint8Array.from({ length: 256 }, (_v, i) => i);
      const pcm = new Int16Array(256);
      const again = new Uint8Array(256);
      g711Decode(law, codes, pcm);
      g711Encode(law, pcm, again);
      const mismatches = [...codes].filter((c, i) => again[i] !== c);
      expect(mismatches.length).toBeLessThanOrEqual(law === 'ulaw' ? 1 : 0);
    }
  });
});

const offer = (m: string, extra = '') =>
  `v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP ${m}\r\n${extra}`;

describe('SDP and negotiation', () => {
  it('reads static and dynamic payloads, ptime and direction', () => {
    const o = parseAudioOffer(
      offer(
        '8 0 101',
        'a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:30\r\na=sendonly\r\n',
      ),
    );
    expect(o.codecs.map((c) => c.name)).toEqual(['PCMA', 'PCMU', 'TELEPHONE-EVENT']);
    expect(o).toMatchObject({ address: '10.0.0.1', port: 4000, ptime: 30, direction: 'sendonly' });
    expect(answerDirection(o.direction)).toBe('recvonly');
  });

  it('answers CN (RFC 3389) at the chosen codec’s clock rate, when enabled', () => {
    const withCn = offer(
      '9 0 13 101 118',
      'a=rtpmap:101 telephone-event/8000\r\na=rtpmap:118 CN/16000\r\n',
    );
    const on = new SessionDescription(['PCMU'], '127.0.0.1', 8000, undefined, true).answer(withCn);
    expect(on.ok && on.plan.negotiated.comfortNoise).toMatchObject({
      payloadType: 13,
      clockRate: 8000,
    });
    expect(on.ok && on.sdp).toMatch(/m=audio \d+ RTP\/AVP 0 101 13\r\n/);
    expect(on.ok && on.sdp).toContain('a=rtpmap:13 CN/8000');
    const off = new SessionDescription(['PCMU'], '127.0.0.1', 8000).answer(withCn);
    expect(off.ok && off.plan.negotiated.comfortNoise).toBeUndefined();
    expect(off.ok && off.sdp).toMatch(/m=audio \d+ RTP\/AVP 0 101\r\n/);
    // Only CN/16000 offered: nothing at G.711's 8000 Hz clock to answer.
    const wide = offer('0 118', 'a=rtpmap:118 CN/16000\r\n');
    const r = new SessionDescription(['PCMU'], '127.0.0.1', 8000, undefined, true).answer(wide);
    expect(r.ok && r.plan.negotiated.comfortNoise).toBeUndefined();
  });

  it("follows the endpoint preference order, keeping the caller's payload type", () => {
    const o = parseAudioOffer(offer('8 0'));
    const r = negotiate(o, ['PCMU', 'PCMA']);
    expect(r.ok && r.value.codec).toMatchObject({ name: 'PCMU', payloadType: 0 });
    const a = negotiate(o, ['PCMA']);
    expect(a.ok && a.value.codec.name).toBe('PCMA');
  });

  it('reports what was offered and supported when nothing matches', () => {
    const r = negotiate(parseAudioOffer(offer('18', 'a=rtpmap:18 G729/8000\r\n')));
    expect(r).toEqual({
      ok: false,
      offered: ['G729/8000'],
      supported: [
        'PCMU/8000',
        'PCMA/8000',
        'G722/8000',
        'L16/8000',
        'L16/16000',
        'L16/24000',
        'L16/48000',
        'opus/48000',
      ],
    });
  });

  it.each([
    ['empty', ''],
    ['no audio', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n'],
    ['no address', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'],
    ['DTLS profile', offer('0').replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF')],
  ])('refuses an unusable offer (%s)', (_n, text) => {
    expect(() => parseAudioOffer(text)).toThrow(SdpError);
  });

  it('writes an answer that parses back to the chosen codec', () => {
    const text = buildAnswer({
      address: '127.0.0.1',
      port: 20000,
      sessionId: 7,
      codecs: [{ payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1 }],
      ptime: 20,
      direction: 'sendrecv',
    });
    const back = parseAudioOffer(text);
    expect(back).toMatchObject({
      port: 20000,
      ptime: 20,
      direction: 'sendrecv',
      codecs: [{ name: 'PCMU', payloadType: 0 }],
    });
  });
});
