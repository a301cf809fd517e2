//! The native variant inside the real Envoy: bench filters linked with the Proxy-Wasm →
//! dynamic-module bridge answer exactly as the same filters on V8 do, and the bridge's Envoy
//! pin is checked. Skipped with a message without Envoy (failing when FILTERBENCH_REQUIRE_ENVOY
//! is set, as in CI).

mod common;

use common::{envoy_or_skip, start};
use filterbench_envoy::bridge::{self, EnvoyMismatch};
use filterbench_envoy::config::{self, Variant};
use filterbench_envoy::conformance;
use filterbench_envoy::upstream::Echo;
use filterbench_envoy_bridge::envoy_abi::ENVOY_CALLBACKS;
use filterbench_harness::{artifacts, catalog};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Headers whose values differ from request to request whatever the filter does.
fn volatile(name: &str) -> bool {
    matches!(
        name,
        "date"
            | "x-request-id"
            | "x-envoy-upstream-service-time"
            | "x-envoy-expected-rq-timeout-ms"
    )
}

/// What one request produced: status, response headers, and either the request the upstream
/// saw (forwarded) or the local response's body.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    workload: String,
    status: u16,
    response_headers: Vec<(String, String)>,
    upstream_headers: Option<Vec<(String, String)>>,
    local_body: Option<String>,
}

/// Sends every catalog workload of `filter` through Envoy running `variant` of it.
fn observe(envoy: &Path, filter: &catalog::FilterSpec, variant: Variant) -> Vec<Seen> {
    let artifact = match variant {
        Variant::V8 => {
            artifacts::ensure_built(filter.crate_name).unwrap();
            artifacts::wasm_path(filter.crate_name)
        }
        _ => bridge::ensure_built(filter.crate_name).unwrap(),
    };
    let chain = config::filter_chain(filter, variant, &artifact).unwrap();
    let envoy = start(envoy, &chain)
        .unwrap_or_else(|e| panic!("{} on {}: {e}", filter.name, variant.name()));
    let process = &envoy.process;
    let keep = |headers: &[(String, String)]| -> Vec<(String, String)> {
        let mut kept: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| !volatile(k))
            .cloned()
            .collect();
        kept.sort();
        kept
    };
    let mut seen = Vec::new();
    for name in &filter.workloads {
        let w = catalog::workload(name).unwrap();
        let response = conformance::send_to_echo(&w, process.listener())
            .1
            .unwrap_or_else(|e| panic!("{}/{name} on {}: {e}", filter.name, variant.name()));
        let echo: Option<Echo> = serde_json::from_slice(&response.body).ok();
        seen.push(Seen {
            workload: name.to_string(),
            status: response.status,
            response_headers: keep(&response.headers),
            upstream_headers: echo.as_ref().map(|e| keep(&e.headers)),
            local_body: echo.is_none().then(|| response.text()),
        });
    }
    seen
}

#[test]
fn bridged_headers_and_jwt_auth_answer_exactly_like_v8() {
    let Some(envoy) = envoy_or_skip("bridged_headers_and_jwt_auth_answer_exactly_like_v8") else {
        return;
    };
    bridge::check_envoy(&envoy).unwrap();
    for name in ["headers", "jwt-auth"] {
        let filter = catalog::filter(name).unwrap();
        let v8 = observe(&envoy, &filter, Variant::V8);
        let native = observe(&envoy, &filter, Variant::Native);
        assert!(v8.len() >= 2, "{name}: too few workloads to compare");
        assert_eq!(native, v8, "{name}: native (bridge) and V8 differ");
        // Both also did what the catalog expects (a filter that did nothing on both would
        // agree too).
        assert!(
            v8.iter().any(|s| s.status != 200
                || s.response_headers
                    .iter()
                    .any(|(k, _)| k.starts_with("x-fb-"))
                || s.upstream_headers
                    .iter()
                    .flatten()
                    .any(|(k, _)| k.starts_with("x-fb-") || k.starts_with("x-jwt-"))),
            "{name}: no visible effect: {v8:?}"
        );
    }
    // jwt-auth answers a bad token locally on both.
    let jwt = observe(
        &envoy,
        &catalog::filter("jwt-auth").unwrap(),
        Variant::Native,
    );
    assert!(jwt.iter().any(|s| s.status == 401), "{jwt:?}");
}

#[test]
fn every_bridged_filter_passes_the_catalog_checks_inside_envoy() {
    let Some(envoy) = envoy_or_skip("every_bridged_filter_passes_the_catalog_checks_inside_envoy")
    else {
        return;
    };
    for name in bridge::bridged_filters() {
        let filter = catalog::filter(name).unwrap();
        let module = bridge::ensure_built(filter.crate_name).unwrap();
        let chain = config::filter_chain(&filter, Variant::Native, &module).unwrap();
        let running = start(&envoy, &chain).unwrap_or_else(|e| panic!("{name}: {e}"));
        conformance::check(&filter, &running.probe(false))
            .unwrap_or_else(|e| panic!("{name} (native): {e}"));
    }
}

#[test]
fn a_refused_plugin_configuration_rejects_envoys_config() {
    let Some(envoy) = envoy_or_skip("a_refused_plugin_configuration_rejects_envoys_config") else {
        return;
    };
    let mut filter = catalog::filter("waf").unwrap();
    filter.plugin_config =
        r#"{"rules": [{"name": "bad", "pattern": "(", "target": "path"}]}"#.into();
    let module = bridge::ensure_built(filter.crate_name).unwrap();
    let chain = config::filter_chain(&filter, Variant::Native, &module).unwrap();
    let err = match start(&envoy, &chain) {
        Ok(_) => panic!("Envoy accepted a configuration the filter refused"),
        Err(e) => e,
    };
    assert!(err.contains("refused its plugin configuration"), "{err}");
}

#[test]
fn the_bridge_is_pinned_to_the_installed_envoy_and_says_so_otherwise() {
    let Some(envoy) =
        envoy_or_skip("the_bridge_is_pinned_to_the_installed_envoy_and_says_so_otherwise")
    else {
        return;
    };
    bridge::check_envoy(&envoy).unwrap();
    let exported = bridge::exported_callbacks(&envoy);
    for callback in ENVOY_CALLBACKS {
        assert!(exported.contains(*callback), "Envoy lacks {callback}");
    }
    // Another release is refused before anything runs, with what to do.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("envoy");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'envoy  version: 0123456789abcdef/1.39.2/Clean/RELEASE/BoringSSL'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = bridge::check_envoy(&fake).unwrap_err();
    assert!(matches!(err, EnvoyMismatch::Release { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("1.39.2") && text.contains("1.40"), "{text}");
    assert!(text.contains("scripts/setup-envoy.sh"), "{text}");
}
