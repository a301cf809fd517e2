;; A Proxy-Wasm module that turns its request body into hostcalls: the body is a sequence of
;; 44-byte records (op: u32 LE, then 10 u32 LE arguments). op modulo 22 picks the hostcall; an
;; argument with its top bit set becomes a pointer into the body itself (body + low 16 bits), so
;; a fuzzer can hand the host its own serialized maps and strings; any other value is passed as
;; is (arbitrary pointers and lengths). Used by the hostcall fuzz target (fuzz/) and the
;; hostcall robustness test.
(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $proxy_set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $proxy_set_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value" (func $proxy_replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_remove_header_map_value" (func $proxy_remove_header_map_value (param i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $proxy_http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $proxy_set_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $proxy_get_shared_data (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $proxy_define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $proxy_get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $proxy_set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $proxy_enqueue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $proxy_register_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $proxy_resolve_shared_queue (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $proxy_dequeue_shared_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $proxy_set_effective_context (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $proxy_set_tick_period_milliseconds (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (global $body (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  ;; Bump allocator in the first two pages; refuses requests over 64 KiB (returns 0).
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (if (i32.gt_u (local.get $size) (i32.const 65536)) (then (return (i32.const 0))))
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $size)) (i32.const 131072))
      (then (global.set $heap (i32.const 4096))))
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func $arg (param $rec i32) (param $i i32) (result i32)
    (local $v i32)
    (local.set $v (i32.load (i32.add (local.get $rec) (i32.add (i32.const 4) (i32.shl (local.get $i) (i32.const 2))))))
    (if (result i32) (i32.lt_s (local.get $v) (i32.const 0))
      (then (i32.add (global.get $body) (i32.and (local.get $v) (i32.const 65535))))
      (else (local.get $v))))
  (func $step (param $rec i32)
    (block $done
    (block $b21
    (block $b20
    (block $b19
    (block $b18
    (block $b17
    (block $b16
    (block $b15
    (block $b14
    (block $b13
    (block $b12
    (block $b11
    (block $b10
    (block $b9
    (block $b8
    (block $b7
    (block $b6
    (block $b5
    (block $b4
    (block $b3
    (block $b2
    (block $b1
    (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $b10 $b11 $b12 $b13 $b14 $b15 $b16 $b17 $b18 $b19 $b20 $b21 $done (i32.rem_u (i32.load (local.get $rec)) (i32.const 22)))
    ) (drop (call $proxy_log (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_get_buffer_bytes (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_set_buffer_bytes (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_get_header_map_pairs (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_set_header_map_pairs (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_get_header_map_value (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_add_header_map_value (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_replace_header_map_value (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_remove_header_map_value (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_send_local_response (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)) (call $arg (local.get $rec) (i32.const 5)) (call $arg (local.get $rec) (i32.const 6)) (call $arg (local.get $rec) (i32.const 7)))) (br $done)
    ) (drop (call $proxy_http_call (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)) (call $arg (local.get $rec) (i32.const 5)) (call $arg (local.get $rec) (i32.const 6)) (call $arg (local.get $rec) (i32.const 7)) (call $arg (local.get $rec) (i32.const 8)) (call $arg (local.get $rec) (i32.const 9)))) (br $done)
    ) (drop (call $proxy_set_shared_data (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_get_shared_data (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_define_metric (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)))) (br $done)
    ) (drop (call $proxy_get_property (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)))) (br $done)
    ) (drop (call $proxy_set_property (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)))) (br $done)
    ) (drop (call $proxy_enqueue_shared_queue (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_register_shared_queue (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_resolve_shared_queue (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)) (call $arg (local.get $rec) (i32.const 3)) (call $arg (local.get $rec) (i32.const 4)))) (br $done)
    ) (drop (call $proxy_dequeue_shared_queue (call $arg (local.get $rec) (i32.const 0)) (call $arg (local.get $rec) (i32.const 1)) (call $arg (local.get $rec) (i32.const 2)))) (br $done)
    ) (drop (call $proxy_set_effective_context (call $arg (local.get $rec) (i32.const 0)))) (br $done)
    ) (drop (call $proxy_set_tick_period_milliseconds (call $arg (local.get $rec) (i32.const 0)))) (br $done)
    ))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $end i32) (result i32)
    (local $at i32) (local $len i32)
    ;; The body (buffer 0) into memory: pointer at [8], length at [12].
    (if (i32.ne (call $proxy_get_buffer_bytes (i32.const 0) (i32.const 0) (local.get $size) (i32.const 8) (i32.const 12)) (i32.const 0))
      (then (return (i32.const 0))))
    (global.set $body (i32.load (i32.const 8)))
    (local.set $len (i32.load (i32.const 12)))
    (block $out
      (loop $next
        (br_if $out (i32.gt_u (i32.add (local.get $at) (i32.const 44)) (local.get $len)))
        (call $step (i32.add (global.get $body) (local.get $at)))
        (local.set $at (i32.add (local.get $at) (i32.const 44)))
        (br $next)))
    (i32.const 0))
)
