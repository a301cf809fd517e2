//! `filterbench run --module`: a user's own module on every engine.

use super::*;

#[test]
fn a_users_own_module_runs_on_every_engine_with_its_effects_observed() {
    // The lifecycle probe is not one of the bench filters: it stands in for a user's module.
    let probe = filterbench_harness::artifacts::ensure_built("lifecycle-probe").unwrap();
    let (wasm, native) = (probe.wasm.unwrap(), probe.native.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("own.json");
    let output = filterbench(&[
        "run",
        "--quick",
        "--module",
        wasm.to_str().unwrap(),
        "--native",
        native.to_str().unwrap(),
        "--plugin-config",
        r#"{"any": "json"}"#,
        "--engine",
        "wasmtime-cranelift,wasmer-singlepass,wasmi-eager,wamr-fast-interp,native",
        "--no-report",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("effects observed"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    let engines: Vec<&serde_json::Value> = cells
        .iter()
        .filter(|c| c["engine"] != "floor" && c["engine"] != "native-aa")
        .collect();
    assert_eq!(engines.len(), 5);
    // With a native build, the run has its host floor and A/A twin too.
    assert_eq!(cells.len(), 7);
    for cell in engines {
        assert_eq!(cell["filter"], "lifecycle_probe");
        assert_eq!(cell["conformance"], "observed", "{cell}");
        let observed = cell["observed"].as_array().unwrap();
        assert!(
            // 11: the root and stream callbacks, two response body callbacks among them
            // (get-small's body, then the empty chunk that ends it, as Envoy's HTTP/1.1 codec
            // delivers it).
            observed
                .iter()
                .any(|l| l == "logged at Warn: 11 message(s)"),
            "{cell}"
        );
        assert!(
            cell["steady"]["wall"]["samples"].as_u64().unwrap() > 0,
            "{cell}"
        );
    }
    assert!(json["modules"][0]["wasm_bytes"].as_u64().unwrap() > 1000);
}

#[test]
fn a_users_module_runs_on_the_workloads_asked_for() {
    let probe = filterbench_harness::artifacts::ensure_built("lifecycle-probe").unwrap();
    let wasm = probe.wasm.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (output, json) = quick_run(
        dir.path(),
        &[
            "--module",
            wasm.to_str().unwrap(),
            "--workload",
            "get-large-headers,post-1k",
            "--engine",
            "wasmi-eager,wasmtime-cranelift",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut cells: Vec<String> = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["conformance"], "observed", "{c}");
            format!("{} {}", c["engine"], c["workload"]).replace('"', "")
        })
        .collect();
    cells.sort();
    assert_eq!(
        cells,
        [
            "wasmi-eager get-large-headers",
            "wasmi-eager post-1k",
            "wasmtime-cranelift get-large-headers",
            "wasmtime-cranelift post-1k"
        ]
    );
    // The command line is recorded for the report's reproduce block, as given.
    let invocation = &json["invocations"][0];
    let args: Vec<&str> = invocation["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[..2], ["run", "--quick"], "{invocation}");
    assert!(args.contains(&"get-large-headers,post-1k"), "{invocation}");
    let features = invocation["features"].as_array().unwrap();
    assert!(
        features.contains(&serde_json::json!("wasmtime")),
        "{invocation}"
    );
}

/// Writes `wasm` as NAME.wasm in a fresh folder and runs it with `--module` on `engine`
/// (quick): the folder, the output and the results.
fn run_module(
    name: &str,
    wasm: &[u8],
    engine: &str,
) -> (tempfile::TempDir, std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join(format!("{name}.wasm"));
    std::fs::write(&module, wasm).unwrap();
    let (output, json) = quick_run(
        dir.path(),
        &["--module", module.to_str().unwrap(), "--engine", engine],
    );
    (dir, output, json)
}

#[test]
fn a_module_that_traps_fails_the_run_and_its_error_shows_the_panic_message() {
    // Logs a panic message, then traps, in proxy_on_request_headers: what a Rust SDK filter
    // does when it panics.
    let wasm = proxy_wasm_module(
        r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 16) "panicked at src/lib.rs:7: no such header")
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 5) (i32.const 16) (i32.const 40)))
    unreachable)"#,
    );
    let (_dir, output, json) = run_module("panicking", &wasm, "wasmtime-cranelift");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("1 of 1 cells failed their check or ended in an error"),
        "{stderr}"
    );
    let cell = &json["cells"][0];
    assert_eq!(cell["conformance"], "error", "{cell}");
    assert_eq!(cell["error_kind"], "trap", "{cell}");
    assert!(
        cell["error"]
            .as_str()
            .unwrap()
            .contains("[Critical] panicked at src/lib.rs:7: no such header"),
        "{cell}"
    );
}

