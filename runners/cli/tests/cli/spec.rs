//! Filter spec files: the example specs run with every check passing, a broken expectation
//! fails the run with what differs, and `spec init` writes a spec that runs.

use super::{filterbench, proxy_wasm_module, quick_run, text};
use std::path::PathBuf;

fn example_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/token-refresh.yaml")
}

/// The strings of a JSON array of strings.
fn strings(array: &serde_json::Value) -> Vec<&str> {
    array
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

/// A quick run of `spec` on `engines` (comma-separated) in `dir`: the output and results.json.
fn quick_spec_run(
    dir: &std::path::Path,
    spec: &std::path::Path,
    engines: &str,
) -> (std::process::Output, serde_json::Value) {
    quick_run(
        dir,
        &["--spec", spec.to_str().unwrap(), "--engine", engines],
    )
}

#[test]
fn the_example_spec_runs_with_its_upstream_tick_and_property_checks_passing() {
    let dir = tempfile::tempdir().unwrap();
    let (output, json) = quick_spec_run(dir.path(), &example_spec(), "wasmtime-cranelift,native");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("behaviour while timed") && stdout.contains("ticks fired:"),
        "{stdout}"
    );
    let cells = json["cells"].as_array().unwrap();
    for workload in ["get-small", "post-json"] {
        for engine in ["wasmtime-cranelift", "native"] {
            let cell = cells
                .iter()
                .find(|c| c["engine"] == engine && c["workload"] == workload)
                .unwrap_or_else(|| panic!("no cell {engine} {workload}"));
            assert_eq!(cell["conformance"], "observed", "{cell}");
            assert!(cell["steady"].is_object(), "{cell}");
            assert!(cell["ticks"]["fired"].as_u64().unwrap() > 0, "{cell}");
            // The module's log text is recorded with the cell.
            assert!(
                cell["log"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l.as_str().unwrap().contains("token refreshed")),
                "{cell}"
            );
        }
    }
}

#[test]
fn the_grpc_example_spec_runs_with_its_calls_and_stream_answered() {
    let dir = tempfile::tempdir().unwrap();
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/grpc-check.yaml");
    let (output, json) = quick_spec_run(dir.path(), &spec, "wasmi-eager,native");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let cells = json["cells"].as_array().unwrap();
    for engine in ["wasmi-eager", "native"] {
        let cell = cells
            .iter()
            .find(|c| c["engine"] == engine && c["workload"] == "get-small")
            .unwrap_or_else(|| panic!("no cell {engine}"));
        assert_eq!(cell["conformance"], "observed", "{cell}");
        assert!(cell["steady"].is_object(), "{cell}");
        let log = strings(&cell["log"]);
        assert!(
            log.iter()
                .any(|l| l.contains("feed closed with status 0 (via_upstream)")),
            "{log:?}"
        );
    }
}

#[test]
fn an_expectation_that_does_not_hold_fails_the_run_and_says_what_differs() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(example_spec()).unwrap();
    let broken = example
        .replace(
            "bench_filter: token-refresh",
            "bench_filter: token-refresh\nname: broken",
        )
        .replace("x-route: api-route", "x-route: another-route");
    let spec = dir.path().join("broken.yaml");
    std::fs::write(&spec, broken).unwrap();
    let (output, json) = quick_run(
        dir.path(),
        &["--spec", spec.to_str().unwrap(), "--engine", "wasmi-eager"],
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    let cell = &json["cells"][0];
    assert_eq!(cell["conformance"], "fail");
    assert_eq!(
        cell["diff"][0],
        "request header x-route: expected \"another-route\", got \"api-route\""
    );
}

#[test]
fn spec_init_writes_a_starter_that_runs() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("passthrough.wasm");
    std::fs::write(
        &module,
        proxy_wasm_module(
            r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#,
            r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.const 0))"#,
        ),
    )
    .unwrap();
    let spec = dir.path().join("passthrough.yaml");
    let init = || {
        filterbench(&[
            "spec",
            "init",
            "--module",
            module.to_str().unwrap(),
            "--out",
            spec.to_str().unwrap(),
        ])
    };
    let first = init();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let again = init();
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("exists"),
        "{}",
        text(&again.stderr)
    );
    let (output, json) = quick_run(
        dir.path(),
        &["--spec", spec.to_str().unwrap(), "--engine", "wasmi-eager"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(json["cells"][0]["filter"], "passthrough");
    assert_eq!(json["cells"][0]["conformance"], "observed");
}

#[test]
fn a_stream_paused_for_good_is_an_observation_or_what_the_spec_says() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("holds.wasm");
    // Pauses every request in proxy_on_request_headers and never continues it.
    std::fs::write(
        &module,
        proxy_wasm_module(
            "",
            r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (i32.const 1))"#,
        ),
    )
    .unwrap();
    let spec = |name: &str, expect: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!("module: holds.wasm\nname: {name}\nworkloads:\n  - name: get-small\n{expect}"),
        )
        .unwrap();
        path
    };
    let engines = ["--engine", "wasmi-eager,wasmtime-cranelift"];
    // Unstated: the run passes and every engine reports where the stream paused.
    let unstated = spec("unstated", "");
    let mut args = vec!["--spec", unstated.to_str().unwrap()];
    args.extend(engines);
    let (output, json) = quick_run(dir.path(), &args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    for cell in json["cells"].as_array().unwrap() {
        assert_eq!(cell["conformance"], "observed", "{cell}");
        let observed = strings(&cell["observed"]);
        assert!(
            observed.contains(&"stream: paused in proxy_on_request_headers, never continued"),
            "{observed:?}"
        );
    }
    // Stated as paused: passes; stated as completing: FAIL with where it paused, exit 4.
    let paused = spec("paused", "    expect: {paused: true}\n");
    let (output, _) = quick_run(
        dir.path(),
        &[
            "--spec",
            paused.to_str().unwrap(),
            "--engine",
            "wasmi-eager",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let completes = spec("completes", "    expect: {paused: false}\n");
    let (output, json) = quick_run(
        dir.path(),
        &[
            "--spec",
            completes.to_str().unwrap(),
            "--engine",
            "wasmi-eager",
        ],
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    assert_eq!(
        json["cells"][0]["diff"][0],
        "stream: expected to complete, paused in proxy_on_request_headers and never continued"
    );
}
