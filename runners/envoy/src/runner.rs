//! The Envoy matrix: for every round, every filter (in a fresh random order) and every variant
//! of it (shuffled, baseline included), start Envoy on its own CPU, check conformance, warm up,
//! measure maximum throughput (wrk) and latency at a fixed rate (oha) with Envoy's CPU time per
//! request and memory, stop Envoy, and hand the record over at once so a long run keeps what it
//! finished.

use crate::bridge;
use crate::config::{self, Endpoints, UpstreamMode, Variant};
use crate::conformance;
use crate::cpu::{self, Placement};
use crate::grpc_upstream::GrpcUpstream;
use crate::instructions::{self, CountSettings, CountedEnvoy};
use crate::load::{self, LoadRequest, LoadSpec};
use crate::process::EnvoyProcess;
use crate::tcp::TcpUpstream;
use crate::tools::{self, Tool};
use crate::upstream::Upstream;
use crate::user_spec;
use filterbench_harness::catalog::FilterSpec;
use filterbench_harness::envoy::{
    self as records, EnvoyInstructions, EnvoyResults, EnvoyRun, EnvoySettings, LoadResult,
};
use filterbench_harness::{artifacts, polyglot};
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The open-loop rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// [`AUTO_FRACTION`] of the baseline's maximum throughput, measured first.
    Auto,
    /// This many requests per second.
    Fixed(f64),
}

/// The open-loop rate `auto` takes as a fraction of the baseline's max throughput: a quarter.
/// With one half, the slowest variants (built-in jwt_authn at 0.40–0.57 of the baseline's
/// throughput, V8 jwt-auth and waf) could not keep the rate in 3–5 of 5 rounds on this
/// machine, whose speed swings 1.8×; a quarter keeps every variant below its capacity.
pub const AUTO_FRACTION: f64 = 0.25;

/// Paths of the external programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Programs {
    /// Envoy.
    pub envoy: PathBuf,
    /// wrk.
    pub wrk: PathBuf,
    /// oha.
    pub oha: PathBuf,
}

impl Programs {
    /// Finds all three (explicit Envoy path first), or says which is missing and how to get it.
    pub fn find(envoy: Option<&Path>) -> Result<Self, tools::NotFound> {
        Ok(Self {
            envoy: tools::find(Tool::Envoy, envoy)?,
            wrk: tools::find(Tool::Wrk, None)?,
            oha: tools::find(Tool::Oha, None)?,
        })
    }
}

/// What to run and how.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Filters with the variants to run of each.
    pub matrix: Vec<(FilterSpec, Vec<Variant>)>,
    /// Closed-loop and open-loop run length.
    pub duration: Duration,
    /// Warm-up load before measuring.
    pub warmup: Duration,
    /// Open-loop rate.
    pub rate: Rate,
    /// Rounds.
    pub rounds: u32,
    /// Connections of the load generators.
    pub connections: u32,
    /// Upstream mode.
    pub upstream: UpstreamMode,
    /// External programs.
    pub programs: Programs,
    /// Where Envoy configurations and logs go (one folder per run).
    pub work_dir: PathBuf,
}

/// Progress of a run.
#[derive(Debug)]
pub enum Event<'a> {
    /// Measuring the baseline's maximum throughput to pick the rate.
    Calibrating,
    /// The rate was chosen.
    Rate {
        /// Requests/second.
        rate: f64,
        /// How: `auto` or `fixed`.
        source: &'static str,
    },
    /// One (filter, variant, round) finished (measured or failed).
    Finished {
        /// 1-based position.
        index: usize,
        /// Total runs.
        total: usize,
        /// The record.
        run: &'a EnvoyRun,
    },
}