#[test]
fn a_module_that_changes_path_while_timed_is_reported_with_the_request_number() {
    // Adds a header from its 200th request on: the first request (the check) does not show it.
    let wasm = proxy_wasm_module(
        r#"(import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 16) "x-late")
  (global $requests (mut i32) (i32.const 0))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $requests (i32.add (global.get $requests) (i32.const 1)))
    (if (i32.ge_u (global.get $requests) (i32.const 200))
      (then (drop (call $add (i32.const 0) (i32.const 16) (i32.const 6) (i32.const 16) (i32.const 6)))))
    (i32.const 0))"#,
    );
    let (_dir, output, json) = run_module("late-header", &wasm, "wasmi-eager");
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let cell = &json["cells"][0];
    assert_eq!(cell["conformance"], "observed", "{cell}");
    let change = &cell["path_changed"];
    assert!(change["after_requests"].as_u64().unwrap() >= 200, "{cell}");
    assert_eq!(change["diff"][0], "later: request header: x-late", "{cell}");
    assert!(
        stderr.contains(
            "late-header on wasmi-eager (get-small) left its first request's path by request"
        ),
        "{stderr}"
    );
}

#[test]
fn root_id_vm_id_and_log_level_reach_a_users_module() {
    // Copies plugin_root_id and plugin_vm_id into request headers; logs once at debug.
    let wasm = proxy_wasm_module(
        r#"(import "env" "proxy_get_property"
    (func $get (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#,
        r#"(data (i32.const 16) "plugin_root_id")
  (data (i32.const 32) "x-root-id")
  (data (i32.const 48) "plugin_vm_id")
  (data (i32.const 64) "x-vm-id")
  (data (i32.const 80) "debugging")
  (func $copy (param $path i32) (param $path_len i32) (param $key i32) (param $key_len i32)
    (drop (call $get (local.get $path) (local.get $path_len) (i32.const 128) (i32.const 132)))
    (drop (call $add (i32.const 0) (local.get $key) (local.get $key_len)
      (i32.load (i32.const 128)) (i32.load (i32.const 132)))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $copy (i32.const 16) (i32.const 14) (i32.const 32) (i32.const 9))
    (call $copy (i32.const 48) (i32.const 12) (i32.const 64) (i32.const 7))
    (drop (call $log (i32.const 1) (i32.const 80) (i32.const 9)))
    (i32.const 0))"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("identity.wasm");
    std::fs::write(&module, wasm).unwrap();
    let module = module.to_str().unwrap();
    let observed = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--module", module, "--engine", "wasmi-eager"];
        args.extend_from_slice(extra);
        let (output, json) = quick_run(dir.path(), &args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        json["cells"][0]["observed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect()
    };
    let default = observed(&[]);
    assert!(
        default.contains(&"request header: x-vm-id: filterbench.identity".to_owned()),
        "{default:?}"
    );
    assert!(
        default.contains(&"request header: x-root-id: ".to_owned()),
        "the root id is empty by default: {default:?}"
    );
    assert!(!default.iter().any(|l| l.contains("Debug")), "{default:?}");
    let set = observed(&[
        "--root-id",
        "edge",
        "--vm-id",
        "shared",
        "--log-level",
        "debug",
        "--env",
        "REGION=eu",
    ]);
    assert!(
        set.contains(&"request header: x-root-id: edge".to_owned()),
        "{set:?}"
    );
    assert!(
        set.contains(&"request header: x-vm-id: shared".to_owned()),
        "{set:?}"
    );
    assert!(
        set.contains(&"logged at Debug: 1 message(s)".to_owned()),
        "{set:?}"
    );
    let bad = filterbench(&["run", "--module", module, "--env", "REGION"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--env takes KEY=VALUE"),
        "{}",
        text(&bad.stderr)
    );
}
