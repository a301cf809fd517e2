//! `filterbench envoy`: bad input, records and reports, CPU per request, sweeps, instructions.

use super::*;

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
    let mut args = vec!["--filter", "noop", "--variant", "v8"];
    args.extend(SHORT_LOAD);
    let (_dir, out, report, output) = envoy_run(&envoy, &args);
    let stderr = text(&output.stderr);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(stderr.contains("round 1 noop"), "{stderr}");
    assert!(stdout.contains("over baseline µs"), "{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 6);
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
    let found = chart_collisions(&report);
    assert!(found.is_empty(), "{found:?}");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("Envoy under load"));
    assert!(html.contains("Envoy, noop, load runs (one round: no interval"));
}

#[test]
fn envoy_runs_the_go_filters_on_v8_with_their_effects_checked() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let mut args = vec!["--filter", "noop@go,headers@go", "--variant", "v8"];
    args.extend(SHORT_LOAD);
    let (_dir, out, _report, output) = envoy_run(&envoy, &args);
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let runs = json["envoy"]["runs"].as_array().unwrap();
    for filter in ["noop@go", "headers@go"] {
        let v8 = runs
            .iter()
            .find(|r| r["filter"] == filter && r["variant"] == "v8")
            .unwrap_or_else(|| panic!("no v8 run of {filter}: {runs:?}"));
        assert!(
            v8["error"].is_null() && v8["conformant"] == true,
            "Envoy loads the Go reactor and it edits as in-process: {v8}"
        );
    }
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
    // The first screen's Envoy figure: v8 and native over no filter on headers, each with its
    // interval as a tooltip and a link to its row; the headline sentence names both.
    let grid = std::fs::read_to_string(report.join("charts/overview-envoy.svg")).unwrap();
    for variant in ["v8", "native"] {
        assert!(
            grid.contains(&format!(
                "<title>{variant} on headers in Envoy: worker CPU per request"
            )),
            "{grid}"
        );
        assert!(html.contains(&format!("id=\"envoy-cpu-headers-{variant}\"")));
    }
    let summary = &html[html.find("<section id=\"summary\">").unwrap()..];
    let summary = &summary[..summary.find("</section>").unwrap()];
    assert!(summary.contains("In Envoy 1.40"), "{summary}");
    assert!(
        summary.contains("V8 adds") && summary.contains("the native bridge adds"),
        "{summary}"
    );
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

/// The example spec, and a copy of it with `expect` lines replaced (`from`, `to`).
fn example_spec_with(dir: &std::path::Path, edits: &[(&str, &str)]) -> PathBuf {
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/token-refresh.yaml");
    if edits.is_empty() {
        return example;
    }
    let mut text = std::fs::read_to_string(&example).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{from} not in the example");
        text = text.replace(from, to);
    }
    let spec = dir.join("edited.yaml");
    std::fs::write(&spec, text).unwrap();
    spec
}

/// One short closed-loop and open-loop run per variant.
const SHORT_LOAD: [&str; 12] = [
    "--measure",
    "time",
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
];

