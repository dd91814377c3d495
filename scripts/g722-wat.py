#!/usr/bin/env python3
"""Writes src/codecs/wasm/g722.wat: the G.722 coder with ITU-T G.722 block 4 (and the
saturations) expanded inline for each band, which WebAssembly needs for speed (no inlining of
calls in its compilers). Usage: python3 scripts/g722-wat.py > src/codecs/wasm/g722.wat && npm run wasm"""
import struct
FIELDS = 's sp sz nb det r1 r2 a1 a2 p1 p2 d1 d2 d3 d4 d5 d6 b1 b2 b3 b4 b5 b6'.split()
OFF = {n: 4*i for i, n in enumerate(FIELDS)}
tables = [
 ('Q6', [0,35,72,110,150,190,233,276,323,370,422,473,530,587,650,714,786,858,940,1023,1121,1219,1339,1458,1612,1765,1980,2195,2557,2919,0,0]),
 ('ILN', [0,63,62,31,30,29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,0]),
 ('ILP', [0,61,60,59,58,57,56,55,54,53,52,51,50,49,48,47,46,45,44,43,42,41,40,39,38,37,36,35,34,33,32,0]),
 ('WL', [-60,-30,58,172,334,538,1198,3042]),
 ('RL42', [0,7,6,5,4,3,2,1,7,6,5,4,3,2,1,0]),
 ('ILB', [2048,2093,2139,2186,2233,2282,2332,2383,2435,2489,2543,2599,2656,2714,2774,2834,2896,2960,3025,3091,3158,3228,3298,3371,3444,3520,3597,3676,3756,3838,3922,4008]),
 ('QM4', [0,-20456,-12896,-8968,-6288,-4240,-2584,-1200,20456,12896,8968,6288,4240,2584,1200,0]),
 ('QM2', [-7408,-1616,7408,1616]),
 ('QM6', [-136,-136,-136,-136,-24808,-21904,-19008,-16704,-14984,-13512,-12280,-11192,-10232,-9360,-8576,-7856,-7192,-6576,-6000,-5456,-4944,-4464,-4008,-3576,-3168,-2776,-2400,-2032,-1688,-1360,-1040,-728,24808,21904,19008,16704,14984,13512,12280,11192,10232,9360,8576,7856,7192,6576,6000,5456,4944,4464,4008,3576,3168,2776,2400,2032,1688,1360,1040,728,432,136,-432,-136]),
 ('IHN', [0,1,0]), ('IHP', [0,3,2]), ('WH', [0,-214,798]), ('RH2', [2,1,2,1]),
]
T = {}; off = 0; data = []
for name, vals in tables:
    T[name] = off; data.append((name, off, vals)); off += 4*len(vals)
assert off <= 1024
def tbl(name, idx): return f'(i32.load offset={T[name]} (i32.shl {idx} (i32.const 2)))'
def datastr(vals): return ''.join('\\%02x' % b for b in struct.pack('<%di' % len(vals), *vals))
def g(n): return f'(local.get ${n})'
def c(v): return f'(i32.const {v})'
def sat(e):
    # $t holds e while both bounds are tested (nested sats inside e finish before the tee).
    return f'(select {c(32767)} (select {c(-32768)} (local.tee $t {e}) (i32.lt_s {g("t")} {c(-32768)})) (i32.gt_s {g("t")} {c(32767)}))'
def mul(a, b): return f'(i32.mul {a} {b})'
def add(a, b): return f'(i32.add {a} {b})'
def sub(a, b): return f'(i32.sub {a} {b})'
def shr(a, n): return f'(i32.shr_s {a} {c(n)})'
def setl(n, e): return f'(local.set ${n} {e})'
def clamp(n, lo, hi): return f'(if (i32.gt_s {g(n)} {c(hi)}) (then {setl(n, c(hi))})) (if (i32.lt_s {g(n)} {c(lo)}) (then {setl(n, c(lo))}))'

