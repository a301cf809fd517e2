//! Guest traps, out-of-bounds accesses and runaway callbacks surface the same way on every
//! WebAssembly engine: one error type with a common trap kind, mapped from each engine's own.

mod common;

use filterbench_harness::catalog;
use filterbench_host::{FilterError, ModuleSource, PluginSpec, TrapKind};

/// `proxy_log` as `$log`.
const LOG_IMPORT: &str =
    r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#;

/// A Proxy-Wasm module whose `proxy_on_request_headers` runs `body` (which leaves an i32).
fn module_with_request_headers(body: &str) -> Vec<u8> {
    common::proxy_module(
        LOG_IMPORT,
        &format!(
            r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {body})"#
        ),
    )
}

/// Runs one stream of `get-small` through `wasm` on `engine`.
fn run_once(engine: &str, wasm: &[u8]) -> (Result<(), FilterError>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.wasm");
    std::fs::write(&path, wasm).unwrap();
    let source = ModuleSource {
        name: "hostile".to_owned(),
        wasm: Some(path),
        native: None,
    };
    let engine = filterbench_engines::create(engine).unwrap();
    let module = engine.load(&source).unwrap_or_else(|e| panic!("{e}"));
    let mut instance = module.instantiate(PluginSpec::new("hostile", "")).unwrap();
    instance.start().unwrap();
    let result = instance.run_stream(&catalog::workload("get-small").unwrap().exchange);
    let logs = instance
        .state()
        .logs
        .records()
        .map(|r| r.message.clone())
        .collect();
    (result, logs)
}

fn wasm_engines() -> Vec<&'static str> {
    filterbench_engines::available()
        .into_iter()
        .filter(|e| !e.is_native)
        .map(|e| e.name)
        .collect()
}

fn expect_trap(engine: &str, wasm: &[u8], kind: TrapKind) {
    match run_once(engine, wasm).0 {
        Err(FilterError::Trap {
            module,
            engine: reported,
            source,
        }) => {
            assert_eq!(module, "hostile");
            assert_eq!(reported, engine);
            assert_eq!(source.callback, "proxy_on_request_headers", "{engine}");
            assert_eq!(source.kind, kind, "{engine}: {}", source.message);
            assert!(!source.message.is_empty());
        }
        other => panic!("{engine}: expected a {kind} trap, got {other:?}"),
    }
}

#[test]
fn every_engine_reports_unreachable_as_the_same_trap() {
    let wasm = module_with_request_headers("unreachable");
    for engine in wasm_engines() {
        expect_trap(engine, &wasm, TrapKind::Unreachable);
    }
}

#[test]
fn every_engine_reports_an_out_of_bounds_load_as_the_same_trap() {
    let wasm = module_with_request_headers("(drop (i32.load (i32.const -16))) (i32.const 0)");
    for engine in wasm_engines() {
        expect_trap(engine, &wasm, TrapKind::MemoryOutOfBounds);
    }
}

#[test]
fn every_engine_reports_division_by_zero_as_the_same_trap() {
    // The divisor is computed at run time so no engine can fold it: end_of_stream is 1 for a
    // headers-only request, and its negation is 0.
    let wasm = module_with_request_headers(
        "(drop (i32.div_u (i32.const 1) (i32.eqz (local.get 2)))) (i32.const 0)",
    );
    for engine in wasm_engines() {
        expect_trap(engine, &wasm, TrapKind::IntegerDivideByZero);
    }
}

#[test]
fn an_out_of_bounds_hostcall_pointer_gets_invalid_memory_access_on_every_engine() {
    // Calls proxy_log with a pointer past the end of memory, then logs the status it got as a
    // digit (the data segment holds "0123456789" at 16).
    let wasm = module_with_request_headers(
        "(drop (call $log (i32.const 2)
                 (i32.add (i32.const 16) (call $log (i32.const 2) (i32.const -256) (i32.const 100)))
                 (i32.const 1)))
         (i32.const 0)",
    );
    for engine in wasm_engines() {
        let (result, logs) = run_once(engine, &wasm);
        result.unwrap_or_else(|e| panic!("{engine}: a bad pointer must not trap the guest: {e}"));
        assert_eq!(logs, ["6"], "{engine}: INVALID_MEMORY_ACCESS (6) expected");
    }
}

#[test]
fn a_runaway_callback_is_stopped_by_the_deadline_on_metered_engines() {
    let wasm = module_with_request_headers("(loop $forever (br $forever)) (i32.const 0)");
    let metered: Vec<&str> = wasm_engines()
        .into_iter()
        .filter(|name| {
            ["+epoch", "+fuel", "+metering"]
                .iter()
                .any(|m| name.ends_with(m))
        })
        .collect();
    assert!(
        metered.len() >= 4,
        "epoch, fuel (wasmtime, wasmi) and metering configurations exist: {metered:?}"
    );
    for engine in metered {
        let started = std::time::Instant::now();
        expect_trap(engine, &wasm, TrapKind::Deadline);
        assert!(
            started.elapsed().as_secs() < 60,
            "{engine} took {:?} to stop",
            started.elapsed()
        );
    }
}

