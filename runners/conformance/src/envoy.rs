//! Runs a probe through a real Envoy: the module on V8 in the HTTP filter chain of one
//! listener (one worker thread), an upstream answering every request with the probe's
//! response, the requests sent one after another; the gauges are read from Envoy's stats of
//! the module's own metrics, traps from Envoy's log ("Function: … failed: …"), and whether each
//! request reached the upstream from the upstream's own record.

use crate::outcome::{NO_RESPONSE, Outcome};
use crate::probes::Probe;
use filterbench_envoy::bridge;
use filterbench_envoy::config::{self, Endpoints, UpstreamMode, Variant};
use filterbench_envoy::http;
use filterbench_envoy::process::EnvoyProcess;
use filterbench_envoy::upstream::{Answer, ECHO_HEADER, Rule, Upstream};
use filterbench_harness::catalog::{self, PluginSettings};
use std::path::Path;
use std::time::Duration;

/// How long a request may take before the probe gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for Envoy to finish a stream after answering it (`proxy_on_log`, `proxy_on_done`) and
/// to write its log (flushed every 100 ms when a Wasm log level is set).
const SETTLE: Duration = Duration::from_millis(500);

/// The stats of a module's own metrics: `wasmcustom.NAME` on V8, `dynamicmodulescustom.NAME`
/// for a dynamic module.
const CUSTOM_STATS: &str = "^(wasmcustom|dynamicmodulescustom)\\.";

/// The text of Envoy's log line for a trapped Wasm call.
const TRAP_MARK: &str = "] Function: ";

/// What Envoy runs for a probe.
#[derive(Clone, Debug)]
pub enum Form<'a> {
    /// The probe's WebAssembly module, on V8.
    Wasm(&'a Path),
    /// The native build of `bench-filters/host-probe` with this plugin configuration, as a
    /// dynamic module through the bridge's loader.
    Native(&'a Path, &'a str),
}

/// Runs `probe` in `form` through the Envoy binary `envoy`, with its files in `dir`; an error
/// is a failure of the run itself (no upstream, no answer, no bridge), not of the module.
pub fn run(envoy: &Path, probe: &Probe, form: Form, dir: &Path) -> Result<Outcome, String> {
    let configuration = match form {
        Form::Wasm(_) => "",
        Form::Native(_, configuration) => configuration,
    };
    let mut filter = catalog::user_module(
        probe.name,
        configuration.to_owned(),
        String::new(),
        PluginSettings::default(),
        Vec::new(),
        Vec::new(),
    );
    let (variant, artifact) = match form {
        Form::Wasm(wasm) => {
            filter.custom.wasm = Some(wasm.to_owned());
            (Variant::V8, wasm.to_owned())
        }
        Form::Native(library, _) => {
            filter.custom.native = Some(library.to_owned());
            let loader = bridge::loader_for(probe.name, library).map_err(|e| e.to_string())?;
            (Variant::Native, loader)
        }
    };
    let chain = config::filter_chain(&filter, variant, &artifact).map_err(|e| e.to_string())?;
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
    for i in 0..probe.requests {
        // The upstream records requests carrying the echo header: whether each reached it.
        let id = format!("probe-{i}");
        // No response at all (the connection closed or reset): the stream was reset.
        let status = http::request(
            envoy.listener(),
            "GET",
            "/probe",
            "probe.local",
            &[(ECHO_HEADER.to_owned(), id.clone())],
            b"",
            REQUEST_TIMEOUT,
        )
        .map_or(NO_RESPONSE, |response| response.status);
        std::thread::sleep(SETTLE);
        let traps_now = traps(envoy.log());
        outcome.statuses.push(status);
        outcome.trapped.push(traps_now.len() > traps_before.len());
        outcome.forwarded.push(upstream.received(&id).is_some());
        if outcome.error.is_none() {
            outcome.error = traps_now.get(traps_before.len()).cloned();
        }
        traps_before = traps_now;
    }
    outcome.gauges = envoy
        .stats(CUSTOM_STATS)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, value)| {
            let name = name
                .split_once('.')
                .map_or(name.as_str(), |(_, n)| n)
                .to_owned();
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
