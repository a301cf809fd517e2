//! Interrupted, split and hung runs: what is kept, merged and resumed.

use super::*;

#[test]
fn an_interrupted_run_keeps_finished_filters_and_resume_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let args = [
        "run",
        "--filter",
        "noop@rust,headers@rust,jwt-auth",
        "--engine",
        "wasmi-eager,native",
        "--processes",
        "1",
        "--no-report",
    ];
    // Kill it as soon as the first filter is on disk (the file is rewritten after each filter,
    // starting with an empty skeleton).
    let cells_on_disk = || {
        std::fs::read(&out)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|j| j["cells"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    run_until(&args, &out, || cells_on_disk() > 0);
    let partial: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let cells = partial["cells"].as_array().unwrap();
    let filters: std::collections::BTreeSet<&str> = cells
        .iter()
        .map(|c| c["filter"].as_str().unwrap())
        .collect();
    assert!(!filters.is_empty() && filters.len() < 3, "{filters:?}");
    for filter in &filters {
        // A filter on disk is complete: both engines, every workload, measured.
        let of = |engine: &str| {
            cells
                .iter()
                .filter(|c| c["filter"] == *filter && c["engine"] == engine)
                .count()
        };
        assert_eq!(of("native"), of("wasmi-eager"));
        assert!(of("native") >= 2, "{filter}");
    }
    assert!(cells.iter().all(|c| !c["steady"].is_null()));

    let output =
        filterbench(&[&args[..], &["--quick", "--resume", out.to_str().unwrap()]].concat());
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("resuming:"), "{stderr}");
    let done: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let cells = done["cells"].as_array().unwrap();
    let mut keys: Vec<(String, String, String)> = cells
        .iter()
        .map(|c| {
            (
                c["filter"].as_str().unwrap().to_owned(),
                c["engine"].as_str().unwrap().to_owned(),
                c["workload"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total, "no duplicate cells");
    // noop 4 + headers 3 + jwt-auth 2 workloads, on 2 engines plus the floor and A/A cells.
    assert_eq!(total, (4 + 3 + 2) * 4);
    assert!(cells.iter().all(|c| !c["steady"].is_null()));
    // The cells kept from the interrupted run are the same measurements, not re-runs.
    let kept = cells
        .iter()
        .find(|c| filters.contains(c["filter"].as_str().unwrap()))
        .unwrap();
    let before = partial["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["filter"] == kept["filter"]
                && c["engine"] == kept["engine"]
                && c["workload"] == kept["workload"]
        })
        .unwrap();
    assert_eq!(kept["steady"]["histogram"], before["steady"]["histogram"]);
}

#[test]
fn a_run_split_over_processes_merges_them_and_resume_keeps_the_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let args = [
        "run",
        "--quick",
        "--processes",
        "3",
        "--filter",
        "noop@rust",
        "--engine",
        "native",
        "--workload",
        "get-small",
        "--no-report",
    ];
    // Kill the run once its first process has finished (kept in the scratch folder).
    let first = dir.path().join(".r-processes/process-1.json");
    run_until(&args, &out, || first.exists());
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&first).unwrap()).unwrap();

    let output = filterbench(&[&args[..], &["--resume", out.to_str().unwrap()]].concat());
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("process 1 of 3: finished before, kept"),
        "{stderr}"
    );
    assert!(!dir.path().join(".r-processes").exists(), "scratch removed");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["settings"]["runs"], 3);
    let aa = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["engine"] == "native-aa")
        .unwrap();
    let rounds = &aa["steady"]["rounds"];
    let processes: Vec<u64> = rounds["process"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    // Quick: 20 rounds split over three processes, 7 each.
    assert_eq!(processes.len(), 21, "{processes:?}");
    for p in 0..3 {
        assert_eq!(
            processes.iter().filter(|&&q| q == p).count(),
            7,
            "{processes:?}"
        );
    }
    // The first process's rounds are the ones measured before the interruption.
    let kept_aa = kept["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["engine"] == "native-aa")
        .unwrap();
    assert_eq!(
        rounds["p50_ns"].as_array().unwrap()[..7],
        kept_aa["steady"]["rounds"]["p50_ns"].as_array().unwrap()[..]
    );
    // Only the first process measured start-up phases.
    let phases = json["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "{phases:?}");
    // Blocks are distinct across processes.
    let blocks: std::collections::BTreeSet<u64> = rounds["block"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(blocks.len(), 6, "two blocks per process: {blocks:?}");
}

#[test]
fn a_run_that_hangs_is_ended_by_the_watchdog_and_resume_skips_the_hung_filter() {
    // Loops forever on the second request of each instance: the preflight (one request per
    // fresh instance) and the conformance check pass; measurement hangs on wasmtime-cranelift,
    // which cannot preempt it.
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("late-loop.wasm");
    let wasm = proxy_wasm_module(
        "",
        r#"(global $requests (mut i32) (i32.const 0))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $requests (i32.add (global.get $requests) (i32.const 1)))
    (if (i32.ge_u (global.get $requests) (i32.const 2)) (then (loop $forever (br $forever))))
    (i32.const 0))"#,
    );
    std::fs::write(&module, wasm).unwrap();
    let out = dir.path().join("r.json");
    let args = [
        "run",
        "--module",
        module.to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--quick",
        "--no-report",
        "--hang-timeout",
        "3s",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed().as_secs() > 120 {
            child.kill().unwrap();
            panic!("the watchdog did not end the run within 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("filter late-loop hung: no progress for 3 s while measuring it"),
        "{stderr}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{cells:?}");
    assert_eq!(cells[0]["error_kind"], "hung");
    assert_eq!(cells[0]["engine"], "wasmtime-cranelift");

    // Resuming does not run the hung filter again; its cell still counts as an error.
    let output = filterbench(&[&args[..], &["--resume", out.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), 1);
    assert_eq!(json["cells"][0]["error_kind"], "hung");
}