#[test]
fn envoy_runs_a_spec_with_its_upstream_property_and_expectations_checked() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec_with(dir.path(), &[]);
    let mut args = vec!["--spec", spec.to_str().unwrap(), "--no-report"];
    args.extend(SHORT_LOAD);
    let (_dir, out, _report, output) = envoy_run(&envoy, &args);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "{stderr}\n{}",
        text(&output.stdout)
    );
    assert!(stderr.contains("ticks follow its real clock"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let runs = json["envoy"]["runs"].as_array().unwrap();
    let variants: Vec<&str> = runs
        .iter()
        .map(|r| r["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants.len(), 2, "{variants:?}");
    assert!(variants.contains(&"v8") && variants.contains(&"none"));
    for r in runs {
        assert!(r["error"].is_null() && r["conformant"] == true, "{r}");
        assert_eq!(r["filter"], "token-refresh");
    }
    // The module's HTTP call went to the spec's token service through Envoy.
    let v8 = runs.iter().find(|r| r["variant"] == "v8").unwrap();
    assert!(
        v8["description"]
            .as_str()
            .unwrap()
            .contains("token_refresh.wasm"),
        "{v8}"
    );
}

#[test]
fn envoy_runs_a_grpc_spec_with_its_calls_and_stream_served_over_http2() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/grpc-check.yaml"),
    )
    .unwrap();
    // The allowed path (the example), then the denied path: the authorization service fails
    // the call and the module answers 403 locally, naming Envoy's status message.
    let denied = example
        .replace("      messages: [allow]", "      status: 7\n      status_message: no entry")
        .replace(
            "      local_reply: false\n      request_headers:\n        x-authz: allow\n        x-policy: \"policy: audit\"\n      metrics: {authz_allowed: 1, feed_messages: 2}",
            "      local_reply: 403\n      local_reply_body_contains: \"denied: no entry{via_upstream}\"\n      metrics: {authz_denied: 1, feed_messages: 2}",
        );
    assert_ne!(denied, example);
    assert!(denied.contains("local_reply: 403"), "{denied}");
    for (name, spec_text) in [("allowed", example), ("denied", denied)] {
        let spec = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&spec, spec_text).unwrap();
        let mut args = vec!["--spec", spec.to_str().unwrap(), "--no-report"];
        args.extend(SHORT_LOAD);
        let (_dir, out, _report, output) = envoy_run(&envoy, &args);
        assert!(
            output.status.success(),
            "{name}: {}\n{}",
            text(&output.stderr),
            text(&output.stdout)
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let runs = json["envoy"]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{name}");
        for r in runs {
            assert!(
                r["error"].is_null() && r["conformant"] == true,
                "{name}: {r}"
            );
        }
    }
}

#[test]
fn envoy_fails_a_spec_whose_expectation_does_not_hold_through_envoy() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = example_spec_with(
        dir.path(),
        &[
            ("x-route: api-route", "x-route: another-route"),
            ("[\"token refreshed\"]", "[\"no such line\"]"),
        ],
    );
    let mut args = vec![
        "--spec",
        spec.to_str().unwrap(),
        "--variant",
        "v8",
        "--no-report",
    ];
    args.extend(SHORT_LOAD);
    let (_dir, out, _report, output) = envoy_run(&envoy, &args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let v8 = json["envoy"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variant"] == "v8")
        .unwrap()
        .clone();
    let error = v8["error"].as_str().unwrap();
    assert!(
        error.contains("request header x-route: expected \"another-route\", got \"api-route\""),
        "{error}"
    );
    assert!(error.contains("contains \"no such line\""), "{error}");
    // The baseline passed: only the module's run failed.
    let none = json["envoy"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variant"] == "none")
        .unwrap()
        .clone();
    assert!(none["error"].is_null(), "{none}");
    // The bridge does not bridge HTTP calls: no native variant for this spec, with a reason.
    let output = filterbench(&[
        "envoy",
        "--spec",
        spec.to_str().unwrap(),
        "--variant",
        "native",
        "--out",
        dir.path().join("n.json").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("does not bridge HTTP or gRPC calls"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn envoy_runs_a_spec_native_library_through_the_bridge_loader() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("headers.yaml");
    let spec_text = "bench_filter: headers\nplugin:\n  configuration: {request: {add: [[x-added, \"1\"]], remove: [user-agent]}, response: {add: [[x-resp, \"2\"]]}}\nworkloads:\n  - name: get-small\n    expect:\n      request_headers: {x-added: \"1\", user-agent: false}\n      response_headers: {x-resp: \"2\"}\n";
    std::fs::write(&spec, spec_text).unwrap();
    let (_dir, out, _report, output) = envoy_run(
        &envoy,
        &[
            "--spec",
            spec.to_str().unwrap(),
            "--variant",
            "v8,native",
            "--measure",
            "cpu",
            "--slices",
            "3",
            "--no-report",
        ],
    );
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let cpu = &json["envoy"]["cpu"][0];
    assert!(cpu["error"].is_null(), "{cpu}");
    let descriptions = cpu["descriptions"].to_string();
    assert!(
        descriptions.contains("natively through the Proxy-Wasm bridge's loader"),
        "{descriptions}"
    );
    // Checked through Envoy before the slices: the native library edited the headers.
    let slices = cpu["slices"].as_array().unwrap();
    assert_eq!(
        slices.iter().filter(|s| s["variant"] == "native").count(),
        3,
        "{cpu}"
    );

    // A library that is not a Proxy-Wasm filter: Envoy refuses the module, and the run says why.
    let not_a_filter = dir.path().join("libnot-a-filter.so");
    std::fs::write(&not_a_filter, b"not an ELF file").unwrap();
    let wasm = dir.path().join("m.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "module: m.wasm\nnative: libnot-a-filter.so\nworkloads:\n  - name: get-small\n",
    )
    .unwrap();
    let (_dir, out, _report, output) = envoy_run(
        &envoy,
        &[
            "--spec",
            bad.to_str().unwrap(),
            "--variant",
            "native",
            "--measure",
            "cpu",
            "--slices",
            "1",
            "--no-report",
        ],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let error = json["envoy"]["cpu"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("filterbench bridge: cannot load the native filter library")
            && error.contains("libnot-a-filter.so"),
        "{error}"
    );
}

#[test]
fn envoy_runs_a_network_filter_spec_over_tcp_connections() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/network-probe.yaml");
    let spec = example.to_str().unwrap();
    // The example: its connection checked through Envoy (the module's log and metrics), then
    // Envoy's CPU and instructions per connection next to tcp_proxy alone.
    let (_dir, out, _report, output) = envoy_run(
        &envoy,
        &[
            "--spec",
            spec,
            "--quick",
            "--measure",
            "cpu,instructions,time",
            "--no-report",
        ],
    );
    let (stderr, stdout) = (text(&output.stderr), text(&output.stdout));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    assert!(
        stderr.contains("no load runs (wrk and oha speak HTTP)"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let errors = schema_errors(&json);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(json["envoy"]["runs"].as_array().unwrap().is_empty());
    let cpu = &json["envoy"]["cpu"][0];
    assert!(cpu["error"].is_null(), "{cpu}");
    let descriptions = cpu["descriptions"].to_string();
    assert!(
        descriptions.contains("envoy.filters.network.wasm"),
        "{descriptions}"
    );
    assert!(
        descriptions.contains("a request is one TCP connection"),
        "{descriptions}"
    );
    for s in cpu["slices"].as_array().unwrap() {
        assert_eq!(
            s["non_2xx"], 0,
            "every connection brought back the same bytes: {s}"
        );
    }
    let counts = json["envoy"]["instructions"].as_array().unwrap();
    let of = |variant: &str| counts.iter().find(|c| c["variant"] == variant).unwrap();
    for count in [of("none"), of("v8")] {
        assert!(count["error"].is_null(), "{count}");
        assert!(count["spread"].as_f64().unwrap() < 0.02, "{count}");
    }
    // The network filter runs V8 code on every connection.
    assert!(of("v8")["over_baseline"].as_f64().unwrap() > 0.0);

    // An expectation Envoy does not meet fails the run (exit status 4), naming it.
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("edited.yaml");
    let text_of = std::fs::read_to_string(&example).unwrap();
    let wrong = text_of.replace("upstream closed by Unknown", "upstream closed by Remote");
    assert_ne!(wrong, text_of);
    std::fs::write(&edited, wrong).unwrap();
    let (_dir, _out, _report, output) = envoy_run(
        &envoy,
        &[
            "--spec",
            edited.to_str().unwrap(),
            "--measure",
            "cpu",
            "--slices",
            "2",
            "--no-report",
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("contains \"upstream closed by Remote\""),
        "{stderr}"
    );

    // One kind of workload per spec in Envoy (a catalog workload is an HTTP request).
    let mixed = dir.path().join("mixed.yaml");
    for (extra, expected) in [
        (
            "  - name: t\n    tick: true\n",
            "workloads t are ticks or queue items (a root-only plugin) and echo",
        ),
        (
            "  - name: get-small\n",
            "workloads get-small are HTTP requests and echo TCP connections",
        ),
    ] {
        std::fs::write(&mixed, format!("{text_of}{extra}")).unwrap();
        let output = filterbench(&[
            "envoy",
            "--spec",
            mixed.to_str().unwrap(),
            "--envoy",
            &envoy,
        ]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn envoy_checks_a_root_only_plugin_as_a_wasm_service_on_its_own_clock() {
    let Some(envoy) = filterbench_envoy_path() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The tick fires every second on Envoy's clock; the queue item is checked in-process only.
    let spec_text = |line: &str| {
        format!(
            "bench_filter: network-probe\nplugin:\n  configuration: {{mode: root}}\nworkloads:\n  - name: tick\n    tick: true\n    expect:\n      metrics: {{ticks: 1}}\n      log_contains: [\"{line}\"]\n  - name: event\n    queue: {{name: events, item: hello}}\n    expect:\n      metrics: {{events: 1}}\n"
        )
    };
    for (line, passes) in [
        ("network-probe: tick", true),
        ("network-probe: tock", false),
    ] {
        let spec = dir.path().join("root.yaml");
        std::fs::write(&spec, spec_text(line)).unwrap();
        let mut args = vec!["--spec", spec.to_str().unwrap()];
        if !passes {
            args.push("--no-report");
        }
        let (_dir, out, report, output) = envoy_run(&envoy, &args);
        let stderr = text(&output.stderr);
        assert!(stderr.contains("as a singleton Wasm service"), "{stderr}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let runs = json["envoy"]["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "one check per variant: {runs:?}");
        let v8 = runs.iter().find(|r| r["variant"] == "v8").unwrap();
        assert!(
            v8["description"]
                .as_str()
                .unwrap()
                .contains("envoy.bootstrap.wasm"),
            "{v8}"
        );
        assert!(v8["throughput"].is_null(), "nothing is loaded: {v8}");
        if passes {
            assert!(output.status.success(), "{stderr}");
            assert_eq!(v8["conformant"], true, "{v8}");
            assert!(
                stderr.contains("checked through Envoy (no load)"),
                "{stderr}"
            );
            // The report says what was done, and draws no empty load charts.
            let html = std::fs::read_to_string(report.join("index.html")).unwrap();
            assert!(html.contains("Envoy: checked, not loaded"));
            assert!(!report.join("charts/envoy-throughput.svg").exists());
        } else {
            assert_eq!(output.status.code(), Some(4), "{stderr}");
            assert!(
                stderr.contains("contains \"network-probe: tock\""),
                "{stderr}"
            );
        }
    }
}
