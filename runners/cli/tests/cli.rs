//! The `filterbench` binary end to end: listings, a quick run with its table and results.json,
//! and one-line errors with a non-zero exit status for bad input.

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
    assert_eq!(json["schema_version"], 5);
    assert_eq!(json["settings"]["quick"], true);
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
    for name in ["headers@assemblyscript", "headers@c"] {
        assert!(stdout.contains(name), "a row for {name}: {stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    for filter in ["headers", "headers@assemblyscript", "headers@c"] {
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
    // AssemblyScript has no native build; C has its own.
    assert!(
        !cells.iter().any(|c| c["filter"] == "headers@assemblyscript"
            && c["engine"] == "native"
            && c["conformance"] == "pass")
    );
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
    // The report compares the languages.
    assert!(report.join("charts/language-headers.svg").exists());
    let readme = std::fs::read_to_string(report.join("README.md")).unwrap();
    assert!(readme.contains("Languages and SDKs"), "{readme}");
    assert!(readme.contains("C (no SDK)"), "{readme}");
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
    assert_eq!(filters, ["noop", "noop@assemblyscript"]);
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

#[test]
fn envoy_bad_input_gives_one_line_errors_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.json");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["envoy", "--filter", "body-redact", "--out", out],
            "filter body-redact cannot run in the Envoy runner yet",
        ),
        (
            &["envoy", "--filter", "nope", "--out", out],
            "unknown filter 'nope': the Envoy runner takes noop, headers",
        ),
        (
            &["envoy", "--variant", "wasm", "--out", out],
            "unknown variant 'wasm': use none, v8, native, builtin or lua",
        ),
        (
            &["envoy", "--rate", "fast", "--out", out],
            "--rate \"fast\": give requests/second",
        ),
        (
            &["envoy", "--envoy", "/nonexistent/envoy", "--out", out],
            "envoy not found (looked at /nonexistent/envoy): run scripts/setup-envoy.sh",
        ),
    ];
    for (args, expected) in cases {
        let output = filterbench(args);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
    assert!(!std::path::Path::new(out).exists());
}

