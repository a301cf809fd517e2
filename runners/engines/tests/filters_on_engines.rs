//! Every bench filter on every engine has the catalog's expected effects; the conformance
//! checker rejects a wrong expectation; the host drives the lifecycle in the spec's order.

mod common;

use filterbench_harness::catalog::{self, HeaderEdits};
use filterbench_harness::results::Conformance;
use filterbench_harness::{conformance, run};
use filterbench_host::{HeaderMap, HttpExchange, PluginSpec};

#[test]
fn every_filter_is_conformant_on_every_engine() {
    let engines = common::engines();
    assert!(
        engines.iter().any(|e| e.is_native),
        "the native engine is compiled in"
    );
    assert!(
        engines.iter().any(|e| e.name == "wasmtime-cranelift"),
        "wasmtime is compiled in"
    );
    for filter in catalog::filters() {
        let source = common::built_filter(&filter);
        for slot in &engines {
            if slot.is_native && source.native.is_none() {
                // AssemblyScript and Go have no native build.
                continue;
            }
            let module = slot
                .engine
                .load(&source)
                .unwrap_or_else(|e| panic!("{}/{}: {e}", filter.name, slot.name));
            for name in &filter.workloads {
                let mut instance = run::start_instance(module.as_ref(), &filter)
                    .unwrap_or_else(|e| panic!("{}/{}: {e}", filter.name, slot.name));
                let workload = catalog::workload(name).expect("catalog workload");
                let mut expected = (filter.expect)(&workload).expect("an expectation");
                // Twice on the same instance: state left by the first stream must not leak,
                // and metrics must accumulate.
                for round in 1..=2 {
                    for (_, value) in &mut expected.metrics {
                        *value = *value / (round - 1).max(1) * round;
                    }
                    let diff = conformance::run_and_check(
                        instance.as_mut(),
                        &workload.exchange,
                        &expected,
                    )
                    .unwrap_or_else(|e| panic!("{}/{}/{name}: {e}", filter.name, slot.name));
                    assert!(
                        diff.is_empty(),
                        "{}/{}/{name} round {round}: {diff:#?}",
                        filter.name,
                        slot.name
                    );
                }
            }
        }
    }
}

#[test]
fn headers_filter_really_edits_headers() {
    // Independent of the catalog's expectation: look at the headers themselves.
    let filter = catalog::filter("headers").unwrap();
    let source = common::built("headers");
    let workload = catalog::workload("get-small").unwrap();
    for slot in common::engines() {
        let module = slot.engine.load(&source).unwrap();
        let mut instance = run::start_instance(module.as_ref(), &filter).unwrap();
        instance.run_stream(&workload.exchange).unwrap();
        let stream = &instance.state().stream;
        let request = stream.request_headers.as_ref().unwrap();
        let response = stream.response_headers.as_ref().unwrap();
        assert_eq!(
            request.get(b"x-fb-tenant"),
            Some(&b"acme"[..]),
            "{}",
            slot.name
        );
        assert_eq!(
            request.get(b"user-agent"),
            Some(&b"filterbench-proxy/1.0"[..]),
            "{}",
            slot.name
        );
        assert_eq!(request.get(b"x-debug"), None, "{}", slot.name);
        assert_eq!(request.len(), 8 + 3 - 1, "{}", slot.name);
        assert_eq!(
            response.get(b"x-fb-served-by"),
            Some(&b"filterbench"[..]),
            "{}",
            slot.name
        );
        assert_eq!(response.len(), 6 + 2, "{}", slot.name);
    }
}