/// A run that could not start at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The bench filters could not be built.
    #[error(transparent)]
    Build(#[from] artifacts::BuildError),
    /// The upstream could not listen.
    #[error("cannot start the upstream server on 127.0.0.1: {0}")]
    Upstream(std::io::Error),
    /// The calibration run failed.
    #[error(
        "measuring the baseline's maximum throughput (to choose --rate auto) failed: {0}; pass --rate N to skip it"
    )]
    Calibration(String),
    /// A variant cannot be configured.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The native variant was asked for with an Envoy the bridge is not built for.
    #[error(transparent)]
    Bridge(#[from] bridge::EnvoyMismatch),
}

struct Context<'a> {
    settings: &'a Settings,
    placement: Placement,
    upstreams: &'a Upstreams,
}

/// The project's upstream servers of a run: the main one (echo and proxied requests) and, for a
/// filter spec, one scripted upstream per cluster the module calls.
pub(crate) struct Upstreams {
    /// Echo and proxied requests (and a spec's workload responses).
    pub main: Upstream,
    /// A spec's clusters, by name.
    clusters: Vec<(String, Upstream)>,
    /// A spec's gRPC clusters, by name.
    grpc: Vec<(String, GrpcUpstream)>,
    /// A network filter's TCP upstream.
    tcp: Option<TcpUpstream>,
    /// The spec's filter, if the matrix runs one.
    spec: Option<FilterSpec>,
}

impl Upstreams {
    /// Where a bootstrap's routes go: the upstreams' ports, the upstream mode of `settings`
    /// and what a spec adds.
    pub fn endpoints(&self, settings: &Settings) -> Endpoints {
        Endpoints {
            upstream_port: self.main.addr().port(),
            mode: settings.upstream,
            spec: self.spec.as_ref().map(|filter| {
                user_spec::routing(
                    filter,
                    self.clusters
                        .iter()
                        .map(|(name, u)| (name.clone(), u.addr().port()))
                        .collect(),
                    self.grpc
                        .iter()
                        .map(|(name, u)| (name.clone(), u.addr().port()))
                        .collect(),
                    self.tcp.as_ref().map(|u| u.addr().port()),
                )
            }),
        }
    }

    /// Where the conformance requests of `filter` at `listener` of `envoy` go.
    pub fn probe<'a>(
        &'a self,
        envoy: &'a EnvoyProcess,
        listener: std::net::SocketAddr,
        variant: Variant,
    ) -> conformance::Probe<'a> {
        conformance::Probe {
            listener,
            envoy,
            upstream: &self.main,
            passthrough: variant == Variant::None,
            tcp: self.tcp.as_ref(),
        }
    }
}

/// The level of Envoy's `wasm` log for `filter`: a spec's `log_level` (its module's log is
/// checked), else Envoy's default for the run (`warn`).
pub(crate) fn wasm_log_level(filter: &FilterSpec) -> Option<&'static str> {
    user_spec::is_spec(filter).then(|| user_spec::envoy_log_level(filter))
}

impl Context<'_> {
    fn endpoints(&self) -> Endpoints {
        self.upstreams.endpoints(self.settings)
    }

    fn load_spec(&self, duration: Duration) -> LoadSpec {
        LoadSpec {
            duration,
            connections: self.settings.connections,
            cpu: self.placement.load,
        }
    }

    /// Runs wrk or oha against `envoy` and adds Envoy's CPU µs per completed request.
    fn measured(
        &self,
        envoy: &EnvoyProcess,
        run: impl FnOnce() -> Result<LoadResult, load::LoadError>,
    ) -> Result<LoadResult, String> {
        let cpu_before = cpu::process_cpu_us(envoy.pid()).map_err(|e| e.to_string())?;
        let done_before = envoy.completed_requests().map_err(|e| e.to_string())?;
        let mut result = run().map_err(|e| e.to_string())?;
        let cpu_after = cpu::process_cpu_us(envoy.pid()).map_err(|e| e.to_string())?;
        let done_after = envoy.completed_requests().map_err(|e| e.to_string())?;
        let done = done_after.saturating_sub(done_before);
        if done > 0 {
            result.cpu_us_per_request = Some((cpu_after - cpu_before) / done as f64);
        }
        if result.requests == 0 {
            return Err(format!("{} completed no request", result.tool));
        }
        Ok(result)
    }
}