#[test]
fn envoy_run_writes_records_and_a_report_with_envoy_charts() {
    let envoy = filterbench_envoy_path();
    let Some(envoy) = envoy else { return };
    let (_dir, out, report, output) = envoy_run(
        &envoy,
        &[
            "--measure",
            "time",
            "--filter",
            "noop",
            "--variant",
            "v8",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--repeat",
            "1",
            "--rate",
            "300",
            "--connections",
            "4",
        ],
    );
    let stderr = text(&output.stderr);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(stderr.contains("round 1 noop"), "{stderr}");
    assert!(stdout.contains("over baseline µs"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 5);
    let errors = schema_errors(&json);
    assert!(
        errors.is_empty(),
        "envoy.json vs docs/results.schema.json: {errors:?}"
    );
    let runs = json["envoy"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "baseline and v8");
    assert!(
        runs.iter()
            .all(|r| r["error"].is_null() && r["conformant"] == true)
    );
    assert_eq!(json["envoy"]["settings"]["rate_rps"], 300.0);
    assert!(
        json["environment"]["tools"]["envoy"]
            .as_str()
            .unwrap()
            .contains("1.40")
    );
    for chart in [
        "envoy-throughput",
        "envoy-cpu",
        "envoy-rss",
        "envoy-latency-noop",
    ] {
        assert!(
            report.join(format!("charts/{chart}.svg")).is_file(),
            "{chart}"
        );
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Envoy under load"));
    assert!(html.contains("Envoy, noop, load runs (one round: no interval"));
}

#[test]
fn envoy_cpu_per_request_is_paired_slice_by_slice_with_intervals() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let (_dir, out, report, output) = envoy_run(
        &envoy,
        // 2,000 req/s: far below capacity, so a slice catches up after the stalls that
        // tests running beside it cause (at 10,000 req/s such slices fell behind).
        &[
            "--measure",
            "cpu",
            "--slices",
            "10",
            "--slice-rate",
            "2000",
            "--filter",
            "headers",
            "--variant",
            "v8,native",
        ],
    );
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(
        stderr.contains("headers") && stderr.contains("round 10/10"),
        "{stderr}"
    );
    assert!(stdout.contains("over no filter µs"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:?}");
    let cpu = &json["envoy"]["cpu"][0];
    assert!(cpu["error"].is_null(), "{cpu}");
    let per_slice = cpu["requests_per_slice"].as_u64().unwrap();
    let slices = cpu["slices"].as_array().unwrap();
    // Ten rounds of one slice per listener (none, v8, native), each every request answered.
    assert_eq!(slices.len(), 30);
    for s in slices {
        assert_eq!(s["requests"].as_u64(), Some(per_slice), "{s}");
        assert_eq!(s["non_2xx"], 0, "{s}");
        // The worker is one of Envoy's threads; it did work for every request.
        let (worker, process) = (
            s["worker_ns"].as_u64().unwrap(),
            s["process_ns"].as_u64().unwrap(),
        );
        assert!(worker > per_slice * 1_000 && process >= worker, "{s}");
    }
    let costs = cpu["costs"].as_array().unwrap();
    let of = |variant: &str| costs.iter().find(|c| c["variant"] == variant).unwrap();
    assert!(of("none")["over_baseline_us"].is_null());
    for variant in ["v8", "native"] {
        let c = of(variant);
        // Enough paired rounds for an interval (5), even if a few slices fell behind.
        assert!(c["paired_rounds"].as_u64().unwrap() >= 5, "{c}");
        let d = &c["over_baseline_us"];
        let (low, value, high) = (
            d["low"].as_f64().unwrap(),
            d["value"].as_f64().unwrap(),
            d["high"].as_f64().unwrap(),
        );
        assert!(low <= value && value <= high, "{c}");
    }
    // V8 running the headers filter costs the worker more than no filter (point estimate;
    // 9–18 µs measured on this machine).
    assert!(of("v8")["over_baseline_us"]["value"].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Envoy: CPU per request at a fixed rate, paired"));
    assert!(html.contains("Envoy, headers: worker CPU per request over no filter"));
    assert!(report.join("charts/envoy-cpu-paired.svg").is_file());
}

#[test]
fn envoy_sweeps_give_memory_and_vms_against_workers_and_plugins() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let (_dir, out, report, output) = envoy_run(
        &envoy,
        &[
            "--concurrency",
            "1,2",
            "--plugins",
            "1,2",
            "--variant",
            "v8",
        ],
    );
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:?}");
    // Sweeps run instead of the matrix.
    assert!(
        json["envoy"]["runs"]
            .as_array()
            .is_none_or(|r| r.is_empty())
    );
    let points = json["envoy"]["sweeps"].as_array().unwrap();
    // concurrency and listeners: none and v8 at 1 and 2; chain: none once, v8 at 1 and 2.
    assert_eq!(points.len(), 11, "{points:?}");
    let point = |sweep: &str, variant: &str, n: u64| {
        points
            .iter()
            .find(|p| p["sweep"] == sweep && p["variant"] == variant && p["n"] == n)
            .unwrap_or_else(|| panic!("no {sweep} {variant} {n}"))
    };
    for p in points {
        assert!(p["error"].is_null(), "{p}");
        let (ready, warm, peak) = (
            p["rss_idle_bytes"].as_u64().unwrap(),
            p["rss_warm_bytes"].as_u64().unwrap(),
            p["rss_peak_bytes"].as_u64().unwrap(),
        );
        assert!(ready > 10 << 20 && peak >= warm, "{p}");
    }
    // A V8 VM per worker, per copy in the chain, per listener's copy.
    for sweep in ["concurrency", "chain", "listeners"] {
        let vms = |n| point(sweep, "v8", n)["wasm_vms"].as_u64().unwrap();
        assert!(vms(2) > vms(1), "{sweep}: {} vs {}", vms(2), vms(1));
    }
    assert!(point("concurrency", "none", 1)["wasm_vms"].is_null());
    assert!(
        stdout.contains("sweeps: concurrency = N workers"),
        "{stdout}"
    );
    for chart in [
        "envoy-sweep-concurrency-headers-memory",
        "envoy-sweep-chain-headers-memory",
        "envoy-sweep-listeners-headers-memory",
    ] {
        assert!(
            report.join(format!("charts/{chart}.svg")).is_file(),
            "{chart}"
        );
    }
}

#[test]
fn envoy_instructions_per_request_are_counted_under_callgrind_and_repeat() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let (_dir, out, report, output) = envoy_run(
        &envoy,
        &[
            "--measure",
            "instructions",
            "--quick",
            "--filter",
            "noop",
            "--variant",
            "v8",
        ],
    );
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.contains("instructions per request under callgrind"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let counts = json["envoy"]["instructions"].as_array().unwrap();
    assert_eq!(counts.len(), 2, "baseline and v8: {counts:?}");
    let of = |variant: &str| counts.iter().find(|c| c["variant"] == variant).unwrap();
    let (none, v8) = (of("none"), of("v8"));
    for count in [none, v8] {
        assert!(count["error"].is_null(), "{count}");
        assert_eq!(count["per_request"].as_array().unwrap().len(), 2, "{count}");
        // Envoy itself does tens of thousands of instructions per request.
        assert!(count["median"].as_f64().unwrap() > 10_000.0, "{count}");
        // Instruction counts repeat: two bursts within 2% (0.1% measured here).
        assert!(count["spread"].as_f64().unwrap() < 0.02, "{count}");
    }
    // The Wasm filter adds instructions, part of them in V8's JIT code.
    assert!(v8["over_baseline"].as_f64().unwrap() > 0.0, "{v8}");
    assert!(v8["ratio_to_baseline"].as_f64().unwrap() > 1.0, "{v8}");
    let share = v8["filter_code_share"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.0, "{v8}");
    assert!(none["filter_code_share"].is_null(), "{none}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Envoy: instructions per request"));
    assert!(report.join("charts/envoy-instructions.svg").is_file());
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
    // noop 3 + headers 3 + jwt-auth 2 workloads, on 2 engines plus the floor and A/A cells.
    assert_eq!(total, (3 + 3 + 2) * 4);
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
    let wasm = wat::parse_str(
        r#"(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $requests (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $requests (i32.add (global.get $requests) (i32.const 1)))
    (if (i32.ge_u (global.get $requests) (i32.const 2)) (then (loop $forever (br $forever))))
    (i32.const 0)))"#,
    )
    .unwrap();
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

    // Resuming does not run the hung filter again.
    let output = filterbench(&[&args[..], &["--resume", out.to_str().unwrap()]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), 1);
    assert_eq!(json["cells"][0]["error_kind"], "hung");
}