/// Runs `body` (which must leave a status on the stack) and expects the module to log that
/// status as one digit, on every engine, without a trap.
fn expect_status_everywhere(what: &str, call: &str, status: &str) {
    let wasm = module_with_request_headers(&format!(
        "(drop (call $log (i32.const 2) (i32.add (i32.const 16) {call}) (i32.const 1))) (i32.const 0)"
    ));
    for engine in wasm_engines() {
        let (result, logs) = run_once(engine, &wasm);
        result.unwrap_or_else(|e| panic!("{engine}: {what} must not trap the guest: {e}"));
        assert_eq!(logs, [status], "{engine}: {what}: status {status} expected");
    }
}

#[test]
fn a_4_gib_length_is_refused_with_invalid_memory_access_on_every_engine() {
    // proxy_log of 0xFFFF_FFFF bytes: the host never tries to read (or allocate) 4 GiB.
    expect_status_everywhere(
        "a 4 GiB length",
        "(call $log (i32.const 2) (i32.const 16) (i32.const -1))",
        "6",
    );
    // A pointer + length that overflows 32 bits.
    expect_status_everywhere(
        "an overflowing pointer + length",
        "(call $log (i32.const 2) (i32.const -16) (i32.const 32))",
        "6",
    );
}

#[test]
fn malformed_header_maps_are_refused_without_a_host_panic_on_every_engine() {
    // "0123456789" read as a serialized map claims 0x33323130 pairs in 10 bytes.
    let set = |ptr: &str, len: &str| {
        format!("(call $set_pairs (i32.const 0) (i32.const {ptr}) (i32.const {len}))")
    };
    for (what, call, status) in [
        ("a map claiming 858 million pairs", set("16", "10"), "2"),
        ("a map whose length runs past memory", set("16", "-1"), "6"),
    ] {
        let wasm = common::proxy_module(
            &format!(
                r#"{LOG_IMPORT}
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))"#
            ),
            &format!(
                r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.add (i32.const 16) {call}) (i32.const 1)))
    (i32.const 0))"#
            ),
        );
        for engine in wasm_engines() {
            let (result, logs) = run_once(engine, &wasm);
            result.unwrap_or_else(|e| panic!("{engine}: {what}: {e}"));
            assert_eq!(logs, [status], "{engine}: {what}");
        }
    }
}

#[test]
fn memory_grow_stops_at_the_instance_memory_limit_and_the_trap_says_so() {
    // Grows by 16 pages (1 MiB) until refused, logs how many grows worked, then traps.
    let wasm = module_with_request_headers(
        "(local $grows i32)
         (block $refused
           (loop $grow
             (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
             (local.set $grows (i32.add (local.get $grows) (i32.const 1)))
             (br_if $refused (i32.ge_u (local.get $grows) (i32.const 9)))
             (br $grow)))
         (drop (call $log (i32.const 2) (i32.add (i32.const 16) (local.get $grows)) (i32.const 1)))
         unreachable",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grows.wasm");
    std::fs::write(&path, &wasm).unwrap();
    let source = ModuleSource {
        name: "grows".to_owned(),
        wasm: Some(path),
        native: None,
    };
    for name in wasm_engines() {
        let engine = filterbench_engines::create(name).unwrap();
        let module = engine.load(&source).unwrap();
        let plugin = PluginSpec {
            memory_limit_bytes: 8 << 20,
            ..PluginSpec::new("grows", "")
        };
        let mut instance = module.instantiate(plugin).unwrap();
        instance.start().unwrap();
        let result = instance.run_stream(&catalog::workload("get-small").unwrap().exchange);
        let logs: Vec<String> = instance
            .state()
            .logs
            .records()
            .map(|r| r.message.clone())
            .collect();
        // 1 page + 7 × 16 pages = 113 pages fit in 128 (8 MiB); the 8th grow is refused.
        assert_eq!(logs, ["7"], "{name}");
        let Err(FilterError::Trap { source, .. }) = result else {
            panic!("{name}: expected the trap after the refused grow")
        };
        // wasmer and WAMR cap the memory when it is created; the others are asked at each grow
        // and record the refusal.
        if !name.starts_with("wamr") && !name.starts_with("wasmer") {
            assert!(
                source.message.contains("memory beyond its limit of 8 MiB"),
                "{name}: {}",
                source.message
            );
        }
    }
}