/// The file `variant` loads into Envoy: the `.wasm` (V8) or the bridged module (native),
/// built if needed; for the other variants a path that is not used.
pub(crate) fn artifact_for(
    filter: &FilterSpec,
    variant: Variant,
) -> Result<PathBuf, artifacts::BuildError> {
    match variant {
        // A spec's own module (or the bench filter it names, already built).
        Variant::V8 if let Some(wasm) = &filter.custom.wasm => Ok(wasm.clone()),
        Variant::V8 => {
            let source = polyglot::ensure_built(filter)?;
            Ok(source
                .wasm
                .unwrap_or_else(|| artifacts::wasm_path(filter.crate_name)))
        }
        // A spec's prebuilt native library, opened by the bridge's loader.
        Variant::Native if let Some(library) = &filter.custom.native => {
            bridge::loader_for(filter.name, library)
        }
        Variant::Native => bridge::ensure_built(filter.crate_name),
        _ => Ok(artifacts::wasm_path(filter.crate_name)),
    }
}

/// Measures one variant of one filter once.
fn measure(
    ctx: &Context,
    filter: &FilterSpec,
    variant: Variant,
    round: u32,
    rate: f64,
) -> EnvoyRun {
    let mut record = EnvoyRun {
        filter: filter.name.to_owned(),
        variant: variant.name().to_owned(),
        round,
        ..EnvoyRun::default()
    };
    if let Err(e) = measure_into(ctx, filter, variant, rate, &mut record) {
        record.error = Some(e);
    }
    record
}

fn measure_into(
    ctx: &Context,
    filter: &FilterSpec,
    variant: Variant,
    rate: f64,
    record: &mut EnvoyRun,
) -> Result<(), String> {
    if config::is_network(filter) {
        return Err(format!(
            "{}: load runs (wrk, oha) speak HTTP; a network filter is measured with --measure cpu \
             and instructions",
            filter.name
        ));
    }
    let artifact = artifact_for(filter, variant).map_err(|e| e.to_string())?;
    let chain = config::filter_chain(filter, variant, &artifact).map_err(|e| e.to_string())?;
    record.description = chain.description.clone();
    let dir = ctx.settings.work_dir.join(format!(
        "{}-{}-r{}",
        filter.name,
        variant.name(),
        record.round
    ));
    let envoy = EnvoyProcess::start_logging(
        &ctx.settings.programs.envoy,
        &config::bootstrap(&chain, &ctx.endpoints()),
        &dir,
        ctx.placement.envoy,
        wasm_log_level(filter),
    )
    .map_err(|e| format!("{}/{}: {e}", filter.name, variant.name()))?;
    record.ready_ms = Some(envoy.ready_ms());
    record.rss_idle_bytes = cpu::process_rss(envoy.pid()).ok().map(|(rss, _)| rss);
    conformance::check(
        filter,
        &ctx.upstreams.probe(&envoy, envoy.listener(), variant),
    )
    .map_err(|e| format!("not conformant through Envoy: {e}"))?;
    record.conformant = true;
    if config::is_root_only(filter) {
        // Nothing to send: the plugin works on ticks (and its queue).
        record.wasm_stats = envoy.stats("^wasm\\.").unwrap_or_default();
        envoy.stop();
        return Ok(());
    }
    let request = conformance::load_request(filter)
        .ok_or_else(|| format!("filter {} has no workload to send", filter.name))?;
    let programs = &ctx.settings.programs;
    let target = envoy.listener();
    if !ctx.settings.warmup.is_zero() {
        load::wrk(
            &programs.wrk,
            target,
            &request,
            &ctx.load_spec(ctx.settings.warmup),
        )
        .map_err(|e| format!("warm-up: {e}"))?;
    }
    let spec = ctx.load_spec(ctx.settings.duration);
    record.throughput =
        Some(ctx.measured(&envoy, || load::wrk(&programs.wrk, target, &request, &spec))?);
    std::thread::sleep(Duration::from_millis(300));
    record.fixed_rate = Some(ctx.measured(&envoy, || {
        load::oha(&programs.oha, target, &request, &spec, rate)
    })?);
    record.rss_peak_bytes = cpu::process_rss(envoy.pid()).ok().map(|(_, peak)| peak);
    record.wasm_stats = envoy.stats("^wasm\\.").unwrap_or_default();
    envoy.stop();
    Ok(())
}

