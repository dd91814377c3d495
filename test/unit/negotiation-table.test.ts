/**
 * The negotiation table: for each offer and each agent (provider rate, or a pinned link format),
 * the SIP codec telgate picks and the chain it runs.
 */
import { describe, expect, it } from 'vitest';
import { SessionDescription } from '../../src/call/session-description.js';
import { MediaChain } from '../../src/call/media-chain.js';
import { validateConfig } from '../../src/routing/config-load.js';
import { linkFormatFor } from '../../src/routing/resolve.js';
import type { LinkFormat } from '../../src/link/protocol.js';

const sdp = (payloads: string, rtpmaps: string[]) =>
  [
    'v=0',
    'o=- 1 1 IN IP4 192.0.2.1',
    's=-',
    'c=IN IP4 192.0.2.1',
    't=0 0',
    `m=audio 4000 RTP/AVP ${payloads}`,
    ...rtpmaps.map((m) => `a=rtpmap:${m}`),
    '',
  ].join('\r\n');

const OFFERS = {
  'PCMU only': sdp('0', ['0 PCMU/8000']),
  'PCMA+PCMU': sdp('8 0', ['8 PCMA/8000', '0 PCMU/8000']),
  'L16/16000+PCMU': sdp('96 0', ['96 L16/16000', '0 PCMU/8000']),
  'PCMU+L16/24000': sdp('0 97', ['0 PCMU/8000', '97 L16/24000']),
  'G722+PCMU': sdp('9 0', ['9 G722/8000', '0 PCMU/8000']),
  'PCMU+G722+L16/16000': sdp('0 9 96', ['0 PCMU/8000', '9 G722/8000', '96 L16/16000']),
  'opus+G722+PCMU': sdp('111 9 0', ['111 opus/48000/2', '9 G722/8000', '0 PCMU/8000']),
};

/** [offer, link format] → [codec chosen, chain]. */
const TABLE: Array<[keyof typeof OFFERS, LinkFormat, string, string]> = [
  ['PCMU only', 'slin', 'PCMU/8000', 'PCMU/8000 → slin, no resample'],
  ['PCMU only', 'slin16', 'PCMU/8000', 'PCMU/8000 → slin16, resample 8000→16000'],
  ['PCMU only', 'slin24', 'PCMU/8000', 'PCMU/8000 → slin24, resample 8000→24000'],
  ['PCMU only', 'ulaw', 'PCMU/8000', 'PCMU/8000 → ulaw, pass-through'],
  ['PCMA+PCMU', 'slin', 'PCMU/8000', 'PCMU/8000 → slin, no resample'],
  ['PCMA+PCMU', 'alaw', 'PCMA/8000', 'PCMA/8000 → alaw, pass-through'],
  ['L16/16000+PCMU', 'slin', 'PCMU/8000', 'PCMU/8000 → slin, no resample'],
  ['L16/16000+PCMU', 'slin16', 'L16/16000', 'L16/16000 → slin16, no resample'],
  ['L16/16000+PCMU', 'slin24', 'L16/16000', 'L16/16000 → slin24, resample 16000→24000'],
  ['PCMU+L16/24000', 'slin16', 'L16/24000', 'L16/24000 → slin16, resample 24000→16000'],
  ['PCMU+L16/24000', 'slin24', 'L16/24000', 'L16/24000 → slin24, no resample'],
  ['G722+PCMU', 'slin', 'PCMU/8000', 'PCMU/8000 → slin, no resample'],
  ['G722+PCMU', 'slin16', 'G722/8000', 'G722/8000 → slin16, no resample'],
  ['G722+PCMU', 'slin24', 'G722/8000', 'G722/8000 → slin24, resample 16000→24000'],
  ['G722+PCMU', 'ulaw', 'PCMU/8000', 'PCMU/8000 → ulaw, pass-through'],
  ['PCMU+G722+L16/16000', 'slin16', 'G722/8000', 'G722/8000 → slin16, no resample'],
  ['opus+G722+PCMU', 'slin', 'PCMU/8000', 'PCMU/8000 → slin, no resample'],
  ['opus+G722+PCMU', 'slin16', 'G722/8000', 'G722/8000 → slin16, no resample'],
  ['opus+G722+PCMU', 'slin24', 'opus/48000', 'opus/48000 → slin24, no resample'],
  ['opus+G722+PCMU', 'slin48', 'opus/48000', 'opus/48000 → slin48, no resample'],
];

describe('negotiation table', () => {
  it.each(TABLE)('%s offered, link %s → %s', (offer, link, codec, chain) => {
    const chainOf = new MediaChain({
      linkFormat: link,
      jitterMinMs: 20,
      jitterMaxMs: 200,
    });
    const session = new SessionDescription(
      ['PCMU', 'PCMA', 'G722', 'L16', 'opus'],
      '127.0.0.1',
      chainOf.linkRate,
      chainOf.passThroughCodec,
    );
    const result = session.answer(OFFERS[offer]);
    if (!result.ok) throw new Error('refused');
    const chosen = result.plan.negotiated.codec;
    expect(`${chosen.name}/${chosen.clockRate}`).toBe(codec);
    chainOf.setCodec(result.plan.negotiated.description);
    expect(chainOf.describe()).toBe(chain);
    // Only the chosen codec (and telephone-event, when offered) is in the answer.
    expect(result.sdp).toMatch(new RegExp(`m=audio \\d+ RTP/AVP ${chosen.payloadType}\\r\\n`));
  });

  it('the link format follows the provider, unless the endpoint pins one', () => {
    const config = validateConfig({
      providers: { realtime: { nativeFormat: 'slin24' }, stt: { nativeFormat: 'slin16' } },
      baseNumbers: [{ number: '+15550100' }, { number: '+15550200' }, { number: '+15550300' }],
      endpoints: [
        { id: 'a', baseNumber: '+15550100', provider: 'realtime' },
        { id: 'b', baseNumber: '+15550200', provider: 'stt', audio: { linkFormat: 'ulaw' } },
        { id: 'c', baseNumber: '+15550300' },
      ],
    });
    const formats = config.endpoints.map((e) =>
      e.kind === 'web-chat' ? '' : linkFormatFor(e, config),
    );
    expect(formats).toEqual(['slin24', 'ulaw', 'slin']);
  });

  it('an offer of G.729 only is refused with 488 and a Warning naming both sides', () => {
    const session = new SessionDescription(['PCMU', 'PCMA'], '127.0.0.1', 16000);
    const result = session.answer(sdp('18', ['18 G729/8000']));
    expect(result).toMatchObject({
      ok: false,
      rejection: {
        status: 488,
        headers: [
          [
            'warning',
            '305 telgate "Incompatible media format: offered G729/8000; supported PCMU/8000 PCMA/8000"',
          ],
        ],
      },
    });
  });
});