def scale(B, delta, nbmax, base):
    return '\n'.join([
      setl(f'{B}nb', add(shr(mul(g(f'{B}nb'), c(127)), 7), delta)),
      f'(if (i32.lt_s {g(B+"nb")} {c(0)}) (then {setl(B+"nb", c(0))}))',
      f'(if (i32.gt_s {g(B+"nb")} {c(nbmax)}) (then {setl(B+"nb", c(nbmax))}))',
      setl('wd2', sub(c(base), shr(g(B+'nb'), 11))),
      setl('wd3', tbl('ILB', f'(i32.and {shr(g(B+"nb"), 6)} {c(31)})')),
      setl(f'{B}det', f'(i32.shl (if (result i32) (i32.lt_s {g("wd2")} {c(0)}) (then (i32.shl {g("wd3")} (i32.sub {c(0)} {g("wd2")}))) (else (i32.shr_s {g("wd3")} {g("wd2")}))) {c(2)})'),
    ])

def update(B, dx):
    L = []
    L.append(setl('r0', sat(add(g(B+'s'), dx))))
    L.append(setl('p0', sat(add(g(B+'sz'), dx))))
    L.append(setl('sg0', shr(g('p0'), 15)))
    L.append(setl('sg1', shr(g(B+'p1'), 15)))
    L.append(setl('sg2', shr(g(B+'p2'), 15)))
    L.append(setl('wd1', sat(f'(i32.shl {g(B+"a1")} {c(2)})')))
    L.append(setl('wd2', f'(select (i32.sub {c(0)} {g("wd1")}) {g("wd1")} (i32.eq {g("sg0")} {g("sg1")}))'))
    L.append(f'(if (i32.gt_s {g("wd2")} {c(32767)}) (then {setl("wd2", c(32767))}))')
    L.append(setl('ap2', add(add(f'(select {c(128)} {c(-128)} (i32.eq {g("sg0")} {g("sg2")}))', shr(g('wd2'), 7)), shr(mul(g(B+'a2'), c(32512)), 15))))
    L.append(clamp('ap2', -12288, 12288))
    L.append(setl('ap1', sat(add(f'(select {c(192)} {c(-192)} (i32.eq {g("sg0")} {g("sg1")}))', shr(mul(g(B+'a1'), c(32640)), 15)))))
    L.append(setl('wd3', sat(sub(c(15360), g('ap2')))))
    L.append(f'(if (i32.gt_s {g("ap1")} {g("wd3")}) (then {setl("ap1", g("wd3"))}) (else (if (i32.lt_s {g("ap1")} (i32.sub {c(0)} {g("wd3")})) (then {setl("ap1", sub(c(0), g("wd3")))}))))')
    L.append(setl('step', f'(select {c(0)} {c(128)} (i32.eqz {dx}))'))
    L.append(setl('sgd', shr(dx, 15)))
    def vclamp(e):
        return f'(i32x4.max_s (i32x4.min_s {e} (i32x4.splat {c(32767)})) (i32x4.splat {c(-32768)}))'
    def upzero(bv, dv):
        same = f'(i32x4.eq (i32x4.shr_s (local.get ${B}{dv}) {c(15)}) (i32x4.splat {g("sgd")}))'
        wd = f'(v128.bitselect (i32x4.splat {g("step")}) (i32x4.splat (i32.sub {c(0)} {g("step")})) {same})'
        leak = f'(i32x4.shr_s (i32x4.mul (local.get ${B}{bv}) (i32x4.splat {c(32640)})) {c(15)})'
        return f'(local.set ${B}{bv} {vclamp(f"(i32x4.add {wd} {leak})")})'
    L.append(';; UPZERO on the old differences, four taps a lane group')
    L.append(upzero('B0', 'D0'))
    L.append(upzero('B1', 'D1'))
    L.append(';; DELAYA for the zero section: [dx d1 d2 d3] [d4 d5 0 0]')
    L.append(f'(local.set ${B}D1 (i8x16.shuffle 12 13 14 15 16 17 18 19 24 25 26 27 28 29 30 31 (local.get ${B}D0) (local.get ${B}D1)))')
    L.append(f'(local.set ${B}D0 (i8x16.shuffle 0 1 2 3 16 17 18 19 20 21 22 23 24 25 26 27 (i32x4.splat {dx}) (local.get ${B}D0)))')
    L.append(setl(f'{B}r2', g(B+'r1')))
    L.append(setl(f'{B}r1', g('r0')))
    L.append(setl(f'{B}p2', g(B+'p1')))
    L.append(setl(f'{B}p1', g('p0')))
    L.append(setl(f'{B}a1', g('ap1')))
    L.append(setl(f'{B}a2', g('ap2')))
    L.append(setl(f'{B}sp', sat(add(shr(mul(g('ap1'), sat(f'(i32.shl {g(B+"r1")} {c(1)})')), 15), shr(mul(g('ap2'), sat(f'(i32.shl {g(B+"r2")} {c(1)})')), 15)))))
    def filtez(bv, dv):
        return f'(i32x4.shr_s (i32x4.mul (local.get ${B}{bv}) {vclamp(f"(i32x4.shl (local.get ${B}{dv}) {c(1)})")}) {c(15)})'
    L.append(';; FILTEZ: the six products, then their sum across the lanes (d lanes 6-7 are 0)')
    L.append(f'(local.set $acc (i32x4.add {filtez("B0", "D0")} {filtez("B1", "D1")}))')
    sz = add(add('(i32x4.extract_lane 0 (local.get $acc))', '(i32x4.extract_lane 1 (local.get $acc))'), add('(i32x4.extract_lane 2 (local.get $acc))', '(i32x4.extract_lane 3 (local.get $acc))'))
    L.append(setl(f'{B}sz', sat(sz)))
    L.append(setl(f'{B}s', sat(add(g(B+'sp'), g(B+'sz')))))
    return '\n'.join(L)

