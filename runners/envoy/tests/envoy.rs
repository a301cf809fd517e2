//! Integration tests against the real Envoy that `scripts/setup-envoy.sh` installs. Without
//! Envoy they print why they are skipped (and fail instead when FILTERBENCH_REQUIRE_ENVOY is
//! set, as CI does, so a broken install cannot pass silently).

mod common;

use common::envoy_or_skip;
use filterbench_envoy::config::{self, Endpoints, UpstreamMode, Variant};
use filterbench_envoy::process::{EnvoyError, EnvoyProcess};
use filterbench_envoy::runner::{self, Event, Programs, Rate};
use filterbench_envoy::upstream::{ECHO_HEADER, Echo};
use filterbench_envoy::{conformance, http};
use filterbench_harness::{artifacts, catalog, polyglot};
use std::time::Duration;

fn spec(name: &str) -> catalog::FilterSpec {
    catalog::filter(name).unwrap()
}

#[test]
fn headers_filter_on_v8_edits_headers_in_both_directions() {
    let Some(envoy) = envoy_or_skip("headers_filter_on_v8_edits_headers_in_both_directions") else {
        return;
    };
    let filter = spec("headers");
    artifacts::ensure_built(filter.crate_name).unwrap();
    let chain = config::filter_chain(
        &filter,
        Variant::V8,
        &artifacts::wasm_path(filter.crate_name),
    )
    .unwrap();
    let running = common::start(&envoy, &chain).unwrap();
    let process = &running.process;
    let headers = vec![
        (ECHO_HEADER.to_owned(), "1".to_owned()),
        ("x-debug".to_owned(), "1".to_owned()),
        ("user-agent".to_owned(), "curl/8".to_owned()),
    ];
    let response = http::request(
        process.listener(),
        "GET",
        "/api/v1/items",
        "api.example.com",
        &headers,
        b"",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header_values("x-fb-served-by"),
        vec!["filterbench"]
    );
    assert_eq!(response.header_values("x-fb-cache"), vec!["miss"]);
    let echo: Echo = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(echo.header_values("x-fb-tenant"), vec!["acme"]);
    assert_eq!(echo.header_values("x-fb-region"), vec!["eu-west-1"]);
    assert_eq!(
        echo.header_values("user-agent"),
        vec!["filterbench-proxy/1.0"]
    );
    assert!(echo.header_values("x-debug").is_empty());
    // The full catalog check agrees, and the baseline's passthrough check does not (the filter
    // is in the chain, so requests are not untouched).
    conformance::check(&filter, &running.probe(false)).unwrap();
    assert!(conformance::check(&filter, &running.probe(true)).is_err());
    // Envoy's statistics show the V8 VM.
    let stats = process.stats("^wasm\\.").unwrap();
    assert!(
        stats
            .iter()
            .any(|(k, v)| k.contains("v8") && k.ends_with("active") && *v > 0),
        "{stats:?}"
    );
}

#[test]
fn a_config_envoy_rejects_is_an_error_with_its_log() {
    let Some(envoy) = envoy_or_skip("a_config_envoy_rejects_is_an_error_with_its_log") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut bootstrap = config::bootstrap(
        &config::filter_chain(
            &spec("noop"),
            Variant::None,
            std::path::Path::new("/x.wasm"),
        )
        .unwrap(),
        &Endpoints {
            upstream_port: 9,
            mode: UpstreamMode::Direct,
            spec: None,
        },
    );
    bootstrap["static_resources"]["clusters"][0]["type"] = "NO_SUCH_TYPE".into();
    match EnvoyProcess::start(&envoy, &bootstrap, dir.path(), None) {
        Err(EnvoyError::Exited { tail, .. }) => {
            assert!(tail.contains("NO_SUCH_TYPE"), "log tail: {tail}")
        }
        Err(other) => panic!("expected Exited, got {other}"),
        Ok(_) => panic!("Envoy accepted an invalid cluster type"),
    }
}

