//! `filterbench list` and `filterbench run`: listings, the table and results.json, narrowing, languages, and one-line errors for bad input.

use super::*;

#[test]
fn lists_filters_engines_and_workloads() {
    let engines = filterbench(&["list", "engines"]);
    assert!(engines.status.success());
    let out = text(&engines.stdout);
    assert!(
        out.contains("wasmtime-cranelift") && out.contains("48."),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("native") && l.contains("rustc")),
        "{out}"
    );

    let out = text(&filterbench(&["list", "filters"]).stdout);
    assert!(out.contains("noop") && out.contains("headers"), "{out}");
    assert!(
        !out.contains("lifecycle-probe"),
        "test probes are not benchmark filters: {out}"
    );

    let out = text(&filterbench(&["list", "workloads"]).stdout);
    assert!(out.contains("get-small"), "{out}");
}

#[test]
fn output_into_a_reader_that_stops_early_ends_without_a_panic() {
    // The reading end closes before filterbench prints (as `| head -0` would): its first
    // write fails with a broken pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args(["list", "engines"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_quick_run_prints_the_table_and_writes_results() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("run/results.json");
    let output = filterbench(&[
        "run",
        "--quick",
        "--filter",
        "noop@rust,headers@rust",
        "--workload",
        "get-small",
        "--out",
        out_path.to_str().unwrap(),
        "--report",
        dir.path().join("report").to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for needle in [
        "filter",
        "median",
        "ratio to native",
        "noop",
        "headers",
        "wasmtime-cranelift",
        "baseline",
    ] {
        assert!(stdout.contains(needle), "table lacks {needle}:\n{stdout}");
    }
    assert!(stdout.contains("results written to"), "{stdout}");
    let index = dir.path().join("report/index.html");
    assert!(
        stdout.contains(&format!("open {}", index.canonicalize().unwrap().display())),
        "the run ends with the path of index.html:\n{stdout}"
    );
    assert!(dir.path().join("report/charts/slowdown.svg").is_file());

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 6);
    assert_eq!(json["settings"]["quick"], true);
    // The host conformance kit ran on every engine, against Envoy 1.40's recorded answers,
    // and the report shows it.
    let matrix = &json["host_conformance"];
    assert_eq!(matrix["reference"], "recorded (Envoy 1.40)", "{matrix}");
    assert!(matrix["rows"].as_array().unwrap().len() >= 15);
    // Every engine answers as Envoy did, but for the number of VMs (a documented difference).
    for row in matrix["rows"].as_array().unwrap() {
        let allowed: &[&str] = if row["probe"] == "vms" {
            &["known", "not-applicable"]
        } else {
            &["same", "not-applicable"]
        };
        for cell in row["cells"].as_array().unwrap() {
            let verdict = cell["verdict"].as_str().unwrap();
            assert!(allowed.contains(&verdict), "{row}");
        }
    }
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        html.contains("Host conformance"),
        "no host conformance section"
    );
    let cells = json["cells"].as_array().unwrap();
    let engines = filterbench_engines::all();
    assert_eq!(
        cells.len(),
        2 * (engines.len() + 2),
        "noop and headers on every known engine, plus the host floor and the A/A twin"
    );
    let calibration = |c: &serde_json::Value| c["engine"] == "floor" || c["engine"] == "native-aa";
    for cell in cells.iter().filter(|c| calibration(c)) {
        // Measured next to native code: the floor is a fraction of it, A/A about 1.
        let ratio = cell["ratio_to_native"]["value"].as_f64().unwrap();
        if cell["engine"] == "floor" {
            assert_eq!(cell["conformance"], "calibration", "{cell}");
            assert!(ratio > 0.0 && ratio < 1.0, "{cell}");
        } else {
            assert_eq!(cell["conformance"], "pass", "{cell}");
            assert!(ratio > 0.5 && ratio < 2.0, "{cell}");
        }
    }
    assert!(
        stdout.contains("host floor") && stdout.contains("A/A"),
        "the summary shows the floor and the precision:\n{stdout}"
    );
    for cell in cells.iter().filter(|c| !calibration(c)) {
        let entry = engines
            .iter()
            .find(|e| cell["engine"] == e.name)
            .expect("a known engine");
        if let Some(reason) = &entry.unavailable {
            assert_eq!(cell["conformance"], "error", "{cell}");
            assert_eq!(cell["error_kind"], "unavailable", "{cell}");
            assert!(
                cell["error"].as_str().unwrap().contains(reason.as_str()),
                "{cell}"
            );
            continue;
        }
        assert_eq!(cell["conformance"], "pass", "{cell}");
        assert!(
            cell["steady"]["wall"]["median_ns"].as_f64().unwrap() > 0.0,
            "{cell}"
        );
        let ratio = &cell["ratio_to_native"];
        if entry.is_native {
            assert!(ratio.is_null())
        } else {
            assert!(ratio["value"].as_f64().unwrap() > 0.0);
            assert!(ratio["low"].as_f64().unwrap() <= ratio["high"].as_f64().unwrap());
            let above = &cell["ratio_above_floor"];
            assert!(above["value"].as_f64().unwrap() > 0.0, "{cell}");
            let rounds = &cell["steady"]["rounds"];
            assert_eq!(
                rounds["baseline_p50_ns"].as_array().unwrap().len(),
                rounds["p50_ns"].as_array().unwrap().len(),
                "every round is a pair: {cell}"
            );
        }
    }
    let records = json["engines"].as_array().unwrap();
    assert_eq!(
        records.len(),
        engines.len() + 2,
        "engines plus the two calibration records"
    );
    let fuel = records
        .iter()
        .find(|r| r["name"] == "wasmtime-cranelift+fuel")
        .unwrap();
    assert_eq!(
        (fuel["compiler"].as_str(), fuel["options"][0].as_str()),
        (Some("cranelift"), Some("fuel"))
    );
    for entry in engines.iter().filter(|e| e.unavailable.is_some()) {
        assert!(
            stdout.contains(&format!("{}: ", entry.name)),
            "the reason for {} is printed:\n{stdout}",
            entry.name
        );
    }
}

