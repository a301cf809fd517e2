//! A module that uses the WASI imports a `wasm32-wasip1` build makes (stdout/stderr writes,
//! clocks, randomness, environment and arguments) loads and runs on every WebAssembly engine.

mod common;

use filterbench_harness::catalog;
use filterbench_host::abi::LogLevel;
use filterbench_host::{ModuleSource, PluginSpec};

const WASI_MODULE: &str = r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "wasi ok")
  (data (i32.const 120) "to stderr")
  (global $heap (mut i32) (i32.const 4096))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func $check (param $errno i32)
    (if (local.get $errno) (then unreachable)))
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    ;; one iovec at 0: (ptr, len); bytes written go to 8
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $check (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (i32.ne (i32.load (i32.const 8)) (local.get $len)) (then unreachable)))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ;; monotonic clock: non-zero nanoseconds at 16
    (call $check (call $clock (i32.const 1) (i64.const 1) (i32.const 16)))
    (if (i64.eqz (i64.load (i32.const 16))) (then unreachable))
    ;; 32 random bytes at 32: not all zero
    (call $check (call $random (i32.const 32) (i32.const 32)))
    (if (i64.eqz (i64.or (i64.load (i32.const 32)) (i64.load (i32.const 40)))) (then unreachable))
    ;; no environment and no arguments, as in Envoy
    (call $check (call $env_sizes (i32.const 64) (i32.const 68)))
    (if (i32.load (i32.const 64)) (then unreachable))
    (call $check (call $args_sizes (i32.const 72) (i32.const 76)))
    (if (i32.load (i32.const 72)) (then unreachable))
    (call $write (i32.const 1) (i32.const 100) (i32.const 7))
    (call $write (i32.const 2) (i32.const 120) (i32.const 9))
    (i32.const 0)))
"#;

#[test]
fn wasi_imports_work_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasi.wasm");
    std::fs::write(&path, wat::parse_str(WASI_MODULE).unwrap()).unwrap();
    let source = ModuleSource {
        name: "wasi".to_owned(),
        wasm: Some(path),
        native: None,
    };
    let exchange = catalog::workload("get-small").unwrap().exchange;
    for entry in filterbench_engines::available()
        .into_iter()
        .filter(|e| !e.is_native)
    {
        let engine = filterbench_engines::create(entry.name).unwrap();
        let module = engine
            .load(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let mut instance = module.instantiate(PluginSpec::new("wasi", "")).unwrap();
        instance.start().unwrap();
        instance
            .run_stream(&exchange)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        let logs: Vec<(LogLevel, String)> = instance
            .state()
            .logs
            .records()
            .map(|r| (r.level, r.message.clone()))
            .collect();
        assert_eq!(
            logs,
            [
                (LogLevel::Info, "wasi ok".to_owned()),
                (LogLevel::Error, "to stderr".to_owned())
            ],
            "{}",
            entry.name
        );
    }
}

/// With [`ENVIRON_FIELDS`]: reads its environment with `environ_sizes_get` / `environ_get` and
/// writes the first variable (`KEY=VALUE`) to stdout.
const ENVIRON_IMPORTS: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))"#;
const ENVIRON_FIELDS: &str = r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ;; count at 64, bytes at 68; pointers at 256, strings at 512
    (if (call $env_sizes (i32.const 64) (i32.const 68)) (then unreachable))
    (if (i32.eqz (i32.load (i32.const 64))) (then unreachable))
    (if (call $env_get (i32.const 256) (i32.const 512)) (then unreachable))
    ;; one iovec at 0: the first string without its NUL
    (i32.store (i32.const 0) (i32.load (i32.const 256)))
    (i32.store (i32.const 4) (i32.sub (i32.load (i32.const 68)) (i32.const 1)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const 0))"#;

#[test]
fn the_plugins_environment_reaches_the_module_on_every_engine() {
    let exchange = catalog::workload("get-small").unwrap().exchange;
    let plugin = PluginSpec {
        environment: vec![("REGION".to_owned(), "eu".to_owned())],
        ..PluginSpec::new("environ", "")
    };
    let wasm = common::proxy_module(ENVIRON_IMPORTS, ENVIRON_FIELDS);
    for (engine, mut instance) in common::started_on_every_wasm_engine(&wasm, &plugin) {
        instance
            .run_stream(&exchange)
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let logged: Vec<String> = instance
            .state()
            .logs
            .records()
            .map(|r| r.message.clone())
            .collect();
        assert_eq!(logged, ["REGION=eu"], "{engine}");
    }
}
