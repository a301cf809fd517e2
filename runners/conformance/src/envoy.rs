//! Runs a probe through a real Envoy: the module on V8 in the HTTP filter chain of one
//! listener (one worker thread), an upstream answering every request with the probe's
//! response, the requests sent one after another; the gauges are read from Envoy's
//! `wasmcustom.*` stats and traps from Envoy's log ("Function: … failed: …").

use crate::outcome::Outcome;
use crate::probes::Probe;
use filterbench_envoy::config::{self, Endpoints, UpstreamMode, Variant};
use filterbench_envoy::http;
use filterbench_envoy::process::EnvoyProcess;
use filterbench_envoy::upstream::{Answer, Rule, Upstream};
use filterbench_harness::catalog::{self, PluginSettings};
use std::path::Path;
use std::time::Duration;

/// How long a request may take before the probe gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for Envoy to finish a stream after answering it (`proxy_on_log`, `proxy_on_done`) and
/// to write its log (flushed every 100 ms when a Wasm log level is set).
const SETTLE: Duration = Duration::from_millis(500);

/// The text of Envoy's log line for a trapped Wasm call.
const TRAP_MARK: &str = "] Function: ";

/// Runs `probe` (its module written to `wasm`) through the Envoy binary `envoy`, with its
/// files in `dir`; an error is a failure of the run itself (no upstream, no answer), not of
/// the module.
pub fn run(envoy: &Path, probe: &Probe, wasm: &Path, dir: &Path) -> Result<Outcome, String> {
    let mut filter = catalog::user_module(
        probe.name,
        String::new(),
        String::new(),
        PluginSettings::default(),
        Vec::new(),
        Vec::new(),
    );
    filter.custom.wasm = Some(wasm.to_owned());
    let chain = config::filter_chain(&filter, Variant::V8, wasm).map_err(|e| e.to_string())?;
    let body: Vec<u8> = probe.response_body.concat().into_bytes();
    let upstream = Upstream::start_scripted(
        None,
        vec![Rule {
            when_header: None,
            answer: Answer {
                status: 200,
                headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
                body,
                delay: Duration::ZERO,
            },
        }],
    )
    .map_err(|e| format!("cannot start the probe's upstream: {e}"))?;
    let endpoints = Endpoints {
        upstream_port: upstream.addr().port(),
        mode: UpstreamMode::Server,
        spec: None,
    };
    let envoy = match EnvoyProcess::start_logging(
        envoy,
        &config::bootstrap(&chain, &endpoints),
        dir,
        None,
        Some("info"),
    ) {
        Ok(envoy) => envoy,
        Err(error) => {
            return Ok(Outcome {
                error: Some(error.to_string()),
                ..Outcome::default()
            });
        }
    };
    let mut outcome = Outcome {
        started: true,
        ..Outcome::default()
    };
    let mut traps_before = traps(envoy.log());
    for _ in 0..probe.requests {
        let response = http::request(
            envoy.listener(),
            "GET",
            "/probe",
            "probe.local",
            &[],
            b"",
            REQUEST_TIMEOUT,
        )
        .map_err(|e| format!("probe {}: no answer from Envoy: {e}", probe.name))?;
        std::thread::sleep(SETTLE);
        let traps_now = traps(envoy.log());
        outcome.statuses.push(response.status);
        outcome.trapped.push(traps_now.len() > traps_before.len());
        if outcome.error.is_none() {
            outcome.error = traps_now.get(traps_before.len()).cloned();
        }
        traps_before = traps_now;
    }
    outcome.gauges = envoy
        .stats("^wasmcustom\\.")
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, value)| {
            let name = name.trim_start_matches("wasmcustom.").to_owned();
            (name, i64::try_from(value).unwrap_or(i64::MAX))
        })
        .collect();
    envoy.stop();
    Ok(outcome)
}

/// The trap lines in Envoy's log at `log`, from "Function:" on.
fn traps(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let at = line.find(TRAP_MARK)?;
            Some(line[at + 2..].to_owned())
        })
        .collect()
}