#[test]
fn a_run_can_be_narrowed_to_one_filter_engine_and_workload_group() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let output = filterbench(&[
        "run",
        "--quick",
        "--filter",
        "headers@rust",
        "--engine",
        "native",
        "--workload",
        "sweep:headers",
        "--repeat",
        "2",
        "--no-report",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let all = json["cells"].as_array().unwrap();
    // Native code alone, with its calibration cells (host floor, A/A twin) per workload.
    assert_eq!(all.len(), 5 * 3, "{all:?}");
    let cells: Vec<&serde_json::Value> = all.iter().filter(|c| c["engine"] == "native").collect();
    let workloads: Vec<&str> = cells
        .iter()
        .map(|c| c["workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        workloads,
        [
            "headers-8",
            "headers-16",
            "headers-32",
            "headers-64",
            "headers-128"
        ]
    );
    for cell in cells {
        assert_eq!(
            (cell["filter"].as_str(), cell["engine"].as_str()),
            (Some("headers"), Some("native"))
        );
        assert_eq!(cell["conformance"], "pass", "{cell}");
        let rounds = cell["steady"]["rounds"]["p50_ns"].as_array().unwrap();
        assert_eq!(rounds.len(), 40, "two quick runs of 20 rounds merged");
    }
    assert_eq!(json["settings"]["runs"], 2);
    assert!(!dir.path().join("report").exists());

    // The same file compared with itself: every cell unchanged, exit status 0.
    let same = filterbench(&[
        "compare",
        out_path.to_str().unwrap(),
        out_path.to_str().unwrap(),
    ]);
    let stdout = text(&same.stdout);
    assert!(same.status.success(), "{stdout}{}", text(&same.stderr));
    assert!(stdout.contains("0 regressed"), "{stdout}");
    // Twice as slow: regressed, exit status 2.
    let mut slower = json.clone();
    for cell in slower["cells"].as_array_mut().unwrap() {
        for v in cell["steady"]["rounds"]["p50_ns"].as_array_mut().unwrap() {
            *v = serde_json::json!(v.as_f64().unwrap() * 2.0);
        }
    }
    let slower_path = dir.path().join("slower.json");
    std::fs::write(&slower_path, serde_json::to_vec(&slower).unwrap()).unwrap();
    let regressed = filterbench(&[
        "compare",
        out_path.to_str().unwrap(),
        slower_path.to_str().unwrap(),
    ]);
    assert_eq!(
        regressed.status.code(),
        Some(2),
        "{}",
        text(&regressed.stdout)
    );
    assert!(text(&regressed.stdout).contains("REGRESSED"));
}

#[test]
fn a_filter_runs_in_every_language_with_ratios_sizes_and_a_language_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let report = dir.path().join("report");
    let output = filterbench(&[
        "run",
        "--quick",
        "--filter",
        "headers",
        "--engine",
        "wasmtime-cranelift,wasmi-eager,native",
        "--workload",
        "get-small",
        "--out",
        out_path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    for name in ["headers@assemblyscript", "headers@c", "headers@go"] {
        assert!(stdout.contains(name), "a row for {name}: {stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    for filter in [
        "headers",
        "headers@assemblyscript",
        "headers@c",
        "headers@go",
    ] {
        for engine in ["wasmtime-cranelift", "wasmi-eager"] {
            let cell = cells
                .iter()
                .find(|c| c["filter"] == filter && c["engine"] == engine)
                .unwrap_or_else(|| panic!("no cell {filter}/{engine}"));
            assert_eq!(cell["conformance"], "pass", "{cell}");
            assert!(
                cell["ratio_to_native"]["value"].as_f64().unwrap() > 0.0,
                "{filter}/{engine} has a ratio: {cell}"
            );
        }
    }
    // AssemblyScript and Go have no native build; C has its own.
    for filter in ["headers@assemblyscript", "headers@go"] {
        assert!(!cells.iter().any(|c| c["filter"] == filter
            && c["engine"] == "native"
            && c["conformance"] == "pass"));
    }
    assert!(cells.iter().any(|c| c["filter"] == "headers@c"
        && c["engine"] == "native"
        && c["conformance"] == "pass"));
    let modules = json["modules"].as_array().unwrap();
    let size = |filter: &str, key: &str| {
        modules
            .iter()
            .find(|m| m["filter"] == filter)
            .and_then(|m| m[key].as_u64())
    };
    let (rust, c) = (
        size("headers", "wasm_bytes").unwrap(),
        size("headers@c", "wasm_bytes").unwrap(),
    );
    assert!(
        c < rust,
        "C without an SDK is smaller than Rust with one ({c} vs {rust} bytes)"
    );
    assert!(size("headers@assemblyscript", "wasm_bytes").is_some());
    assert_eq!(size("headers@assemblyscript", "native_bytes"), None);
    // Go brings its runtime and garbage collector.
    let go = size("headers@go", "wasm_bytes").unwrap();
    assert!(
        go > rust,
        "Go's module carries its runtime ({go} vs {rust} bytes)"
    );
    // The report compares the languages.
    assert!(report.join("charts/language-headers.svg").exists());
    let readme = std::fs::read_to_string(report.join("README.md")).unwrap();
    assert!(readme.contains("Languages and SDKs"), "{readme}");
    assert!(readme.contains("C (no SDK)"), "{readme}");
    assert!(readme.contains("Go (no SDK)"), "{readme}");
}

#[test]
fn a_missing_language_toolchain_leaves_its_filters_out_and_the_rest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let output = Command::new(env!("CARGO_BIN_EXE_filterbench"))
        .args([
            "run",
            "--quick",
            "--filter",
            "noop",
            "--engine",
            "wasmi-eager",
            "--workload",
            "get-small",
            "--no-report",
            "--out",
        ])
        .arg(&out_path)
        .env("FILTERBENCH_CLANG", "/nonexistent/clang")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: noop@c is left out")
            && stderr.contains("/nonexistent/clang was not found (apt install clang lld)"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let filters: Vec<&str> = json["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["filter"].as_str().unwrap())
        .collect();
    assert_eq!(filters, ["noop", "noop@assemblyscript", "noop@go"]);
}

#[test]
fn bad_input_gives_one_line_errors_and_a_failure_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["run", "--filter", "nope", "--out", out],
            "unknown filter 'nope'; available: noop, headers",
        ),
        (
            &["run", "--engine", "v9", "--out", out],
            "unknown engine 'v9'",
        ),
        (
            &["run", "--workload", "huge", "--out", out],
            "unknown workload 'huge'",
        ),
        (
            &["run", "--out", "/proc/filterbench/results.json"],
            "choose another --out",
        ),
    ];
    for (args, expected) in cases {
        let output = filterbench(args);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: one line expected: {stderr}"
        );
    }
    assert!(
        !std::path::Path::new(out).exists(),
        "nothing is written on bad input"
    );
}