/// Maximum throughput of the baseline (no filter), requests/second.
fn calibrate(ctx: &Context, request: &LoadRequest) -> Result<f64, String> {
    let chain = config::FilterChain::default();
    let envoy = EnvoyProcess::start(
        &ctx.settings.programs.envoy,
        &config::bootstrap(&chain, &ctx.endpoints()),
        &ctx.settings.work_dir.join("calibration"),
        ctx.placement.envoy,
    )
    .map_err(|e| e.to_string())?;
    let programs = &ctx.settings.programs;
    if !ctx.settings.warmup.is_zero() {
        load::wrk(
            &programs.wrk,
            envoy.listener(),
            request,
            &ctx.load_spec(ctx.settings.warmup),
        )
        .map_err(|e| e.to_string())?;
    }
    let result = load::wrk(
        &programs.wrk,
        envoy.listener(),
        request,
        &ctx.load_spec(ctx.settings.duration),
    )
    .map_err(|e| e.to_string())?;
    envoy.stop();
    if result.achieved_rps <= 0.0 {
        return Err("the baseline completed no request".to_owned());
    }
    Ok(result.achieved_rps)
}

/// The settings as recorded in results: `rate` requests/second chosen by `source` (`auto`,
/// `fixed`, or `none` when no load run was made).
pub fn settings_record(settings: &Settings, rate: f64, source: &str) -> EnvoySettings {
    let placement = Placement::detect();
    EnvoySettings {
        envoy_version: tools::version(Tool::Envoy, &settings.programs.envoy).unwrap_or_default(),
        duration_s: settings.duration.as_secs_f64(),
        warmup_s: settings.warmup.as_secs_f64(),
        rate_rps: rate,
        rate_source: source.to_owned(),
        auto_fraction: (source == "auto").then_some(AUTO_FRACTION),
        rounds: settings.rounds,
        connections: settings.connections,
        upstream: settings.upstream.name().to_owned(),
        envoy_cpu: placement.envoy,
        load_cpu: placement.load,
        concurrency: 1,
    }
}

