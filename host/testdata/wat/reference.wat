;; The ABI reference guest, written by hand without any SDK to show that
;; the megaflow plugin ABI (docs/ABI.md) needs nothing from Go. The Go
;; guest host/testdata/guests/reference behaves identically, and the host
;; tests run the same cases against both. Failure triggers, request hook
;; only: a body starting with '!' traps, '@' loops forever, '#' passes an
;; out-of-bounds pointer to output.
;;
;; Rebuild the committed reference.wasm with `make wat` (needs wabt).
(module
  (import "megaflow" "output" (func $output (param i32 i32)))
  (import "megaflow" "set_header" (func $set_header (param i32 i32 i32 i32)))
  (import "megaflow" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 2)

  ;; Constant strings, at fixed addresses below the input buffer.
  (data (i32.const 16) "x-abi")            ;; 16, 5
  (data (i32.const 32) "v1")               ;; 32, 2
  (data (i32.const 48) "empty body")       ;; 48, 10
  (data (i32.const 64) "short")            ;; 64, 5
  (data (i32.const 80) "[]:=;")            ;; 80 "[", 81 "]", 82 ":", 83 "=", 84 ";"
  (data (i32.const 96) "bad config")       ;; 96, 10
  (data (i32.const 112) "no inputs")       ;; 112, 9
  (data (i32.const 128) "no such successor") ;; 128, 17
  (data (i32.const 160) "reference guest started") ;; 160, 23

  ;; The input buffer starts at 64 KiB and grows with the memory.
  (global $buf i32 (i32.const 65536))

  (func (export "megaflow_abi_version") (result i32) (i32.const 1))

  (func (export "megaflow_hooks") (result i32) (i32.const 31))

  ;; megaflow_buffer grows memory so that size bytes fit after $buf, and
  ;; returns 0 when it cannot.
  (func (export "megaflow_buffer") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need
      (i32.shr_u
        (i32.add (i32.add (global.get $buf) (local.get $size)) (i32.const 65535))
        (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (return (i32.const 0))))))
    (global.get $buf))

  (func (export "megaflow_init") (param $n i32) (result i32)
    (call $log (i32.const 0) (i32.const 160) (i32.const 23))
    (if (i32.and (i32.gt_u (local.get $n) (i32.const 0))
                 (i32.eq (i32.load8_u (global.get $buf)) (i32.const 120))) ;; 'x'
      (then
        (call $output (i32.const 96) (i32.const 10))
        (return (i32.const 400))))
    (i32.const 0))

  (func (export "megaflow_request") (param $body i32) (param $headers i32) (result i32)
    (local $first i32)
    (call $set_header (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 2))
    (if (i32.eqz (local.get $body))
      (then
        (call $output (i32.const 48) (i32.const 10))
        (return (i32.const 400))))
    (local.set $first (i32.load8_u (global.get $buf)))
    (if (i32.eq (local.get $first) (i32.const 33)) ;; '!'
      (then unreachable))
    (if (i32.eq (local.get $first) (i32.const 64)) ;; '@'
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $first) (i32.const 35)) ;; '#'
      (then (call $output (i32.const 0xFFFFFF00) (i32.const 4096))))
    (if (i32.eq (local.get $first) (i32.const 115)) ;; 's'
      (then
        (call $output (i32.const 64) (i32.const 5))
        (return (i32.const 203))))
    ;; The new body is the body followed by the header block as received.
    (call $output (global.get $buf) (i32.add (local.get $body) (local.get $headers)))
    (i32.const 0))

  ;; bracket outputs "[" then n input bytes then "]".
  (func $bracket (param $n i32)
    (call $output (i32.const 80) (i32.const 1))
    (call $output (global.get $buf) (local.get $n))
    (call $output (i32.const 81) (i32.const 1)))

  (func (export "megaflow_response") (param $n i32) (result i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
    (call $bracket (local.get $n))
    (i32.const 0))

  (func (export "megaflow_event") (param $n i32) (result i32)
    (local $first i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $first (i32.load8_u (global.get $buf)))
    (if (i32.eq (local.get $first) (i32.const 100)) ;; 'd': drop
      (then (return (i32.const 0))))
    (if (i32.eq (local.get $first) (i32.const 107)) ;; 'k': keep
      (then (return (i32.const 1))))
    (call $bracket (local.get $n))
    (i32.const 0))

  ;; megaflow_aggregate outputs "name:type=data;" for each input.
  (func (export "megaflow_aggregate") (param $count i32) (param $n i32) (result i32)
    (local $p i32)
    (local $len i32)
    (if (i32.eqz (local.get $count))
      (then
        (call $output (i32.const 112) (i32.const 9))
        (return (i32.const 422))))
    (local.set $p (global.get $buf))
    (loop $next
      ;; name
      (local.set $len (i32.load (local.get $p)))
      (call $output (i32.add (local.get $p) (i32.const 4)) (local.get $len))
      (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (local.get $len))))
      (call $output (i32.const 82) (i32.const 1))
      ;; content type
      (local.set $len (i32.load (local.get $p)))
      (call $output (i32.add (local.get $p) (i32.const 4)) (local.get $len))
      (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (local.get $len))))
      (call $output (i32.const 83) (i32.const 1))
      ;; data
      (local.set $len (i32.load (local.get $p)))
      (call $output (i32.add (local.get $p) (i32.const 4)) (local.get $len))
      (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (local.get $len))))
      (call $output (i32.const 84) (i32.const 1))
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (br_if $next (local.get $count)))
    (i32.const 0))

  ;; $equal compares n bytes at a and b.
  (func $equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; megaflow_route selects the successors whose name equals the output,
  ;; or all when the output is empty.
  (func (export "megaflow_route") (param $out i32) (param $names i32) (param $count i32) (result i32)
    (local $p i32)
    (local $len i32)
    (local $found i32)
    (if (i32.eqz (local.get $out)) (then (return (i32.const 1))))
    (local.set $p (i32.add (global.get $buf) (local.get $out)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $len (i32.load (local.get $p)))
        (if (i32.and
              (i32.eq (local.get $len) (local.get $out))
              (call $equal (i32.add (local.get $p) (i32.const 4)) (global.get $buf) (local.get $len)))
          (then
            (call $output (local.get $p) (i32.add (i32.const 4) (local.get $len)))
            (local.set $found (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.add (i32.const 4) (local.get $len))))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $next)))
    (if (i32.eqz (local.get $found))
      (then
        (call $output (i32.const 128) (i32.const 17))
        (return (i32.const 404))))
    (i32.const 0))
)