def adapt_low(ilow):
    return '\n'.join([
        setl('ril', shr(ilow, 2)),
        setl('dq', shr(mul(g('Ldet'), tbl('QM4', g('ril'))), 15)),
        scale('L', tbl('WL', tbl('RL42', g('ril'))), 18432, 8),
        update('L', g('dq')),
    ])

def adapt_high(ihigh):
    return '\n'.join([
        setl('dq', shr(mul(g('Hdet'), tbl('QM2', ihigh)), 15)),
        scale('H', tbl('WH', tbl('RH2', ihigh)), 22528, 10),
        update('H', g('dq')),
    ])

EVEN = [(1,-11),(3,53),(5,-156),(7,362),(9,-805),(11,3876),(13,951),(15,-210),(17,32),(19,12),(21,-11),(23,3)]
ODD = [(0,3),(2,-11),(4,12),(6,32),(8,-210),(10,951),(12,3876),(14,-805),(16,362),(18,-156),(20,53),(22,-11)]
KQ = {}
for i, k in EVEN + ODD: KQ[i] = k
def qmf_simd():
    """Both QMF sums at once: lanes 0 and 2 of $acc add to the odd-tap sum, 1 and 3 to the even."""
    e = None
    for v in range(6):
        consts = ' '.join(str(KQ[4*v + j]) for j in range(4))
        t = f'(i32x4.mul (v128.load offset={16*v} {g("x")}) (v128.const i32x4 {consts}))'
        e = t if e is None else f'(i32x4.add {e} {t})'
    return '\n'.join([
        f'(local.set $acc {e})',
        setl('sumOdd', add('(i32x4.extract_lane 0 (local.get $acc))', '(i32x4.extract_lane 2 (local.get $acc))')),
        setl('sumEven', add('(i32x4.extract_lane 1 (local.get $acc))', '(i32x4.extract_lane 3 (local.get $acc))')),
    ])
def qmf(taps):
    e = None
    for i, k in taps:
        t = mul(f'(i32.load offset={4*i} {g("x")})', c(k))
        e = t if e is None else add(e, t)
    return e

SCALARS = [f for f in FIELDS if not (f[0] in 'db' and f[1:].isdigit())]
state_locals = ' '.join(f'(local ${b}{f} i32)' for b in 'LH' for f in SCALARS) + ' ' + ' '.join(f'(local ${b}{v} v128)' for b in 'LH' for v in ('D0', 'D1', 'B0', 'B1'))
temps = ' '.join(f'(local ${n} i32)' for n in 't r0 p0 sg0 sg1 sg2 wd wd1 wd2 wd3 ap1 ap2 step sgd ril dq x n i lo hi mid ilow ihigh el eh sumEven sumOdd rlow rhigh code s'.split())
LOW2 = '(v128.const i32x4 -1 -1 0 0)'
def load_state():
    L = []
    for b, base in (('L', 0), ('H', 96)):
        for f in SCALARS:
            L.append(setl(f'{b}{f}', f'(i32.load offset={base + OFF[f]} {g("state")})'))
        # d1-d4 | d5 d6 0 0 and b1-b4 | b5 b6 0 0: the zero section's two vectors each.
        L.append(f'(local.set ${b}D0 (v128.load offset={base + OFF["d1"]} {g("state")}))')
        L.append(f'(local.set ${b}D1 (v128.and (v128.load offset={base + OFF["d5"]} {g("state")}) {LOW2}))')
        L.append(f'(local.set ${b}B0 (v128.load offset={base + OFF["b1"]} {g("state")}))')
        L.append(f'(local.set ${b}B1 (v128.and (v128.load offset={base + OFF["b5"]} {g("state")}) {LOW2}))')
    return '\n'.join(L)
