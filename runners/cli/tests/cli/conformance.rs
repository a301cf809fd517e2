//! `filterbench conformance`: the kit on every in-process engine and through Envoy.

use super::*;

/// Runs the kit with `args` and returns the matrix it wrote as JSON, the exit status and
/// stdout.
fn conformance(args: &[&str]) -> (serde_json::Value, Output) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("matrix.json");
    let mut all = vec!["conformance", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = filterbench(&all);
    let matrix = serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    (matrix, output)
}

#[test]
fn every_engine_answers_every_probe_as_envoy_1_40_was_recorded() {
    let (matrix, output) = conformance(&["--no-envoy"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("No unexplained difference"), "{stdout}");
    assert_eq!(matrix["reference"], "recorded (Envoy 1.40)");
    let hosts = matrix["hosts"].as_array().unwrap();
    let engines = text(&filterbench(&["list", "engines"]).stdout);
    for host in hosts {
        let name = host["name"].as_str().unwrap();
        assert!(engines.contains(name), "{name} not in {engines}");
        assert_eq!(host["kind"], "in-process");
    }
    assert!(hosts.len() >= 4, "{hosts:?}");
    let rows = matrix["rows"].as_array().unwrap();
    let restricted = rows
        .iter()
        .find(|r| r["probe"] == "allocate-hostcall")
        .expect("the restricted-callback probe");
    for cell in restricted["cells"].as_array().unwrap() {
        assert_eq!(cell["answer"], "503 trap", "{cell}");
        assert!(
            cell["detail"]
                .as_str()
                .unwrap()
                .contains("restricted_callback"),
            "{cell}"
        );
    }
}

#[test]
fn through_envoy_the_live_envoy_is_the_reference_and_nothing_differs() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let (matrix, output) = conformance(&["--envoy", &envoy, "--engine", "wasmi-eager"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(matrix["reference"], "envoy");
    let hosts: Vec<&str> = matrix["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["wasmi-eager", "envoy"]);
    for row in matrix["rows"].as_array().unwrap() {
        for cell in row["cells"].as_array().unwrap() {
            assert_eq!(cell["verdict"], "same", "{row}");
        }
    }
}

#[test]
fn an_unknown_engine_is_refused_with_the_engines_there_are() {
    let output = filterbench(&["conformance", "--no-envoy", "--engine", "v9"]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no WebAssembly engine v9 in this build") && stderr.contains("wasmi-eager"),
        "{stderr}"
    );
}
