//! Helpers shared by the harness integration tests: real engines, real bench filters.
#![allow(dead_code)]

use filterbench_harness::measure::MeasureSettings;
use filterbench_harness::run::{EngineSlot, RunSettings};
use filterbench_harness::{artifacts, polyglot};
use filterbench_host::ModuleSource;
use std::time::Duration;

/// Every engine compiled into this build, ready for `run::run`.
pub fn engines() -> Vec<EngineSlot> {
    filterbench_engines::available()
        .into_iter()
        .map(|entry| EngineSlot {
            name: entry.name.to_owned(),
            is_native: entry.is_native,
            engine: filterbench_engines::create(entry.name).expect("listed engines can be created"),
        })
        .collect()
}

/// Measurement short enough for tests (timings are never asserted).
pub fn tiny_run() -> RunSettings {
    RunSettings {
        measure: MeasureSettings {
            warmup: Duration::from_millis(2),
            rounds: 3,
            slice: Duration::from_millis(3),
            blocks: 2,
            phase_samples: 2,
            compile_samples: 1,
        },
        quick: true,
        workloads: None,
        unavailable: Vec::new(),
        preflight: None,
        phases: true,
        analyze: true,
        between_run_sd: filterbench_harness::run::DEFAULT_BETWEEN_RUN_SD,
        failure_policy: Default::default(),
    }
}

/// Builds a catalog filter in its language and returns its artifacts.
pub fn built_filter(filter: &filterbench_harness::catalog::FilterSpec) -> ModuleSource {
    polyglot::ensure_built(filter).unwrap_or_else(|e| panic!("cannot build {}: {e}", filter.name))
}

/// Builds the bench filters (once per test process) and returns the artifacts of `crate_name`.
pub fn built(crate_name: &str) -> ModuleSource {
    artifacts::ensure_built(crate_name)
        .unwrap_or_else(|e| panic!("cannot build the bench filters: {e}"))
}

/// A minimal Proxy-Wasm module for hostile-module tests: the `imports` given (WAT), a one-page
/// exported memory with "0123456789" at offset 16, a bump allocator as
/// `proxy_on_memory_allocate`, an empty `proxy_on_context_create`, and the `fields` given (more
/// WAT: functions, globals).
pub fn proxy_module(imports: &str, fields: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (data (i32.const 16) "0123456789")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func (export "proxy_on_context_create") (param i32 i32))
  {fields})"#
    ))
    .expect("valid WAT")
}

/// An instance started, or why it could not start (the error as text).
pub type Started = Result<Box<dyn filterbench_host::FilterInstance>, String>;

/// The module `wasm` (written to a temporary file) loaded, instantiated with `plugin` and
/// started on every WebAssembly engine of this build: (engine name, the instance or the error).
pub fn start_on_every_wasm_engine(
    wasm: &[u8],
    plugin: &filterbench_host::PluginSpec,
) -> Vec<(&'static str, Started)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}.wasm", plugin.name));
    std::fs::write(&path, wasm).unwrap();
    let source = ModuleSource {
        name: plugin.name.clone(),
        wasm: Some(path),
        native: None,
    };
    filterbench_engines::available()
        .into_iter()
        .filter(|e| !e.is_native)
        .map(|entry| {
            let engine = filterbench_engines::create(entry.name).unwrap();
            let started = engine
                .load(&source)
                .and_then(|module| module.instantiate(plugin.clone()))
                .and_then(|mut instance| instance.start().map(|()| instance))
                .map_err(|e| e.to_string());
            (entry.name, started)
        })
        .collect()
}

/// [`start_on_every_wasm_engine`], each start required to succeed.
pub fn started_on_every_wasm_engine(
    wasm: &[u8],
    plugin: &filterbench_host::PluginSpec,
) -> Vec<(&'static str, Box<dyn filterbench_host::FilterInstance>)> {
    start_on_every_wasm_engine(wasm, plugin)
        .into_iter()
        .map(|(name, started)| (name, started.unwrap_or_else(|e| panic!("{name}: {e}"))))
        .collect()
}

/// The cells of `results` that ran a guest (calibration cells left out), each asserted
/// conformant (`Observed`) and native among them.
pub fn conformant_guest_cells(
    results: &filterbench_harness::results::Results,
) -> Vec<&filterbench_harness::results::Cell> {
    use filterbench_harness::results::Conformance;
    let cells: Vec<_> = results
        .cells
        .iter()
        .filter(|c| c.conformance != Conformance::Calibration)
        .collect();
    assert!(cells.iter().any(|c| c.engine == "native"), "native ran");
    for cell in &cells {
        assert_eq!(
            cell.conformance,
            Conformance::Observed,
            "{}: {:?} {:?}",
            cell.engine,
            cell.error,
            cell.diff
        );
    }
    cells
}

/// `subject` run on every engine of this build with [`tiny_run`].
pub fn run_on_every_engine(
    subject: filterbench_harness::run::Subject,
) -> filterbench_harness::results::Results {
    filterbench_harness::run::run(&[subject], &engines(), &tiny_run(), &mut |_| {})
}
