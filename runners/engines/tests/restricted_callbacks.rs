//! Callbacks in which Envoy's Wasm host refuses hostcalls, on every engine: inside the
//! allocator (`proxy_on_memory_allocate`, called by the host to return data) only logging,
//! the clock and `poll_oneoff` run; inside the start function (`_initialize`) only logging and
//! the WASI calls of a runtime's start-up. Anything else traps with `restricted_callback`.
//! Seen in Envoy 1.40 on V8 with the allocate probes below: `proxy_log` in the allocator
//! succeeds; `proxy_get_header_map_size` there fails the allocation ("Uncaught Error:
//! restricted_callback") and the request gets a 503.

mod common;

use filterbench_host::{HeaderMap, HttpExchange, PluginSpec};

/// A module whose allocator first runs `in_allocate` (WAT instructions) and whose
/// `_initialize` runs `in_start`; its request-headers callback reads `:path` (the host
/// allocates for the value) and records the status as gauge `s`.
fn probe(in_allocate: &str, in_start: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $size (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "allocating")
  (data (i32.const 32) "starting")
  (data (i32.const 48) ":path")
  (data (i32.const 64) "s")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize") {in_start})
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    {in_allocate}
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $status i32)
    (local.set $status (call $get (i32.const 0) (i32.const 48) (i32.const 5) (i32.const 600) (i32.const 604)))
    (drop (call $define (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (i64.extend_i32_u (local.get $status))))
    (i32.const 0)))"#
    ))
    .expect("valid WAT")
}

const LOG_ALLOCATING: &str = "(drop (call $log (i32.const 2) (i32.const 16) (i32.const 10)))";
const LOG_STARTING: &str = "(drop (call $log (i32.const 2) (i32.const 32) (i32.const 8)))";
const READ_HEADERS: &str = "(drop (call $size (i32.const 0) (i32.const 700)))";
const DEFINE_METRIC: &str =
    "(drop (call $define (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 700)))";

fn exchange() -> HttpExchange {
    HttpExchange {
        request_headers: HeaderMap::from_pairs(&[
            (":method", "GET"),
            (":path", "/probe"),
            (":authority", "h"),
        ]),
        response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
        ..HttpExchange::default()
    }
}

fn start_everywhere(wasm: &[u8]) -> Vec<(&'static str, common::Started)> {
    common::start_on_every_wasm_engine(wasm, &PluginSpec::new("restricted", ""))
}

#[test]
fn a_log_inside_the_allocator_and_the_start_function_is_allowed() {
    for (engine, started) in start_everywhere(&probe(LOG_ALLOCATING, LOG_STARTING)) {
        let mut instance = started.unwrap_or_else(|e| panic!("{engine}: {e}"));
        instance
            .run_stream(&exchange())
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let state = instance.state();
        let status = state
            .metrics
            .iter()
            .find(|m| m.name == "s")
            .map(|m| m.value);
        assert_eq!(status, Some(0), "{engine}: :path was read");
        let logged: Vec<&str> = state.logs.records().map(|l| l.message.as_str()).collect();
        assert!(logged.contains(&"starting"), "{engine}: {logged:?}");
        assert!(logged.contains(&"allocating"), "{engine}: {logged:?}");
    }
}

#[test]
fn a_header_read_inside_the_allocator_traps_the_hostcall_that_allocated() {
    for (engine, started) in start_everywhere(&probe(READ_HEADERS, "")) {
        let mut instance = started.unwrap_or_else(|e| panic!("{engine}: {e}"));
        let error = instance
            .run_stream(&exchange())
            .expect_err(&format!("{engine}: the allocation must fail"))
            .to_string();
        assert!(
            error.contains("restricted_callback")
                && error.contains("proxy_get_header_map_size")
                && error.contains("proxy_on_memory_allocate"),
            "{engine}: {error}"
        );
    }
}

#[test]
fn a_metric_defined_inside_the_start_function_fails_the_start() {
    for (engine, started) in start_everywhere(&probe("", DEFINE_METRIC)) {
        let error = started
            .err()
            .unwrap_or_else(|| panic!("{engine}: the start must fail"));
        assert!(
            error.contains("restricted_callback") && error.contains("proxy_define_metric"),
            "{engine}: {error}"
        );
    }
}
