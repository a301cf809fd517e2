//! Runs a probe through a real Envoy: the module on V8 in the HTTP filter chain of one
//! listener (one worker thread), an upstream answering every request with the probe's
//! response, the requests sent one after another; the gauges are read from Envoy's stats of
//! the module's own metrics, traps from Envoy's log ("Function: … failed: …"), and whether each
//! request reached the upstream from the upstream's own record.

use crate::outcome::{NO_RESPONSE, Outcome};
use crate::probes::Probe;
use filterbench_envoy::bridge;
use filterbench_envoy::config::{self, Endpoints, SpecRouting, UpstreamMode, Variant};
use filterbench_envoy::grpc_upstream::GrpcUpstream;
use filterbench_envoy::http;
use filterbench_envoy::process::EnvoyProcess;
use filterbench_envoy::upstream::{Answer, ECHO_HEADER, Rule, Upstream};
use filterbench_envoy::user_spec::{grpc_routes_by_cluster, rules_by_cluster};
use filterbench_harness::catalog::{self, PluginSettings};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a request may take before the probe gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After a request, what Envoy shows (the module's gauges, the traps in its log, the requests
/// it completed) must stay the same this long before it is read: time for Envoy to finish
/// the stream (`proxy_on_log`, `proxy_on_done`) and to write its log (flushed every 100 ms
/// when a Wasm log level is set).
const QUIET: Duration = Duration::from_millis(400);
/// How often Envoy is looked at while it settles.
const POLL: Duration = Duration::from_millis(50);
/// The longest a request's aftermath is waited for (a module with a tick changes nothing
/// after its first tick; one that keeps changing is read after this long).
const SETTLE_AT_MOST: Duration = Duration::from_secs(10);

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
    let callouts = Callouts::start(probe)?;
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
        spec: callouts.routing(),
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
        let method = if probe.request_body.is_empty() {
            "GET"
        } else {
            "POST"
        };
        let status = http::request(
            envoy.listener(),
            method,
            "/probe",
            "probe.local",
            &[(ECHO_HEADER.to_owned(), id.clone())],
            probe.request_body.as_bytes(),
            REQUEST_TIMEOUT,
        )
        .map_or(NO_RESPONSE, |response| response.status);
        settle(&envoy, i + 1, status != NO_RESPONSE);
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

/// The upstreams a probe calls, one per cluster; they stop when dropped.
struct Callouts {
    http: Vec<(String, Upstream)>,
    grpc: Vec<(String, GrpcUpstream)>,
}

impl Callouts {
    /// Starts an upstream for each cluster `probe` calls, answering as it does in-process.
    fn start(probe: &Probe) -> Result<Self, String> {
        let failed = |cluster: &str, e: std::io::Error| {
            format!(
                "cannot start the upstream of cluster {cluster} for probe {}: {e}",
                probe.name
            )
        };
        let http = rules_by_cluster(&probe.http_upstreams);
        let grpc = grpc_routes_by_cluster(&probe.grpc_upstreams);
        Ok(Self {
            http: http
                .into_iter()
                .map(|(cluster, rules)| {
                    let upstream =
                        Upstream::start_scripted(None, rules).map_err(|e| failed(&cluster, e))?;
                    Ok((cluster, upstream))
                })
                .collect::<Result<_, String>>()?,
            grpc: grpc
                .into_iter()
                .map(|(cluster, routes)| {
                    let upstream = GrpcUpstream::start(None, cluster.clone(), routes)
                        .map_err(|e| failed(&cluster, e))?;
                    Ok((cluster, upstream))
                })
                .collect::<Result<_, String>>()?,
        })
    }

    /// The clusters they add to Envoy's bootstrap (`None` for a probe that calls nothing).
    fn routing(&self) -> Option<SpecRouting> {
        (!self.http.is_empty() || !self.grpc.is_empty()).then(|| SpecRouting {
            clusters: self
                .http
                .iter()
                .map(|(name, u)| (name.clone(), u.addr().port()))
                .collect(),
            grpc_clusters: self
                .grpc
                .iter()
                .map(|(name, u)| (name.clone(), u.addr().port()))
                .collect(),
            ..SpecRouting::default()
        })
    }
}

/// Waits until what `envoy` shows of the probe — its gauges, the traps in its log, the
/// requests it completed — has stayed the same for [`QUIET`] (and, when the request was
/// answered, Envoy counts `requests` completed), at most [`SETTLE_AT_MOST`].
fn settle(envoy: &EnvoyProcess, requests: usize, answered: bool) {
    let look = || {
        (
            envoy.stats(CUSTOM_STATS).ok(),
            traps(envoy.log()).len(),
            envoy.completed_requests().ok(),
        )
    };
    let started = Instant::now();
    let mut seen = look();
    let mut since = Instant::now();
    while started.elapsed() < SETTLE_AT_MOST {
        std::thread::sleep(POLL);
        let now = look();
        if now != seen {
            seen = now;
            since = Instant::now();
            continue;
        }
        let completed = seen.2.unwrap_or(0) >= requests as u64;
        if since.elapsed() >= QUIET && (completed || !answered) {
            return;
        }
    }
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
