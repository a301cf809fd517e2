//! The `filterbench` binary end to end, one module per subcommand (`cargo test --test cli
//! envoy::` runs only the Envoy ones): listings and runs, a user's own module, the host conformance kit, instruction
//! counts, Envoy, interrupted, split and resumed runs, and filter spec files.

mod byo;
mod conformance;
mod envoy;
mod instructions;
mod price;
mod report;
mod resume;
mod run;
mod shard;
mod spec;

use std::path::PathBuf;
use std::process::{Command, Output};

fn filterbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(args)
        .output()
        .expect("the filterbench binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `filterbench run --quick --no-report ARGS --out DIR/run.json`: the output and the
/// results written (`Null` when none were).
fn quick_run(dir: &std::path::Path, args: &[&str]) -> (Output, serde_json::Value) {
    let out = dir.join("run.json");
    let mut all = vec![
        "run",
        "--quick",
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let output = filterbench(&all);
    let json = std::fs::read(&out)
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (output, json)
}

/// A Proxy-Wasm module: `imports` (WAT), one exported page of memory, the ABI marker, a bump
/// allocator as `proxy_on_memory_allocate`, and the `fields` given.
fn proxy_wasm_module(imports: &str, fields: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  {fields})"#
    ))
    .expect("valid WAT")
}

/// Runs `filterbench envoy --envoy ENVOY ARGS --out DIR/envoy.json --report DIR/report`:
/// (the folder, the results, the report folder, the output).
fn envoy_run(envoy: &str, args: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf, Output) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("envoy.json");
    let report = dir.path().join("report");
    let mut all = vec!["envoy", "--envoy", envoy];
    all.extend_from_slice(args);
    all.extend([
        "--out",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let output = filterbench(&all);
    (dir, out, report, output)
}

/// Every collision (text on text, a legend over data) in the charts of the report in `dir`.
fn chart_collisions(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for chart in std::fs::read_dir(dir.join("charts")).unwrap() {
        let path = chart.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            let svg = std::fs::read_to_string(&path).unwrap();
            for collision in filterbench_report::svg_layout::collisions(&svg) {
                found.push(format!("{}: {collision}", path.display()));
            }
        }
    }
    found
}

/// Where `json` does not match docs/results.schema.json.
fn schema_errors(json: &serde_json::Value) -> Vec<String> {
    let schema_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// Envoy for the end-to-end test: `None` (printed) to skip, unless CI requires it.
fn filterbench_envoy_path() -> Option<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let candidates = [
        std::env::var("FILTERBENCH_ENVOY").unwrap_or_default(),
        format!("{home}/.cache/filterbench/tools/bin/envoy"),
    ];
    let found = candidates
        .into_iter()
        .find(|c| !c.is_empty() && std::path::Path::new(c).is_file());
    if found.is_none() {
        let why = "no Envoy (run scripts/setup-envoy.sh)";
        if std::env::var_os("FILTERBENCH_REQUIRE_ENVOY").is_some() {
            panic!("FILTERBENCH_REQUIRE_ENVOY is set but there is {why}");
        }
        eprintln!("SKIPPED envoy_run_writes_records_and_a_report_with_envoy_charts: {why}");
    }
    found
}

/// Starts `filterbench ARGS --out OUT` and kills it (and its measuring processes) as soon as
/// `done()` holds; fails if it ends by itself first or nothing happens within 120 s.
fn run_until(args: &[&str], out: &std::path::Path, done: impl Fn() -> bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed().as_secs() < 120, "nothing after 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
