/**
 * CPU time per 20 ms frame of each media path, in one process: decode (+ resample) for caller →
 * agent, (resample +) encode for agent → caller. Method: 20 000 frames per path after 2 000 of
 * warm-up, timed with process.hrtime.bigint(); 7 rounds over all paths, the median printed, so
 * a moment of load on the shared machine moves one run of every path, not one path's figure.
 * Usage: npm run bench:codecs
 */
import { g711Decode, g711Encode } from '../src/codecs/g711.js';
import { createCodec } from '../src/codecs/codec.js';
import { G722Decoder, G722Encoder } from '../src/codecs/g722.js';
import { OPUS_BITRATE, OPUS_COMPLEXITY } from '../src/codecs/opus.js';
import opus from '@discordjs/opus';
import type { OpusEncoder as Encoder } from '@discordjs/opus';
import { l16Decode, l16Encode } from '../src/codecs/l16.js';
import { Resampler } from '../src/codecs/resampler.js';

type Path = { name: string; run: () => void };

function tone(rate: number): Int16Array {
  const pcm = new Int16Array(rate / 50);
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return pcm;
}

function paths(): Path[] {
  const narrow = tone(8000);
  const ulaw = Buffer.alloc(160);
  g711Encode('ulaw', narrow, ulaw);
  const pcm8 = new Int16Array(160);
  const out: Path[] = [];
  for (const rate of [16000, 24000] as const) {
    const up = new Resampler(8000, rate);
    const down = new Resampler(rate, 8000);
    const wide = tone(rate);
    const wideOut = new Int16Array(rate / 50);
    out.push(
      {
        name: `PCMU → slin${rate / 1000} (decode + resample)`,
        run: () => {
          g711Decode('ulaw', ulaw, pcm8);
          up.process(pcm8, wideOut);
        },
      },
      {
        name: `slin${rate / 1000} → PCMU (resample + encode)`,
        run: () => {
          down.process(wide, pcm8);
          g711Encode('ulaw', pcm8, ulaw);
        },
      },
    );
  }
  const l16 = Buffer.alloc(640);
  const wide16 = tone(16000);
  const pcm16 = new Int16Array(320);
  l16Encode(wide16, l16);
  const g722Encoder = new G722Encoder();
  const g722Decoder = new G722Decoder();
  const g722 = Buffer.alloc(160);
  g722Encoder.encode(wide16, g722);
  out.push(
    { name: 'G722 → slin16 (decode)', run: () => g722Decoder.decode(g722, pcm16) },
    { name: 'slin16 → G722 (encode)', run: () => g722Encoder.encode(wide16, g722) },
    { name: 'L16/16000 → slin16 (decode)', run: () => l16Decode(l16, pcm16) },
    ...opusPaths(),
    { name: 'slin16 → L16/16000 (encode)', run: () => l16Encode(wide16, l16) },
    { name: 'PCMU → slin (decode, no resample)', run: () => g711Decode('ulaw', ulaw, pcm8) },
  );
  return out;
}

/**
 * Opus at the link rate (24 kHz): no resampling on either side. telgate's own packets are CELT;
 * a peer that sends in-band FEC (the VoIP application) sends hybrid ones, timed apart.
 */
function opusPaths(): Path[] {
  const codec = createCodec({ name: 'opus', clockRate: 48000, audioRate: 24000 });
  const wide24 = tone(24000);
  const packet = Buffer.alloc(1500);
  const length = codec.encode(wide24, packet);
  const { OpusEncoder } = opus as unknown as { OpusEncoder: typeof Encoder };
  const peer = new OpusEncoder(24000, 1);
  peer.applyEncoderCTL(4000, 2048); // OPUS_SET_APPLICATION: VOIP
  peer.applyEncoderCTL(4012, 1); // OPUS_SET_INBAND_FEC
  peer.applyEncoderCTL(4014, 10); // OPUS_SET_PACKET_LOSS_PERC
  peer.applyEncoderCTL(4010, OPUS_COMPLEXITY); // OPUS_SET_COMPLEXITY, as telgate's
  peer.setBitrate(OPUS_BITRATE);
  const pcmBytes = Buffer.from(wide24.buffer, wide24.byteOffset, wide24.byteLength);
  for (let i = 0; i < 10; i++) peer.encode(pcmBytes); // past the encoder's start
  const withFec = peer.encode(pcmBytes);
  const pcm24 = new Int16Array(480 * 6);
  return [
    {
      name: 'opus → slin24 (decode, CELT as telgate sends)',
      run: () => codec.decode(packet.subarray(0, length), pcm24),
    },
    {
      name: 'opus → slin24 (decode, hybrid with FEC as a VoIP peer sends)',
      run: () => codec.decode(withFec, pcm24),
    },
    {
      name: 'opus → slin24 (a lost frame concealed by libopus PLC)',
      run: () => codec.conceal!(pcm24),
    },
    {
      name: "opus → slin24 (a lost frame rebuilt from the next hybrid packet's FEC)",
      run: () => codec.recover!(withFec, pcm24),
    },
    {
      name: `slin24 → opus (encode, complexity ${OPUS_COMPLEXITY}, ${OPUS_BITRATE / 1000} kbit/s, CELT)`,
      run: () => codec.encode(wide24, packet),
    },
    {
      name: `slin24 → opus (encode as a VoIP peer: hybrid with FEC, complexity ${OPUS_COMPLEXITY})`,
      run: () => peer.encode(pcmBytes),
    },
  ];
}

function time(path: Path, frames: number): number {
  for (let i = 0; i < 2000; i++) path.run();
  const start = process.hrtime.bigint();
  for (let i = 0; i < frames; i++) path.run();
  return Number(process.hrtime.bigint() - start) / 1000 / frames;
}

console.log('| path | µs per 20 ms frame (median of 7 runs × 20 000 frames) |');
console.log('| --- | --- |');
// Rounds over all paths, so a burst of load on the shared machine hits every path alike.
const all = paths();
const runs = all.map(() => [] as number[]);
for (let round = 0; round < 7; round++) all.forEach((path, i) => runs[i].push(time(path, 20_000)));
all.forEach((path, i) => {
  const median = runs[i].sort((a, b) => a - b)[3];
  console.log(`| ${path.name} | ${median.toFixed(2)} |`);
});
