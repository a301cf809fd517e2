//! Runs a probe on one of this build's engines, through filterbench's own host, with Envoy's
//! default failure policy (fail-closed: after a trap, later requests get 503 and the module is
//! not called again).

use crate::outcome::{NO_RESPONSE, Outcome};
use crate::probes::Probe;
use filterbench_host::{HeaderMap, HttpExchange, ModuleSource, PluginSpec};
use std::sync::Arc;

/// The status Envoy answers when a filter failed (a trap, or fail-closed after one).
pub const FAILED_STATUS: u16 = 503;

/// The exchange `probe` is sent in-process: a GET of `/probe` (a POST of its request body, when
/// it has one) answered 200 with `content-type: text/plain` and the probe's response body.
pub fn exchange(probe: &Probe) -> HttpExchange {
    let body_len: usize = probe.response_body.iter().map(|c| c.len()).sum();
    let length = body_len.to_string();
    let mut request_headers = HeaderMap::from_pairs(&[
        (":method", "GET"),
        (":path", "/probe"),
        (":authority", "probe.local"),
        (":scheme", "http"),
    ]);
    let mut request_body = Vec::new();
    if !probe.request_body.is_empty() {
        request_headers.replace(b":method", b"POST");
        let length = probe.request_body.len().to_string();
        request_headers.add(b"content-length", length.as_bytes());
        request_body.push(probe.request_body.as_bytes().to_vec());
    }
    HttpExchange {
        request_headers,
        request_body,
        response_headers: HeaderMap::from_pairs(&[
            (":status", "200"),
            ("content-type", "text/plain"),
            ("content-length", length.as_str()),
        ]),
        response_body: probe
            .response_body
            .iter()
            .map(|c| c.as_bytes().to_vec())
            .collect(),
        ..HttpExchange::default()
    }
}

/// The plugin `probe` runs as: its configuration, the upstreams it calls, its virtual clock.
fn plugin(probe: &Probe, configuration: &str) -> PluginSpec {
    PluginSpec {
        upstreams: Arc::new(probe.http_upstreams.clone()),
        grpc_upstreams: Arc::new(probe.grpc_upstreams.clone()),
        clock_step_ns: probe.clock_step_ms * 1_000_000,
        ..PluginSpec::new(probe.name, configuration)
    }
}

/// Runs `probe` from `source` (its WebAssembly module on a WebAssembly engine, the native
/// build of `bench-filters/host-probe` on `native`) on `engine`, with `configuration` as the
/// plugin configuration.
pub fn run(engine: &str, probe: &Probe, source: &ModuleSource, configuration: &str) -> Outcome {
    let started = filterbench_engines::create(engine)
        .map_err(|e| e.to_string())
        .and_then(|engine| engine.load(source).map_err(|e| e.to_string()))
        .and_then(|module| {
            module
                .instantiate(plugin(probe, configuration))
                .map_err(|e| e.to_string())
        })
        .and_then(|mut instance| {
            instance
                .start()
                .map(|()| instance)
                .map_err(|e| e.to_string())
        });
    let mut instance = match started {
        Ok(instance) => instance,
        Err(error) => {
            return Outcome {
                error: Some(error),
                ..Outcome::default()
            };
        }
    };
    let exchange = exchange(probe);
    let mut outcome = Outcome {
        started: true,
        ..Outcome::default()
    };
    for _ in 0..probe.requests {
        if outcome.error.is_some() {
            // Fail-closed: the module is not called again.
            outcome.statuses.push(FAILED_STATUS);
            outcome.trapped.push(false);
            outcome.forwarded.push(false);
            continue;
        }
        let result = instance.run_stream(&exchange);
        outcome
            .forwarded
            .push(instance.state().stream.request_forwarded);
        match result {
            // A stream left paused never answers the client (Envoy: it waits for a timeout).
            Ok(()) if instance.state().stream.paused_in.is_some() => {
                outcome.statuses.push(NO_RESPONSE);
                outcome.trapped.push(false);
            }
            Ok(()) => {
                let status = instance
                    .state()
                    .stream
                    .response_headers
                    .as_ref()
                    .and_then(|h| h.get(b":status"))
                    .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
                    .unwrap_or(NO_RESPONSE);
                outcome.statuses.push(status);
                outcome.trapped.push(false);
            }
            Err(error) => {
                outcome.error = Some(error.to_string());
                outcome.statuses.push(FAILED_STATUS);
                outcome.trapped.push(true);
            }
        }
    }
    outcome.gauges = instance
        .state()
        .metrics
        .iter()
        .map(|m| (m.name.clone(), m.value))
        .collect();
    outcome
}