def store_state():
    L = []
    for b, base in (('L', 0), ('H', 96)):
        for f in SCALARS:
            L.append(f'(i32.store offset={base + OFF[f]} {g("state")} {g(b+f)})')
        L.append(f'(v128.store offset={base + OFF["d1"]} {g("state")} (local.get ${b}D0))')
        L.append(f'(v128.store64_lane offset={base + OFF["d5"]} 0 {g("state")} (local.get ${b}D1))')
        L.append(f'(v128.store offset={base + OFF["b1"]} {g("state")} (local.get ${b}B0))')
        L.append(f'(v128.store64_lane offset={base + OFF["b5"]} 0 {g("state")} (local.get ${b}B1))')
    return '\n'.join(L)

def indent(text, n):
    return '\n'.join(' ' * n + line for line in text.split('\n'))

encode_body = f'''{load_state()}
(memory.copy {g("work")} (i32.add {g("state")} {c(192)}) {c(88)})
(block $copied
  (loop $copy
    (br_if $copied (i32.ge_u {g("n")} (i32.shl {g("pairs")} {c(1)})))
    (i32.store offset=88 (i32.add {g("work")} (i32.shl {g("n")} {c(2)}))
      (i32.load16_s (i32.add {g("pcm")} (i32.shl {g("n")} {c(1)}))))
    {setl("n", add(g("n"), c(1)))}
    (br $copy)))
{setl("n", c(0))}
(block $encoded
  (loop $pair
    (br_if $encoded (i32.ge_u {g("n")} {g("pairs")}))
    {setl("x", add(g("work"), f'(i32.shl {g("n")} {c(3)})'))}
{indent(qmf_simd(), 4)}
    ;; Low band: blocks 1L (SUBTRA, QUANTL), 2L, 3L, 4.
    {setl("el", sat(sub(shr(add(g("sumEven"), g("sumOdd")), 14), g("Ls"))))}
    {setl("wd", f'(select {g("el")} (i32.sub {c(-1)} {g("el")}) (i32.ge_s {g("el")} {c(0)}))')}
    {setl("lo", c(1))}
    {setl("hi", c(30))}
    (block $found
      (loop $search
        (br_if $found (i32.ge_s {g("lo")} {g("hi")}))
        {setl("mid", shr(add(g("lo"), g("hi")), 1))}
        (if (i32.lt_s {g("wd")} {shr(mul(tbl("Q6", g("mid")), g("Ldet")), 12)})
          (then {setl("hi", g("mid"))})
          (else {setl("lo", add(g("mid"), c(1)))}))
        (br $search)))
    {setl("ilow", f'(select {tbl("ILN", g("lo"))} {tbl("ILP", g("lo"))} (i32.lt_s {g("el")} {c(0)}))')}
{indent(adapt_low(g("ilow")), 4)}
    ;; High band: blocks 1H (SUBTRA, QUANTH), 2H, 3H, 4.
    {setl("eh", sat(sub(shr(sub(g("sumEven"), g("sumOdd")), 14), g("Hs"))))}
    {setl("wd", f'(select {g("eh")} (i32.sub {c(-1)} {g("eh")}) (i32.ge_s {g("eh")} {c(0)}))')}
    {setl("i", f'(select {c(2)} {c(1)} (i32.ge_s {g("wd")} {shr(mul(c(564), g("Hdet")), 12)}))')}
    {setl("ihigh", f'(select {tbl("IHN", g("i"))} {tbl("IHP", g("i"))} (i32.lt_s {g("eh")} {c(0)}))')}
{indent(adapt_high(g("ihigh")), 4)}
    (i32.store8 (i32.add {g("codes")} {g("n")}) (i32.or (i32.shl {g("ihigh")} {c(6)}) {g("ilow")}))
    {setl("n", add(g("n"), c(1)))}
    (br $pair)))
(memory.copy (i32.add {g("state")} {c(192)}) (i32.add {g("work")} (i32.shl {g("pairs")} {c(3)})) {c(88)})
{store_state()}'''