/// Runs the matrix. `on_event` sees progress; `on_update` gets the results so far after every
/// finished run (write them out there to keep them if the run is interrupted).
pub fn run(
    settings: &Settings,
    mut on_event: impl FnMut(Event),
    mut on_update: impl FnMut(&EnvoyResults),
) -> Result<EnvoyResults, RunError> {
    let (placement, upstreams) = prepare(settings)?;
    let ctx = Context {
        settings,
        placement,
        upstreams: &upstreams,
    };
    let only_root = settings.matrix.iter().all(|(f, _)| config::is_root_only(f));
    let (rate, source) = match settings.rate {
        _ if only_root => (0.0, "none"),
        Rate::Fixed(rate) => (rate, "fixed"),
        Rate::Auto => {
            on_event(Event::Calibrating);
            let request = settings
                .matrix
                .first()
                .and_then(|(f, _)| conformance::load_request(f))
                .ok_or_else(|| RunError::Calibration("no filter to run".to_owned()))?;
            let max = calibrate(&ctx, &request).map_err(RunError::Calibration)?;
            (
                ((max * AUTO_FRACTION) / 100.0).round().max(1.0) * 100.0,
                "auto",
            )
        }
    };
    on_event(Event::Rate { rate, source });
    let mut results = EnvoyResults {
        settings: settings_record(settings, rate, source),
        ..EnvoyResults::default()
    };
    let total: usize =
        settings.matrix.iter().map(|(_, v)| v.len()).sum::<usize>() * settings.rounds as usize;
    let mut rng = rand::rng();
    for round in 0..settings.rounds {
        let mut filters: Vec<&(FilterSpec, Vec<Variant>)> = settings.matrix.iter().collect();
        filters.shuffle(&mut rng);
        for (filter, variants) in filters {
            let mut variants = variants.clone();
            variants.shuffle(&mut rng);
            for variant in variants {
                let record = measure(&ctx, filter, variant, round, rate);
                results.runs.push(record);
                results.summary = records::summarize(&mut results.runs);
                on_event(Event::Finished {
                    index: results.runs.len(),
                    total,
                    run: results.runs.last().expect("just pushed"),
                });
                on_update(&results);
            }
        }
    }
    Ok(results)
}

/// Checks the matrix (configuration errors are found before anything runs), then places
/// Envoy and the load on their CPUs and starts the upstreams (a spec's scripted ones too).
pub(crate) fn prepare(settings: &Settings) -> Result<(Placement, Upstreams), RunError> {
    preflight(settings)?;
    let placement = Placement::detect();
    let spec = settings
        .matrix
        .iter()
        .map(|(f, _)| f)
        .find(|f| user_spec::is_spec(f))
        .cloned();
    let main_rules = spec
        .as_ref()
        .map(user_spec::workload_rules)
        .unwrap_or_default();
    let main = Upstream::start_scripted(placement.load, main_rules).map_err(RunError::Upstream)?;
    let mut clusters = Vec::new();
    for (name, rules) in spec
        .as_ref()
        .map(user_spec::cluster_rules)
        .unwrap_or_default()
    {
        clusters.push((
            name,
            Upstream::start_scripted(placement.load, rules).map_err(RunError::Upstream)?,
        ));
    }
    let mut grpc = Vec::new();
    for (name, routes) in spec
        .as_ref()
        .map(user_spec::grpc_clusters)
        .unwrap_or_default()
    {
        let upstream = GrpcUpstream::start(placement.load, name.clone(), routes)
            .map_err(RunError::Upstream)?;
        grpc.push((name, upstream));
    }
    let tcp = match spec.as_ref().and_then(user_spec::tcp_load) {
        Some(load) => {
            Some(TcpUpstream::start(placement.load, load.upstream).map_err(RunError::Upstream)?)
        }
        None => None,
    };
    Ok((
        placement,
        Upstreams {
            main,
            clusters,
            grpc,
            tcp,
            spec,
        },
    ))
}

/// Checks the matrix before anything runs: every variant configures and its artifact builds;
/// the bridge matches Envoy when the native variant is asked for.
fn preflight(settings: &Settings) -> Result<(), RunError> {
    for (filter, variants) in &settings.matrix {
        for &variant in variants {
            config::filter_chain(filter, variant, Path::new("/check.wasm"))?;
        }
        for &variant in variants {
            artifact_for(filter, variant)?;
        }
    }
    if settings
        .matrix
        .iter()
        .any(|(_, variants)| variants.contains(&Variant::Native))
    {
        bridge::check_envoy(&settings.programs.envoy)?;
    }
    Ok(())
}

