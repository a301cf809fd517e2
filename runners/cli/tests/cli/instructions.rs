//! `filterbench run --measure instructions`: instructions per lifecycle under callgrind.

use super::*;

#[test]
fn instructions_are_counted_under_callgrind_with_a_ratio_to_native() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("ins.json");
    let output = filterbench(&[
        "run",
        "--quick",
        "--filter",
        "noop",
        "--engine",
        "native,wasmi-eager",
        "--workload",
        "get-small",
        "--measure",
        "instructions",
        "--no-report",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("instructions/req"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert!(
        json["settings"]["measure"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("instructions"))
    );
    let count = |engine: &str| {
        let cell = json["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["engine"] == engine)
            .unwrap();
        assert!(cell["instructions_error"].is_null(), "{cell}");
        cell["instructions"].clone()
    };
    let native = count("native");
    let wasmi = count("wasmi-eager");
    // A Proxy-Wasm lifecycle is thousands of instructions, not zero and not the whole process.
    let per = native["per_lifecycle"].as_f64().unwrap();
    assert!(per > 500.0 && per < 1_000_000.0, "{native}");
    assert_eq!(native["lifecycles"], 200);
    assert!(native["ratio_to_native"].is_null());
    // An interpreter executes more instructions than the same filter compiled natively.
    assert!(wasmi["ratio_to_native"].as_f64().unwrap() > 1.0, "{wasmi}");
}
