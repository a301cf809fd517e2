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
            observed.iter().any(|l| l == "logged at Warn: 9 message(s)"),
            "{cell}"
        );
        assert!(
            cell["steady"]["wall"]["samples"].as_u64().unwrap() > 0,
            "{cell}"
        );
    }
    assert!(json["modules"][0]["wasm_bytes"].as_u64().unwrap() > 1000);
}