decode_body = f'''{load_state()}
(memory.copy {g("work")} (i32.add {g("state")} {c(192)}) {c(88)})
(block $decoded
  (loop $pair
    (br_if $decoded (i32.ge_u {g("n")} {g("pairs")}))
    {setl("code", f'(i32.load8_u (i32.add {g("codes")} {g("n")}))')}
    {setl("ilow", f'(i32.and {g("code")} {c(63)})')}
    {setl("ihigh", f'(i32.and (i32.shr_u {g("code")} {c(6)}) {c(3)})')}
    ;; Low band: block 5L (INVQBL, RECONS), 6L (LIMIT), then 2L, 3L, 4.
    {setl("rlow", add(g("Ls"), shr(mul(g("Ldet"), tbl("QM6", g("ilow"))), 15)))}
    {clamp("rlow", -16384, 16383)}
{indent(adapt_low(g("ilow")), 4)}
    ;; High band: 2H, 5H, 6H (the prediction before adaptation), 3H, 4.
    {setl("s", g("Hs"))}
{indent(adapt_high(g("ihigh")), 4)}
    {setl("rhigh", add(g("dq"), g("s")))}
    {clamp("rhigh", -16384, 16383)}
    ;; Receive QMF.
    {setl("x", add(g("work"), f'(i32.shl {g("n")} {c(3)})'))}
    (i32.store offset=88 {g("x")} {add(g("rlow"), g("rhigh"))})
    (i32.store offset=92 {g("x")} {sub(g("rlow"), g("rhigh"))})
{indent(qmf_simd(), 4)}
    (i32.store16 (i32.add {g("pcm")} (i32.shl {g("n")} {c(2)})) {sat(shr(g("sumEven"), 11))})
    (i32.store16 offset=2 (i32.add {g("pcm")} (i32.shl {g("n")} {c(2)})) {sat(shr(g("sumOdd"), 11))})
    {setl("n", add(g("n"), c(1)))}
    (br $pair)))
(memory.copy (i32.add {g("state")} {c(192)}) (i32.add {g("work")} (i32.shl {g("pairs")} {c(3)})) {c(88)})
{store_state()}'''

out = [''';; G.722 at 64 kbit/s (ITU-T G.722 sub-band ADPCM), encoder and decoder, in integer arithmetic
;; as the recommendation specifies; ../g722.ts has the memory layout and the algorithm's blocks.
;; Each coder's state (two bands and the QMF history) lives in its own slot; a frame's work
;; keeps the state in locals (loaded once, stored once) and everything is written inline:
;; calls inside the per-sample loop (block 4, the saturations) cost more than the arithmetic.
;; The QMF's 24 taps run as six i32x4 products over the window, both sums at once; the zero
;; predictor's six taps (UPZERO, DELAYA, FILTEZ) as two i32x4 groups.
;; Generated by scripts/g722-wat.py (the blocks written once, expanded for each band); compiled
;; into g722-wasm.ts by `npm run wasm`; a test checks it bit for bit against the reference.
(module
  (import "env" "memory" (memory 1))''']
for name, o, vals in data:
    out.append(f'  ;; {name}\n  (data (i32.const {o}) "{datastr(vals)}")')
out.append(f'''  ;; Encodes $pairs sample pairs of int16 PCM at $pcm into one code byte each at $codes; $work is
  ;; the QMF buffer (22 history samples, then the frame, as i32); $state is the coder's slot.
  (func (export "encode") (param $state i32) (param $work i32) (param $pcm i32) (param $codes i32)
    (param $pairs i32)
    {state_locals}
    {temps} (local $acc v128)
{indent(encode_body, 4)})
  ;; Decodes $pairs code bytes at $codes into two int16 samples each at $pcm.
  (func (export "decode") (param $state i32) (param $work i32) (param $codes i32) (param $pcm i32)
    (param $pairs i32)
    {state_locals}
    {temps} (local $acc v128)
{indent(decode_body, 4)})
)''')
print('\n'.join(out))
