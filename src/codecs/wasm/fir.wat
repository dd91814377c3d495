;; Polyphase FIR kernels of the resampler (see ../resampler.ts for the memory layout), on f32
;; samples with two SIMD accumulators so the adds do not wait on each other.
;; Each phase has an entry of four i32 in the table: its taps' address, the byte offset of its
;; first input from the window start, its length in bytes (a multiple of 32), and (decimate
;; only) the address of the input stream it applies to.
;;  - interpolate (1:up) and decimate (down:1) compute four consecutive outputs per SIMD lane
;;    group, one tap at a time: no horizontal sums;
;;  - resample (up:down, e.g. 16 <-> 24 kHz) computes one output at a time, four taps per lane.
;; Compiled into fir-wasm.ts by `npm run wasm`; a test checks the two agree.
(module
  (import "env" "memory" (memory 1))
  (func (export "resample")
    (param $table i32) (param $buf i32) (param $history i32) (param $in i32) (param $out i32)
    (param $up i32) (param $down i32) (param $nIn i32) (param $nOut i32) (param $t0 i32)
    (local $k i32) (local $phase i32) (local $x i32) (local $c i32) (local $r i32)
    (local $tapBytes i32) (local $entry i32) (local $dst i32) (local $a v128) (local $b v128)
    (local $s f32)
    ;; The new int16 input, as f32, goes right after the kept history.
    (local.set $dst (i32.add (local.get $buf) (i32.shl (local.get $history) (i32.const 2))))
    (block $converted
      (loop $convert
        (br_if $converted (i32.ge_u (local.get $k) (local.get $nIn)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
          (f32.convert_i32_s
            (i32.load16_s (i32.add (local.get $in) (i32.shl (local.get $k) (i32.const 1))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $convert)))
    ;; Output t (in upsampled samples) uses phase t mod up over inputs up to t div up.
    (local.set $x
      (i32.add (local.get $buf)
        (i32.shl (i32.div_u (local.get $t0) (local.get $up)) (i32.const 2))))
    (local.set $phase (i32.rem_u (local.get $t0) (local.get $up)))
    (local.set $k (i32.const 0))
    (block $finished
      (loop $output
        (br_if $finished (i32.ge_u (local.get $k) (local.get $nOut)))
        (local.set $entry (i32.add (local.get $table) (i32.shl (local.get $phase) (i32.const 4))))
        (local.set $c (i32.load (local.get $entry)))
        (local.set $tapBytes (i32.load offset=8 (local.get $entry)))
        (local.set $r (i32.load offset=4 (local.get $entry)))
        (local.set $c (i32.sub (local.get $c) (local.get $r)))
        (local.set $tapBytes (i32.add (local.get $tapBytes) (local.get $r)))
        (local.set $a (v128.const f32x4 0 0 0 0))
        (local.set $b (v128.const f32x4 0 0 0 0))
        (loop $tap
          (local.set $a
            (f32x4.add (local.get $a)
              (f32x4.mul
                (v128.load (i32.add (local.get $c) (local.get $r)))
                (v128.load (i32.add (local.get $x) (local.get $r))))))
          (local.set $b
            (f32x4.add (local.get $b)
              (f32x4.mul
                (v128.load offset=16 (i32.add (local.get $c) (local.get $r)))
                (v128.load offset=16 (i32.add (local.get $x) (local.get $r))))))
          (local.set $r (i32.add (local.get $r) (i32.const 32)))
          (br_if $tap (i32.lt_u (local.get $r) (local.get $tapBytes))))
        (local.set $a (f32x4.add (local.get $a) (local.get $b)))
        (local.set $s
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
            (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
        (i32.store16
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 1)))
          (i32.trunc_f32_s
            (f32.nearest (f32.min (f32.max (local.get $s) (f32.const -32768)) (f32.const 32767)))))
        ;; Next output: `down` further, carrying whole input samples out of the phase.
        (local.set $phase (i32.add (local.get $phase) (local.get $down)))
        (block $carried
          (loop $carry
            (br_if $carried (i32.lt_u (local.get $phase) (local.get $up)))
            (local.set $phase (i32.sub (local.get $phase) (local.get $up)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $carry)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $output)))
    ;; Keep the last `history` samples at the front for the next frame.
    (memory.copy
      (local.get $buf)
      (i32.add (local.get $buf) (i32.shl (local.get $nIn) (i32.const 2)))
      (i32.shl (local.get $history) (i32.const 2))))
  ;; Rounds four sums to int16 (saturating) and stores the first `count` of them `step` apart.
  (func $store4 (param $v v128) (param $at i32) (param $step i32) (param $count i32)
    (local.set $v
      (i16x8.narrow_i32x4_s
        (i32x4.trunc_sat_f32x4_s (f32x4.nearest (local.get $v)))
        (v128.const i32x4 0 0 0 0)))
    (v128.store16_lane 0 (local.get $at) (local.get $v))
    (if (i32.le_u (local.get $count) (i32.const 1)) (then (return)))
    (local.set $at (i32.add (local.get $at) (local.get $step)))
    (v128.store16_lane 1 (local.get $at) (local.get $v))
    (if (i32.le_u (local.get $count) (i32.const 2)) (then (return)))
    (local.set $at (i32.add (local.get $at) (local.get $step)))
    (v128.store16_lane 2 (local.get $at) (local.get $v))
    (if (i32.le_u (local.get $count) (i32.const 3)) (then (return)))
    (local.set $at (i32.add (local.get $at) (local.get $step)))
    (v128.store16_lane 3 (local.get $at) (local.get $v)))

  ;; Four outputs of one phase: taps at $c over inputs from $x, the same for each lane shifted by
  ;; one input.
  (func $dot4 (param $c i32) (param $x i32) (param $length i32) (result v128)
    (local $r i32) (local $a v128) (local $b v128)
    (loop $tap
      (local.set $a
        (f32x4.add (local.get $a)
          (f32x4.mul
            (v128.load32_splat (i32.add (local.get $c) (local.get $r)))
            (v128.load (i32.add (local.get $x) (local.get $r))))))
      (local.set $b
        (f32x4.add (local.get $b)
          (f32x4.mul
            (v128.load32_splat offset=4 (i32.add (local.get $c) (local.get $r)))
            (v128.load offset=4 (i32.add (local.get $x) (local.get $r))))))
      (local.set $r (i32.add (local.get $r) (i32.const 8)))
      (br_if $tap (i32.lt_u (local.get $r) (local.get $length))))
    (f32x4.add (local.get $a) (local.get $b)))

  ;; 1:up. Output i*up + p is phase p over inputs up to i.
  (func (export "interpolate")
    (param $table i32) (param $buf i32) (param $history i32) (param $in i32) (param $out i32)
    (param $up i32) (param $nIn i32)
    (local $k i32) (local $p i32) (local $i i32) (local $entry i32) (local $dst i32)
    (local.set $dst (i32.add (local.get $buf) (i32.shl (local.get $history) (i32.const 2))))
    (block $converted
      (loop $convert
        (br_if $converted (i32.ge_u (local.get $k) (local.get $nIn)))
        (f32.store
          (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
          (f32.convert_i32_s
            (i32.load16_s (i32.add (local.get $in) (i32.shl (local.get $k) (i32.const 1))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $convert)))
    (loop $phase
      (local.set $entry (i32.add (local.get $table) (i32.shl (local.get $p) (i32.const 4))))
      (local.set $i (i32.const 0))
      (loop $group
        (call $store4
          (call $dot4
            (i32.load (local.get $entry))
            (i32.add
              (i32.add (local.get $buf) (i32.shl (local.get $i) (i32.const 2)))
              (i32.load offset=4 (local.get $entry)))
            (i32.load offset=8 (local.get $entry)))
          (i32.add (local.get $out)
            (i32.shl
              (i32.add (i32.mul (local.get $i) (local.get $up)) (local.get $p))
              (i32.const 1)))
          (i32.shl (local.get $up) (i32.const 1))
          (i32.sub (local.get $nIn) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $group (i32.lt_u (local.get $i) (local.get $nIn))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br_if $phase (i32.lt_u (local.get $p) (local.get $up))))
    (memory.copy
      (local.get $buf)
      (i32.add (local.get $buf) (i32.shl (local.get $nIn) (i32.const 2)))
      (i32.shl (local.get $history) (i32.const 2))))

  ;; down:1, on the input split into `down` streams: stream s holds inputs e*down + down-1-s, so
  ;; output k sums, over the streams, stream s's taps over its inputs up to k.
  (func (export "decimate")
    (param $table i32) (param $history i32) (param $in i32) (param $out i32)
    (param $down i32) (param $nIn i32)
    (local $nOut i32) (local $s i32) (local $e i32) (local $entry i32) (local $dst i32)
    (local $src i32) (local $k i32) (local $sum v128) (local $stream i32)
    (local.set $nOut (i32.div_u (local.get $nIn) (local.get $down)))
    (loop $split
      (local.set $entry (i32.add (local.get $table) (i32.shl (local.get $s) (i32.const 4))))
      (local.set $dst
        (i32.add (i32.load offset=12 (local.get $entry))
          (i32.shl (local.get $history) (i32.const 2))))
      (local.set $src
        (i32.add (local.get $in)
          (i32.shl (i32.sub (i32.sub (local.get $down) (i32.const 1)) (local.get $s)) (i32.const 1))))
      (local.set $e (i32.const 0))
      (block $done
        (loop $element
          (br_if $done (i32.ge_u (local.get $e) (local.get $nOut)))
          (f32.store
            (i32.add (local.get $dst) (i32.shl (local.get $e) (i32.const 2)))
            (f32.convert_i32_s (i32.load16_s (local.get $src))))
          (local.set $src (i32.add (local.get $src) (i32.shl (local.get $down) (i32.const 1))))
          (local.set $e (i32.add (local.get $e) (i32.const 1)))
          (br $element)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br_if $split (i32.lt_u (local.get $s) (local.get $down))))
    (block $finished
      (loop $group
        (br_if $finished (i32.ge_u (local.get $k) (local.get $nOut)))
        (local.set $sum (v128.const f32x4 0 0 0 0))
        (local.set $s (i32.const 0))
        (loop $streams
          (local.set $entry (i32.add (local.get $table) (i32.shl (local.get $s) (i32.const 4))))
          (local.set $sum
            (f32x4.add (local.get $sum)
              (call $dot4
                (i32.load (local.get $entry))
                (i32.add
                  (i32.add (i32.load offset=12 (local.get $entry))
                    (i32.shl (local.get $k) (i32.const 2)))
                  (i32.load offset=4 (local.get $entry)))
                (i32.load offset=8 (local.get $entry)))))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br_if $streams (i32.lt_u (local.get $s) (local.get $down))))
        (call $store4
          (local.get $sum)
          (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 1)))
          (i32.const 2)
          (i32.sub (local.get $nOut) (local.get $k)))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $group)))
    (local.set $s (i32.const 0))
    (loop $keep
      (local.set $stream
        (i32.load offset=12
          (i32.add (local.get $table) (i32.shl (local.get $s) (i32.const 4)))))
      (memory.copy
        (local.get $stream)
        (i32.add (local.get $stream) (i32.shl (local.get $nOut) (i32.const 2)))
        (i32.shl (local.get $history) (i32.const 2)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br_if $keep (i32.lt_u (local.get $s) (local.get $down)))))
)
