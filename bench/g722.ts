/**
 * G.722 per 20 ms frame, three coders in one run: telgate's WebAssembly coder, the TypeScript
 * coder it replaced (now the test reference), and spandsp's C when its timing program is given
 * (SPANDSP_BENCH=path to g722_spandsp built from ../shared/bench-floor/g722_spandsp.c). Method as
 * spandsp's program: the best of 7 rounds of 20 000 frames of a 440 + 3100 Hz mix.
 * Usage: node --import tsx bench/g722.ts
 */
import { execFileSync } from 'node:child_process';
import { G722Decoder, G722Encoder } from '../src/codecs/g722.js';
import { ReferenceG722Decoder, ReferenceG722Encoder } from '../test/helpers/g722-reference.js';

const FRAMES = 20_000;
const ROUNDS = 7;
const pcm = new Int16Array(320);
for (let i = 0; i < pcm.length; i++) {
  const t = i / 16000;
  pcm[i] = Math.round(
    8000 * Math.sin(2 * Math.PI * 440 * t) + 3000 * Math.sin(2 * Math.PI * 3100 * t),
  );
}

interface Coder {
  encoder: { encode(pcm: Int16Array, out: Uint8Array): number };
  decoder: { decode(codes: Uint8Array, pcm: Int16Array): number };
}

function best(coder: Coder): { encode: number; decode: number } {
  const codes = new Uint8Array(160);
  const out = new Int16Array(320);
  let encode = Infinity;
  let decode = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (let f = 0; f < FRAMES; f++) coder.encoder.encode(pcm, codes);
    const t1 = process.hrtime.bigint();
    for (let f = 0; f < FRAMES; f++) coder.decoder.decode(codes, out);
    const t2 = process.hrtime.bigint();
    encode = Math.min(encode, Number(t1 - t0) / FRAMES / 1000);
    decode = Math.min(decode, Number(t2 - t1) / FRAMES / 1000);
  }
  return { encode, decode };
}

const rows: Array<[string, { encode: number; decode: number }]> = [];
const spandsp = process.env.SPANDSP_BENCH;
if (spandsp) {
  const out = execFileSync(spandsp, { encoding: 'utf8' });
  const m = /best: encode ([\d.]+) us, decode ([\d.]+) us/.exec(out);
  if (m) rows.push(['spandsp (C)', { encode: Number(m[1]), decode: Number(m[2]) }]);
}
rows.push([
  'telgate, WebAssembly',
  best({ encoder: new G722Encoder(), decoder: new G722Decoder() }),
]);
rows.push([
  'TypeScript reference',
  best({ encoder: new ReferenceG722Encoder(), decoder: new ReferenceG722Decoder() }),
]);
console.log('| G.722, µs per 20 ms frame | encode | decode |');
console.log('| --- | --- | --- |');
for (const [name, t] of rows)
  console.log(`| ${name} | ${t.encode.toFixed(2)} | ${t.decode.toFixed(2)} |`);