/// Counts instructions per request of every (filter, variant) of the matrix under callgrind
/// (see [`instructions`]), one Envoy each, baseline included. `on_done` gets each record as it
/// is finished (1-based index, total); a variant that fails is recorded with its error.
pub fn count_instructions(
    settings: &Settings,
    counting: &CountSettings,
    mut on_done: impl FnMut(usize, usize, &[EnvoyInstructions]),
) -> Result<Vec<EnvoyInstructions>, RunError> {
    let (placement, upstreams) = prepare(settings)?;
    let ctx = Context {
        settings,
        placement,
        upstreams: &upstreams,
    };
    let total: usize = settings.matrix.iter().map(|(_, v)| v.len()).sum();
    let mut records: Vec<EnvoyInstructions> = Vec::new();
    for (filter, variants) in &settings.matrix {
        for &variant in variants {
            let mut record = EnvoyInstructions {
                filter: filter.name.to_owned(),
                variant: variant.name().to_owned(),
                ..EnvoyInstructions::default()
            };
            if let Err(e) = count_variant(&ctx, filter, variant, counting, &mut record) {
                record.error = Some(e);
            }
            records.push(record);
            records::summarize_instructions(&mut records);
            on_done(records.len(), total, &records);
        }
    }
    Ok(records)
}

fn count_variant(
    ctx: &Context,
    filter: &FilterSpec,
    variant: Variant,
    counting: &CountSettings,
    record: &mut EnvoyInstructions,
) -> Result<(), String> {
    let artifact = artifact_for(filter, variant).map_err(|e| e.to_string())?;
    let chain = config::filter_chain(filter, variant, &artifact).map_err(|e| e.to_string())?;
    record.description = chain.description.clone();
    let dir =
        ctx.settings
            .work_dir
            .join(format!("{}-{}-instructions", filter.name, variant.name()));
    let envoy = CountedEnvoy::start(
        &ctx.settings.programs.envoy,
        &config::bootstrap(&chain, &ctx.endpoints()),
        &dir,
        ctx.placement.envoy,
        1,
        wasm_log_level(filter),
    )
    .map_err(|e| format!("{}/{}: {e}", filter.name, variant.name()))?;
    let probe = ctx
        .upstreams
        .probe(envoy.envoy(), envoy.envoy().listener(), variant);
    let tcp = user_spec::tcp_load(filter);
    let request;
    let load = match &tcp {
        Some(exchange) => {
            conformance::check(filter, &probe)
                .map_err(|e| format!("not conformant through Envoy: {e}"))?;
            instructions::BurstLoad::Tcp(exchange)
        }
        None => {
            request = instructions::checked_request(filter, &probe)?;
            instructions::BurstLoad::Oha {
                program: &ctx.settings.programs.oha,
                request: &request,
            }
        }
    };
    let bursts = instructions::count_bursts(&envoy, &load, counting, ctx.placement.load)?;
    envoy.stop();
    record.per_request = bursts
        .iter()
        .map(|b| (b.per_request * 10.0).round() / 10.0)
        .collect();
    record.requests = bursts.iter().map(|b| b.requests).collect();
    let idle: Vec<f64> = bursts.iter().map(|b| b.idle_per_second).collect();
    record.idle_per_second = records::Spread::of(&idle).map(|s| s.median.round());
    let module = artifact
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let per_request = |is_counted: &dyn Fn(&str) -> bool| {
        instructions::per_request_in(&bursts, is_counted).map(|v| v.round())
    };
    record.anonymous_code_per_request = per_request(&instructions::is_anonymous_code);
    record.filter_code = match variant {
        Variant::V8 => Some("V8's JIT code (anonymous code beyond no filter's)".to_owned()),
        Variant::Lua => Some("LuaJIT's code (anonymous code beyond no filter's)".to_owned()),
        Variant::Native => {
            // With the loader, the filter's code is in its own library (the link's target).
            let library = filter
                .custom
                .native
                .as_ref()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()));
            record.module_per_request = per_request(&|object| {
                object.ends_with(&module) || library.as_ref().is_some_and(|l| object.ends_with(l))
            });
            Some(match library {
                Some(library) => format!("{module} + {library}"),
                None => module,
            })
        }
        _ => None,
    };
    Ok(())
}
