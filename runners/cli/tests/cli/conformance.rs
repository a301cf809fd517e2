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

/// The rows of `probe`.
fn rows_of<'m>(matrix: &'m serde_json::Value, probe: &str) -> Vec<&'m serde_json::Value> {
    matrix["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["probe"] == probe)
        .collect()
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
    // The probes' native build (bench-filters/host-probe) on the native engine agrees too.
    let native = hosts.iter().position(|h| h["name"] == "native").unwrap();
    let phases = rows_of(&matrix, "phases");
    assert!(
        phases
            .iter()
            .all(|r| r["cells"][native]["verdict"] == "same")
    );
    let rows = matrix["rows"].as_array().unwrap();
    assert!(rows.len() >= 15);
    let restricted = rows_of(&matrix, "allocate-hostcall")[0];
    for cell in restricted["cells"].as_array().unwrap() {
        if cell["host"] == "native" {
            assert_eq!(cell["verdict"], "not-applicable", "{cell}");
            continue;
        }
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
    assert_eq!(hosts, ["wasmi-eager", "envoy", "envoy-native"]);
    for row in matrix["rows"].as_array().unwrap() {
        let cells = row["cells"].as_array().unwrap();
        // The in-process engine and Envoy on V8 agree everywhere but on the number of VMs
        // (a documented difference: Envoy runs several).
        let in_process = if row["probe"] == "vms" {
            "known"
        } else {
            "same"
        };
        assert_eq!(cells[0]["verdict"], in_process, "{row}");
        assert_eq!(cells[1]["verdict"], "same", "{row}");
        // The bridge runs the native probes, with its documented differences.
        let bridge = cells[2]["verdict"].as_str().unwrap();
        assert!(
            ["same", "known", "not-applicable"].contains(&bridge),
            "{row}"
        );
    }
    let bridged = matrix["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["cells"][2]["verdict"] == "same")
        .count();
    assert!(bridged >= 5, "the bridge answered too few probes: {matrix}");
}

#[test]
fn an_unknown_engine_is_refused_with_the_engines_there_are() {
    let output = filterbench(&["conformance", "--no-envoy", "--engine", "v9"]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no engine v9 in this build") && stderr.contains("wasmi-eager"),
        "{stderr}"
    );
}