#[test]
fn a_wrong_expectation_is_reported_as_not_conformant() {
    let mut filter = catalog::filter("headers").unwrap();
    // Claim the filter adds a header it does not add, and forget one it does add.
    filter.expect = |w| {
        let mut expected = (catalog::filter("headers").unwrap().expect)(w)?;
        expected.request.add[0] = ("x-fb-tenant".to_owned(), "globex".to_owned());
        expected.response = HeaderEdits::default();
        Some(expected)
    };
    filter.workloads = vec!["get-small"];
    let subject = run::Subject {
        source: common::built("headers"),
        filter,
    };
    let results = run::run(
        &[subject],
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    assert!(!results.cells.is_empty());
    for cell in &results.cells {
        assert_eq!(
            cell.conformance,
            Conformance::Fail,
            "{}: {:?}",
            cell.engine,
            cell.diff
        );
        assert!(cell.steady.is_none(), "a non-conformant cell is not timed");
        let diff = cell.diff.join("\n");
        assert!(diff.contains("missing   x-fb-tenant: globex"), "{diff}");
        assert!(diff.contains("unexpected x-fb-tenant: acme"), "{diff}");
        assert!(
            diff.contains("response header: unexpected x-fb-served-by: filterbench"),
            "{diff}"
        );
    }
}

#[test]
fn a_filter_rejecting_its_configuration_is_an_error_naming_the_callback() {
    let mut filter = catalog::filter("headers").unwrap();
    filter.plugin_config = r#"{"request": {"add": "not a list"}}"#.to_owned();
    let subject = run::Subject {
        source: common::built("headers"),
        filter,
    };
    let results = run::run(
        &[subject],
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    for cell in &results.cells {
        assert_eq!(cell.conformance, Conformance::Error, "{}", cell.engine);
        assert_eq!(cell.error_kind.as_deref(), Some("rejected"));
        let error = cell.error.as_deref().unwrap();
        assert!(
            error.contains("'headers'") && error.contains("proxy_on_configure returned false"),
            "{error}"
        );
        assert!(
            error.contains("invalid plugin configuration"),
            "the filter's own log is shown: {error}"
        );
    }
}

fn probe_events(instance: &mut dyn filterbench_host::FilterInstance) -> Vec<String> {
    let logs = &mut instance.state().logs;
    let events = logs
        .records()
        .filter_map(|r| r.message.strip_prefix("probe: ").map(str::to_owned))
        .collect();
    logs.clear();
    events
}

#[test]
fn the_lifecycle_reaches_the_filter_in_the_spec_order() {
    let source = common::built("lifecycle-probe");
    let exchange = HttpExchange {
        request_headers: HeaderMap::from_pairs(&[
            (":method", "POST"),
            (":path", "/upload"),
            (":authority", "h"),
        ]),
        request_body: vec![b"hello ".to_vec(), b"world".to_vec()],
        request_trailers: Some(HeaderMap::from_pairs(&[("x-checksum", "abc")])),
        response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
        response_body: vec![b"ok".to_vec()],
        response_trailers: Some(HeaderMap::from_pairs(&[("grpc-status", "0")])),
        ..HttpExchange::default()
    };
    let headers_only = HttpExchange {
        request_headers: exchange.request_headers.clone(),
        response_headers: exchange.response_headers.clone(),
        ..HttpExchange::default()
    };
    for slot in common::engines() {
        let module = slot.engine.load(&source).unwrap();
        let mut instance = module
            .instantiate(PluginSpec::new("lifecycle-probe", ""))
            .unwrap();
        instance.start().unwrap();
        assert_eq!(
            probe_events(instance.as_mut()),
            ["root_context_create", "vm_start", "configure"],
            "{}",
            slot.name
        );

        instance.run_stream(&exchange).unwrap();
        assert_eq!(
            probe_events(instance.as_mut()),
            [
                "context_create",
                "request_headers eos=false",
                "request_body size=6 eos=false",
                "request_body size=5 eos=false",
                "request_trailers",
                "response_headers eos=false",
                "response_body size=2 eos=false",
                "response_trailers",
                "log",
                "done",
                "delete",
            ],
            "{}",
            slot.name
        );

        instance.run_stream(&headers_only).unwrap();
        assert_eq!(
            probe_events(instance.as_mut()),
            [
                "context_create",
                "request_headers eos=true",
                "response_headers eos=true",
                "log",
                "done",
                "delete"
            ],
            "{}",
            slot.name
        );
    }
}

/// Runs `filter` on `workload` on every engine and hands the host state to `check`.
fn on_every_engine(
    filter: &str,
    workload: &str,
    check: impl Fn(&str, &filterbench_host::HostState),
) {
    let filter = catalog::filter(filter).unwrap();
    let source = common::built(filter.crate_name);
    let exchange = catalog::workload(workload).unwrap().exchange;
    for slot in common::engines() {
        let module = slot.engine.load(&source).unwrap();
        let mut instance = run::start_instance(module.as_ref(), &filter).unwrap();
        instance
            .run_stream(&exchange)
            .unwrap_or_else(|e| panic!("{}: {e}", slot.name));
        check(&slot.name, instance.state());
    }
}

#[test]
fn security_filters_reject_with_the_right_status_and_say_why() {
    let local = |state: &filterbench_host::HostState| {
        state
            .stream
            .local_response
            .clone()
            .expect("a local response")
    };
    on_every_engine("jwt-auth", "get-forged-token", |engine, state| {
        let response = local(state);
        assert_eq!(response.status_code, 401, "{engine}");
        let challenge = response
            .headers
            .get(b"www-authenticate")
            .unwrap_or_default();
        assert!(
            challenge.ends_with(b"error_description=\"invalid signature\""),
            "{engine}: {challenge:?}"
        );
    });
    on_every_engine("waf", "get-sqli", |engine, state| {
        let response = local(state);
        assert_eq!(
            (response.status_code, response.headers.get(b"x-waf-rule")),
            (403, Some(&b"sqli-tautology"[..])),
            "{engine}"
        );
        assert_eq!(
            response.body, b"blocked by rule sqli-tautology\n",
            "{engine}"
        );
    });
    on_every_engine("rate-limit", "get-flood-client", |engine, state| {
        assert_eq!(local(state).status_code, 429, "{engine}");
    });
    on_every_engine("http-callout", "get-denied-user", |engine, state| {
        let response = local(state);
        assert_eq!(response.status_code, 403, "{engine}");
        assert_eq!(
            response.headers.get(b"x-auth-denied"),
            Some(&b"authorization service answered 403"[..]),
            "{engine}"
        );
    });
}

#[test]
fn data_filters_really_transform_what_they_see() {
    on_every_engine("body-redact", "post-64k", |engine, state| {
        let body = String::from_utf8_lossy(&state.stream.request_body_forwarded).into_owned();
        assert!(
            body.len() > 60_000 && body.contains("[REDACTED]"),
            "{engine}"
        );
        assert!(
            !body.contains("hunter") && !body.contains("4111111111"),
            "{engine}: secrets leaked"
        );
        assert!(
            body.contains("user00001@example.com"),
            "{engine}: other fields kept"
        );
    });
    on_every_engine("access-log", "get-small", |engine, state| {
        let line = state
            .logs
            .records()
            .map(|r| r.message.clone())
            .find(|m| m.starts_with("access "));
        let line = line.unwrap_or_else(|| panic!("{engine}: no access-log line"));
        assert!(
            line.starts_with("access \"GET /api/v1/items?id=42&view=full HTTP/1.1\" 200 "),
            "{engine}: {line}"
        );
        assert!(
            line.contains("us upstream=127.0.0.1:8080 ua=\"Mozilla/5.0"),
            "{engine}: {line}"
        );
    });
    on_every_engine("metrics", "get-large-headers", |engine, state| {
        let counter = state.metric_by_name("filterbench_requests_total;method=GET;status=2xx");
        assert_eq!(counter.map(|m| m.value), Some(1), "{engine}");
        assert_eq!(
            state
                .metric_by_name("filterbench_request_headers")
                .map(|m| (m.value, m.updates)),
            Some((64, 1)),
            "{engine}"
        );
    });
}