#[test]
fn a_short_load_run_records_rate_percentiles_and_cpu_per_request() {
    let Some(envoy) =
        envoy_or_skip("a_short_load_run_records_rate_percentiles_and_cpu_per_request")
    else {
        return;
    };
    let programs = Programs::find(Some(&envoy)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let settings = runner::Settings {
        matrix: vec![(spec("headers"), vec![Variant::None, Variant::V8])],
        duration: Duration::from_secs(1),
        warmup: Duration::ZERO,
        rate: Rate::Fixed(500.0),
        rounds: 1,
        connections: 8,
        upstream: UpstreamMode::Direct,
        programs,
        work_dir: work.path().to_owned(),
    };
    let mut finished = 0;
    let mut updates = 0;
    let results = runner::run(
        &settings,
        |event| {
            if let Event::Finished { .. } = event {
                finished += 1;
            }
        },
        |_| updates += 1,
    )
    .unwrap();
    assert_eq!((finished, updates), (2, 2));
    assert_eq!(results.runs.len(), 2);
    for run in &results.runs {
        assert!(run.error.is_none(), "{}: {:?}", run.variant, run.error);
        assert!(run.conformant);
        let max = run.throughput.as_ref().unwrap();
        assert!(max.achieved_rps > 0.0 && max.requests > 0, "{max:?}");
        assert_eq!(max.non_2xx, 0);
        assert!(max.cpu_us_per_request.is_some_and(|c| c > 0.0), "{max:?}");
        let fixed = run.fixed_rate.as_ref().unwrap();
        assert!(fixed.achieved_rps > 100.0, "{fixed:?}");
        assert_eq!(fixed.target_rps, Some(500.0));
        let p50 = fixed.latency(50.0).unwrap();
        let p99 = fixed.latency(99.0).unwrap();
        assert!(p50 > 0.0 && p99 >= p50, "{fixed:?}");
        assert!(run.rss_peak_bytes.unwrap() >= run.rss_idle_bytes.unwrap());
    }
    let v8 = results.summary.iter().find(|s| s.variant == "v8").unwrap();
    assert!(v8.cpu_over_baseline_us.is_some());
    assert!(
        v8.description.contains("headers.wasm"),
        "{}",
        v8.description
    );
    let v8_run = results.runs.iter().find(|r| r.variant == "v8").unwrap();
    assert!(!v8_run.wasm_stats.is_empty());
}

#[test]
fn filters_in_other_languages_pass_the_catalog_checks_on_v8() {
    let Some(envoy) = envoy_or_skip("filters_in_other_languages_pass_the_catalog_checks_on_v8")
    else {
        return;
    };
    for (name, _, _) in catalog::LANGUAGE_VARIANTS {
        let filter = spec(name);
        let source = polyglot::ensure_built(&filter).unwrap_or_else(|e| panic!("{name}: {e}"));
        let chain =
            config::filter_chain(&filter, Variant::V8, source.wasm.as_ref().unwrap()).unwrap();
        let running = common::start(&envoy, &chain).unwrap_or_else(|e| panic!("{name}: {e}"));
        conformance::check(&filter, &running.probe(false))
            .unwrap_or_else(|e| panic!("{name} on V8: {e}"));
    }
}

/// A module that pauses (`pause` true) or continues every request in its request headers.
fn holding_module(dir: &std::path::Path, pause: bool) -> std::path::PathBuf {
    let wasm = filterbench_engine_testkit::module(
        "",
        &format!(
            r#"(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const {}))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))"#,
            u32::from(pause)
        ),
    );
    let path = dir.join(if pause { "holds.wasm" } else { "passes.wasm" });
    std::fs::write(&path, wasm).unwrap();
    path
}

#[test]
fn a_spec_stating_a_paused_stream_is_checked_through_envoy() {
    let Some(envoy) = envoy_or_skip("a_spec_stating_a_paused_stream_is_checked_through_envoy")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for pause in [true, false] {
        let wasm = holding_module(dir.path(), pause);
        let mut filter = catalog::user_module(
            "holds",
            String::new(),
            String::new(),
            catalog::PluginSettings::default(),
            vec!["get-small"],
            Vec::new(),
        );
        filter.custom = catalog::Custom {
            spec_file: Some(dir.path().join("holds.yaml")),
            wasm: Some(wasm.clone()),
            assertions: vec![(
                "get-small".to_owned(),
                filterbench_harness::assertions::Assertions {
                    paused: Some(true),
                    ..Default::default()
                },
            )],
            ..catalog::Custom::default()
        };
        let chain = config::filter_chain(&filter, Variant::V8, &wasm).unwrap();
        let running = common::start(&envoy, &chain).unwrap();
        let outcome = conformance::check(&filter, &running.probe(false));
        if pause {
            outcome.unwrap();
        } else {
            let error = outcome.unwrap_err();
            assert!(
                error.contains("get-small: stream: expected paused, Envoy answered 200"),
                "{error}"
            );
        }
    }
}
