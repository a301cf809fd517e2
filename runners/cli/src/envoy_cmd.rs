//! `filterbench envoy`: the bench filters under load inside a real Envoy, next to Envoy's
//! built-in filters, Lua and a no-filter baseline. Writes the records after every finished run
//! (so an interrupted run keeps them), prints a table, and writes a report.

use anyhow::{Context, Result, bail};
use filterbench_envoy::config::{self, UpstreamMode, Variant};
use filterbench_envoy::instructions::CountSettings;
use filterbench_envoy::paired_cpu::{self, CpuSettings};
use filterbench_envoy::runner::{self, Event, Programs, Rate};
use filterbench_envoy::sweep::{self, Sweep, SweepSettings};
use filterbench_envoy::tools::{self, Tool};
use filterbench_harness::catalog;
use filterbench_harness::environment;
use filterbench_harness::envoy::{EnvoyInstructions, EnvoyResults, EnvoyRun, SweepPoint};
use filterbench_harness::envoy_cpu::EnvoyCpu;
use filterbench_harness::results::{self, Results, SCHEMA_VERSION, Settings, Tool as Writer};
use std::path::PathBuf;
use std::time::Duration;

/// Where `filterbench envoy` writes its results unless told otherwise.
const DEFAULT_OUT: &str = "results/envoy.json";

/// Arguments of `filterbench envoy`.
#[derive(clap::Args)]
pub struct EnvoyArgs {
    /// Filters, comma-separated (default: noop, headers, jwt-auth, waf, rate-limit).
    #[arg(long, value_delimiter = ',', conflicts_with = "spec")]
    filter: Vec<String>,
    /// A filter spec file (as for `filterbench run --spec`): its module on V8 next to no
    /// filter, its upstreams as clusters served by scripted upstreams, its workloads as real
    /// requests with their expectations checked before any load.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Variants, comma-separated: none (baseline), v8, native (the same source as a dynamic
    /// module through the Proxy-Wasm bridge), builtin, lua (default: every variant each
    /// filter has; the baseline is always included).
    #[arg(long, value_delimiter = ',')]
    variant: Vec<String>,
    /// Length of each closed-loop and each open-loop run, e.g. 10s.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Warm-up load before measuring each variant.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Open-loop rate in requests/second, or `auto` (a quarter of the baseline's max
    /// throughput, so every variant stays below its capacity).
    #[arg(long, default_value = "auto")]
    rate: String,
    /// Rounds: every variant runs once per round, in a fresh random order ([min–max] of 5
    /// rounds is a 94% interval for the median).
    #[arg(long, default_value_t = 5)]
    repeat: u32,
    /// Concurrent connections of the load generators.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// `direct`: Envoy answers itself (the filter's cost alone); `server`: proxied to the
    /// project's upstream server.
    #[arg(long, default_value = "direct")]
    upstream: String,
    /// A first look: one round of 1 s load runs, 10 rounds of paired CPU slices, two bursts
    /// of instructions.
    #[arg(long)]
    quick: bool,
    /// The Envoy binary (default: $FILTERBENCH_ENVOY, ~/.cache/filterbench/tools/bin, PATH).
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
    /// Results file (same schema as `filterbench run`).
    #[arg(long, default_value = DEFAULT_OUT)]
    out: PathBuf,
    /// Report folder; default: next to the results file given with --out
    /// (`DIR/NAME-report/`), else results/envoy-report.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Do not write a report.
    #[arg(long)]
    no_report: bool,
    /// Run shard K of the filters split into N (`K/N`); each filter runs with all its variants
    /// and its own no-filter baseline. `N` alone takes K from $JOB_COMPLETION_INDEX + 1.
    #[arg(long, value_name = "K/N", conflicts_with_all = ["concurrency", "plugins"])]
    shard: Option<crate::shard::ShardArg>,
    /// Also print the results file to stdout between marker lines (compressed), for
    /// `filterbench k8s collect` to read back from a pod's log.
    #[arg(long)]
    results_to_stdout: bool,
    /// Leave out the host conformance kit (about a minute with this Envoy as the reference).
    #[arg(long)]
    no_host_conformance: bool,
    /// What to measure, comma-separated: `cpu` (Envoy's worker CPU per request at a fixed rate,
    /// every variant of a filter in one Envoy, paired slice by slice with no filter), `time`
    /// (load runs: throughput, latency, CPU time, memory) and/or `instructions` (instructions
    /// per request under valgrind's callgrind, one Envoy per variant: the same count on a busy
    /// or a quiet machine; slow).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "cpu,time")]
    measure: Vec<EnvoyMeasure>,
    /// Sweep Envoy's worker count, e.g. `1,2,4`: memory (once ready, after load, peak) and,
    /// with `--measure instructions`, instructions per request at each count. Sweeps run
    /// instead of the matrix (default filter: headers).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    concurrency: Vec<u32>,
    /// Sweep the number of plugins, e.g. `1,2,4,8`: the filter N times in one chain, and N
    /// listeners each with its own copy (every Wasm copy its own VM); measured as
    /// `--concurrency`.
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    plugins: Vec<u32>,
    /// Rounds of paired CPU slices (`--measure cpu`; 10 with --quick).
    #[arg(long, default_value_t = CpuSettings::STANDARD.rounds)]
    slices: u32,
    /// Length of a paired CPU slice (`--measure cpu`).
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    slice: Duration,
    /// Requests per second within a paired CPU slice (`--measure cpu`), or `auto`: half the
    /// capacity of the filter's slowest variant, measured in the warm-up, at most 10,000 (a
    /// slice that falls behind its rate is left out).
    #[arg(long, default_value = "auto")]
    slice_rate: String,
}

/// What `filterbench envoy` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvoyMeasure {
    /// Worker CPU per request at a fixed rate, paired in time with no filter.
    Cpu,
    /// Load runs: throughput, latency, CPU time per request, memory.
    Time,
    /// Instructions per request under callgrind.
    Instructions,
}

/// The matrix of `--spec FILE`: the spec's filter with the variants asked for (V8 and the
/// baseline by default); notes what Envoy runs differently from the in-process host.
fn spec_matrix(
    path: &std::path::Path,
    args: &EnvoyArgs,
) -> Result<Vec<(catalog::FilterSpec, Vec<Variant>)>> {
    let subject = crate::spec::load(path)?;
    let filter = subject.filter;
    let names_of = |kind: config::WorkloadKind| -> Vec<&str> {
        filter
            .workloads
            .iter()
            .copied()
            .filter(|name| config::workload_kind(&filter, name) == kind)
            .collect()
    };
    let http = names_of(config::WorkloadKind::Http);
    let tcp = names_of(config::WorkloadKind::Tcp);
    let root = names_of(config::WorkloadKind::Root);
    if !root.is_empty() && http.len() + tcp.len() > 0 {
        bail!(
            "spec file {}: workloads {} are ticks or queue items (a root-only plugin) and {} \
             requests or connections; in Envoy a root-only plugin runs as a Wasm service of its \
             own: keep one kind per spec for `filterbench envoy`",
            path.display(),
            root.join(", "),
            http.iter()
                .chain(&tcp)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !root.is_empty() {
        eprintln!(
            "note: a root-only plugin runs in Envoy as a singleton Wasm service (envoy.bootstrap.wasm) \
             on Envoy's clock: its tick expectations are checked through Envoy (log, metrics), \
             queue items only in-process (nothing outside Envoy can enqueue them), and nothing \
             is measured per request"
        );
    }
    if !http.is_empty() && !tcp.is_empty() {
        bail!(
            "spec file {}: workloads {} are HTTP requests and {} TCP connections; in Envoy a \
             module is either an HTTP or a network filter: keep one kind per spec for \
             `filterbench envoy`",
            path.display(),
            http.join(", "),
            tcp.join(", ")
        );
    }
    let mut variants = vec![Variant::None];
    for name in &args.variant {
        match Variant::parse(name) {
            Some(Variant::None) => {}
            Some(v @ Variant::V8) => variants.push(v),
            Some(v @ Variant::Native) => {
                native_available(&filter, path)?;
                variants.push(v);
            }
            Some(other) => bail!(
                "spec file {}: a spec's module has no {} variant (that is the catalog's \
                 comparison with Envoy's own filters); use v8 or native",
                path.display(),
                other.name()
            ),
            None => {
                bail!("unknown variant '{name}': a spec runs v8, native (and none, the baseline)")
            }
        }
    }
    if args.variant.is_empty() {
        variants.push(Variant::V8);
    }
    variants.dedup();
    let ignored = filterbench_envoy::user_spec::untranslatable_properties(&filter);
    if !ignored.is_empty() {
        eprintln!(
            "note: Envoy cannot be given the spec's properties {} (only xds.route_name and route_name, as the \
             route's name); the module reads Envoy's own values there",
            ignored.join(", ")
        );
    }
    if filter.plugin.clock_step_ns != 0 {
        eprintln!(
            "note: in Envoy, ticks follow its real clock (the spec's virtual clock is in-process \
             only); ticks_at_least is checked in-process only, and metrics are checked as \
             'at least' (every Envoy thread's VM adds to them)"
        );
    }
    Ok(vec![(filter, variants)])
}

/// Whether the spec's module can run natively in Envoy (through the bridge's loader); the error
/// says why not.
fn native_available(filter: &catalog::FilterSpec, path: &std::path::Path) -> Result<()> {
    if filter.custom.native.is_none() {
        bail!(
            "spec file {}: --variant native needs the module as a native library: give \
             `native: FILE.so` next to `module` (built for the host, as `filterbench run` loads \
             it), or use `bench_filter`",
            path.display()
        );
    }
    if config::is_network(filter) || config::is_root_only(filter) {
        bail!(
            "spec file {}: the native variant runs HTTP filters only (Envoy's dynamic modules \
             here are HTTP filters); leave out --variant native",
            path.display()
        );
    }
    if !filter.upstreams.is_empty() || !filter.custom.grpc_upstreams.is_empty() {
        bail!(
            "spec file {}: the native variant's bridge does not bridge HTTP or gRPC calls (nor \
             ticks and queues: they return UNIMPLEMENTED), and this spec declares upstreams; \
             leave out --variant native",
            path.display()
        );
    }
    Ok(())
}

fn matrix(args: &EnvoyArgs) -> Result<Vec<(catalog::FilterSpec, Vec<Variant>)>> {
    if let Some(path) = &args.spec {
        return spec_matrix(path, args);
    }
    let sweeping = !args.concurrency.is_empty() || !args.plugins.is_empty();
    let names: Vec<String> = if args.filter.is_empty() && sweeping {
        vec!["headers".to_owned()]
    } else if args.filter.is_empty() {
        config::DEFAULT_FILTERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        args.filter.clone()
    };
    let mut wanted = Vec::new();
    for name in &args.variant {
        wanted.push(Variant::parse(name).with_context(|| {
            format!("unknown variant '{name}': use none, v8, native, builtin or lua")
        })?);
    }
    let all = catalog::filters();
    let mut out = Vec::new();
    for name in names {
        let Some(spec) = all.iter().find(|f| f.name == name) else {
            bail!(
                "unknown filter '{name}': the Envoy runner takes {}",
                config::SUPPORTED_FILTERS.join(", ")
            );
        };
        if !config::SUPPORTED_FILTERS.contains(&spec.name) {
            bail!(
                "filter {name} cannot run in the Envoy runner yet (it needs request bodies or an \
                 HTTP-call cluster); it takes {}",
                config::SUPPORTED_FILTERS.join(", ")
            );
        }
        let mut variants: Vec<Variant> = config::variants_for(spec.name)
            .into_iter()
            .filter(|v| *v == Variant::None || wanted.is_empty() || wanted.contains(v))
            .collect();
        variants.sort();
        if variants.len() == 1 && !wanted.is_empty() && !wanted.contains(&Variant::None) {
            eprintln!(
                "note: {name} has none of the variants asked for (it has: {}); only its baseline runs",
                config::variants_for(spec.name)
                    .iter()
                    .map(|v| v.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        out.push((spec.clone(), variants));
    }
    Ok(out)
}

fn print_run(index: usize, total: usize, run: &EnvoyRun) {
    let head = format!(
        "[{index:>3}/{total}] round {} {:<10} {:<8}",
        run.round + 1,
        run.filter,
        run.variant
    );
    match (&run.error, &run.throughput, &run.fixed_rate) {
        (Some(error), _, _) => eprintln!("{head} ERROR {error}"),
        (None, Some(max), Some(fixed)) => eprintln!(
            "{head} {:>8.0} req/s max, {:>5.1} µs CPU/req | {:>6.0} req/s: p50 {:.2} ms, p99 {:.2} ms{}",
            max.achieved_rps,
            max.cpu_us_per_request.unwrap_or(f64::NAN),
            fixed.achieved_rps,
            fixed.latency(50.0).unwrap_or(f64::NAN),
            fixed.latency(99.0).unwrap_or(f64::NAN),
            if max.non_2xx + fixed.non_2xx + max.errors + fixed.errors > 0 {
                format!(
                    " ({} non-2xx, {} errors)",
                    max.non_2xx + fixed.non_2xx,
                    max.errors + fixed.errors
                )
            } else {
                String::new()
            }
        ),
        (None, None, None) if run.conformant => eprintln!("{head} checked through Envoy (no load)"),
        _ => eprintln!("{head} (incomplete)"),
    }
}

/// Writes results files of one `filterbench envoy` run: the machine and the code as they were
/// when the run started (a commit made while it runs does not name what produced its numbers).
struct Recorder {
    environment: environment::Environment,
    quick: bool,
    /// The host conformance kit's matrix with this Envoy as the reference.
    host_conformance: Option<filterbench_harness::host_conformance::Matrix>,
    /// The shard of a sharded plan this run is.
    shard: Option<filterbench_harness::shards::ShardRecord>,
}

impl Recorder {
    fn new(quick: bool, programs: &Programs) -> Self {
        let mut environment = environment::fingerprint(&[], 0);
        for (tool, path) in [
            (Tool::Envoy, &programs.envoy),
            (Tool::Wrk, &programs.wrk),
            (Tool::Oha, &programs.oha),
        ] {
            if let Some(version) = tools::version(tool, path) {
                environment.tools.insert(tool.name().to_owned(), version);
            }
        }
        Self {
            environment,
            quick,
            host_conformance: None,
            shard: None,
        }
    }

    /// The results file holding `envoy`.
    fn file(&self, envoy: EnvoyResults) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            tool: Writer {
                name: "filterbench".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            environment: self.environment.clone(),
            engines: Vec::new(),
            modules: Vec::new(),
            settings: Settings {
                quick: self.quick,
                warmup_ms: (envoy.settings.warmup_s * 1e3) as u64,
                rounds: envoy.settings.rounds,
                slice_ms: (envoy.settings.duration_s * 1e3) as u64,
                runs: 1,
                phase_samples: 0,
                measure: vec!["envoy".to_owned()],
                pinned_cpu: envoy.settings.envoy_cpu,
                pinning_error: None,
                failure_policy: Default::default(),
                blocks: 0,
                between_run_sd: 0.0,
            },
            cells: Vec::new(),
            phases: Vec::new(),
            summary: Default::default(),
            envoy: Some(envoy),
            host_conformance: self.host_conformance.clone(),
            price: Vec::new(),
            shards: self.shard.iter().cloned().collect(),
            invocations: vec![crate::invocation::current(&self.environment)],
        }
    }
}

/// The load runs (`--measure time`), writing the records after every run.
fn run_load(
    settings: &runner::Settings,
    programs: &Programs,
    out: &std::path::Path,
    recorder: &Recorder,
) -> Result<EnvoyResults> {
    let (duration, warmup, rounds) = (settings.duration, settings.warmup, settings.rounds);
    let runs: usize = settings.matrix.iter().map(|(_, v)| v.len()).sum::<usize>() * rounds as usize;
    let per_run = 2 * duration + warmup + Duration::from_millis(800);
    let only_checks = settings.matrix.iter().all(|(f, _)| config::is_root_only(f));
    let plan = if only_checks {
        format!("{runs} checks, no load")
    } else {
        format!(
            "{runs} runs of {per_run:?}, about {} minutes",
            (per_run * runs as u32).as_secs().div_ceil(60)
        )
    };
    eprintln!(
        "Envoy {} — {plan}; Envoy configs and logs in {}",
        tools::version(Tool::Envoy, &programs.envoy).unwrap_or_default(),
        settings.work_dir.display()
    );
    let mut write_error = None;
    let envoy = runner::run(
        settings,
        |event| match event {
            Event::Calibrating => {
                eprintln!("measuring the baseline's max throughput to choose the rate…")
            }
            Event::Rate { source: "none", .. } => {}
            Event::Rate { rate, source } => eprintln!("open-loop rate: {rate:.0} req/s ({source})"),
            Event::Finished { index, total, run } => print_run(index, total, run),
        },
        |so_far| {
            let file = recorder.file(so_far.clone());
            if let Err(e) = results::write_atomic(out, &file) {
                write_error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write results to {}", out.display()));
    }
    Ok(envoy)
}

fn print_count(index: usize, total: usize, record: &EnvoyInstructions) {
    let head = format!(
        "[{index:>3}/{total}] {:<10} {:<8}",
        record.filter, record.variant
    );
    match (&record.error, record.median) {
        (Some(error), _) => eprintln!("{head} ERROR {error}"),
        (None, Some(median)) => eprintln!(
            "{head} {median:>10.0} instructions/request (bursts: {}; spread {:.2}%){}",
            record
                .per_request
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            record.spread.unwrap_or(0.0) * 100.0,
            record
                .filter_code_share
                .map(|s| format!(
                    ", {:.1}% in {}",
                    s * 100.0,
                    record.filter_code.as_deref().unwrap_or("")
                ))
                .unwrap_or_default()
        ),
        _ => eprintln!("{head} (incomplete)"),
    }
}

/// One line per finished round of paired slices: each variant's worker CPU per request.
fn print_cpu_round(record: &EnvoyCpu, done: usize, total: usize) {
    let Some(last) = record.slices.last() else {
        return;
    };
    let variants = record.descriptions.len().max(1);
    let of_round: Vec<_> = record
        .slices
        .iter()
        .filter(|s| s.round == last.round)
        .collect();
    // Every tenth round, the first and the last.
    let round = last.round + 1;
    if of_round.len() < variants || (round % 10 != 0 && round != 1 && round != record.rounds) {
        return;
    }
    let mut of_round = of_round;
    of_round.sort_by_key(|s| filterbench_harness::envoy::variant_rank(&s.variant));
    eprintln!(
        "[{done:>4}/{total}] {:<10} {:>5.0} req/s, round {:>2}/{}: {}",
        record.filter,
        record.rate_rps,
        last.round + 1,
        record.rounds,
        of_round
            .iter()
            .map(|s| format!("{} {:.1} µs", s.variant, s.worker_us_per_request()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The paired CPU slices (`--measure cpu`), writing the records after every round.
fn run_cpu(
    settings: &runner::Settings,
    cpu_settings: &CpuSettings,
    base: &EnvoyResults,
    out: &std::path::Path,
    recorder: &Recorder,
) -> Result<Vec<EnvoyCpu>> {
    let slices: usize =
        settings.matrix.iter().map(|(_, v)| v.len()).sum::<usize>() * cpu_settings.rounds as usize;
    eprintln!(
        "worker CPU per request, paired: one Envoy per filter with every variant on its own listener; \
         {} rounds of {:?} slices at {} ({slices} slices, about {} minutes)",
        cpu_settings.rounds,
        cpu_settings.slice,
        cpu_settings.rate.map_or(
            "half the slowest variant's capacity".to_owned(),
            |r| format!("{r:.0} req/s")
        ),
        (slices as f64 * cpu_settings.slice.as_secs_f64() / 60.0).ceil()
    );
    let mut finished: Vec<EnvoyCpu> = Vec::new();
    let mut write_error = None;
    let records = paired_cpu::measure(settings, cpu_settings, |record, done, total| {
        print_cpu_round(record, done, total);
        let variants = record.descriptions.len().max(1);
        if record.slices.len() % variants != 0 {
            return;
        }
        match finished.iter_mut().find(|f| f.filter == record.filter) {
            Some(f) => *f = record.clone(),
            None => finished.push(record.clone()),
        }
        let mut file = recorder.file(base.clone());
        if let Some(e) = file.envoy.as_mut() {
            e.cpu = finished.clone();
            for cpu in &mut e.cpu {
                filterbench_harness::envoy_cpu::summarize(cpu);
            }
        }
        if let Err(e) = results::write_atomic(out, &file) {
            write_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write results to {}", out.display()));
    }
    for record in &records {
        if let Some(e) = &record.error {
            eprintln!("{}: paired CPU slices stopped: {e}", record.filter);
        }
    }
    Ok(records)
}

fn print_point(point: &SweepPoint, index: usize, total: usize) {
    let head = format!(
        "[{index:>3}/{total}] {} {:>2} {:<10} {:<8}",
        point.sweep, point.n, point.filter, point.variant
    );
    if let Some(e) = &point.error {
        eprintln!("{head} ERROR {e}");
        return;
    }
    let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / 1048576.0);
    eprintln!(
        "{head} RSS {:.1} MiB ready, {:.1} after load, {:.1} peak; {} V8 VMs{}",
        mib(point.rss_idle_bytes),
        mib(point.rss_warm_bytes),
        mib(point.rss_peak_bytes),
        point.wasm_vms.map_or("-".to_owned(), |v| v.to_string()),
        match (&point.instructions_error, point.instructions_median) {
            (Some(e), _) => format!("; instructions: {e}"),
            (None, Some(m)) => format!(
                "; {m:.0} instructions/request (spread {:.2}%)",
                point.instructions_spread.unwrap_or(0.0) * 100.0
            ),
            _ => String::new(),
        }
    );
}

/// Instruction counting per sweep point: 500 warm-up requests, two bursts of 1,000.
const SWEEP_COUNTING: CountSettings = CountSettings {
    warmup_requests: 500,
    requests: 1_000,
    bursts: 2,
};

/// The sweeps (`--concurrency`, `--plugins`), writing the records after every point.
fn run_sweeps(
    args: &EnvoyArgs,
    settings: &runner::Settings,
    base: &EnvoyResults,
    recorder: &Recorder,
) -> Result<Vec<SweepPoint>, anyhow::Error> {
    let check = |ns: &[u32], flag: &str| -> Result<()> {
        if ns.iter().any(|n| *n == 0 || *n > 64) {
            bail!("{flag}: give counts from 1 to 64, e.g. 1,2,4");
        }
        Ok(())
    };
    check(&args.concurrency, "--concurrency")?;
    check(&args.plugins, "--plugins")?;
    let mut sweeps = Vec::new();
    if !args.concurrency.is_empty() {
        sweeps.push((Sweep::Concurrency, args.concurrency.clone()));
    }
    if !args.plugins.is_empty() {
        sweeps.push((Sweep::Chain, args.plugins.clone()));
        sweeps.push((Sweep::Listeners, args.plugins.clone()));
    }
    let counting = args.measure.contains(&EnvoyMeasure::Instructions);
    let sweep_settings = SweepSettings {
        sweeps,
        warmup: Duration::from_secs(1),
        count: counting.then_some(if args.quick {
            CountSettings::QUICK
        } else {
            SWEEP_COUNTING
        }),
    };
    eprintln!(
        "sweeps: memory{} per point",
        if counting {
            " and instructions per request (callgrind, 2 bursts)"
        } else {
            " (add --measure instructions to count instructions too)"
        }
    );
    let mut so_far: Vec<SweepPoint> = Vec::new();
    let mut write_error = None;
    let points = sweep::run(settings, &sweep_settings, |point, index, total| {
        print_point(point, index, total);
        so_far.push(point.clone());
        let mut file = recorder.file(base.clone());
        if let Some(e) = file.envoy.as_mut() {
            e.sweeps = so_far.clone();
        }
        if let Err(e) = results::write_atomic(&args.out, &file) {
            write_error.get_or_insert(e);
        }
    })?;
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write results to {}", args.out.display()));
    }
    Ok(points)
}

/// Runs `filterbench envoy`.
pub fn command(args: EnvoyArgs) -> Result<()> {
    let mut matrix = matrix(&args)?;
    let shard = match args.shard {
        None => None,
        Some(arg) => {
            let filters: Vec<(&catalog::FilterSpec, usize)> =
                matrix.iter().map(|(f, v)| (f, v.len())).collect();
            let sources = match &args.spec {
                Some(spec) => vec![crate::spec::load(spec)?.source],
                None => filters
                    .iter()
                    .map(|(f, _)| filterbench_harness::polyglot::ensure_built(f))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let shard = crate::shard::for_envoy(
                arg,
                &filters,
                &sources,
                seconds_per_variant(&args),
                &plan_settings(&args),
            )?;
            matrix.retain(|(f, _)| shard.units.contains(f.name));
            eprintln!("{}", crate::shard::describe(&shard.record, &args.out));
            Some(shard.record)
        }
    };
    crate::select::check_writable(&args.out)?;
    let rate = match args.rate.as_str() {
        "auto" => Rate::Auto,
        n => match n.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Rate::Fixed(r),
            _ => bail!("--rate {n:?}: give requests/second (e.g. 20000) or auto"),
        },
    };
    let upstream = match args.upstream.as_str() {
        "direct" => UpstreamMode::Direct,
        "server" => UpstreamMode::Server,
        other => bail!("--upstream {other:?}: use direct or server"),
    };
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let programs = Programs::find(args.envoy.as_deref())?;
    let (duration, warmup, rounds) = if args.quick {
        (Duration::from_secs(1), Duration::from_millis(500), 1)
    } else {
        (args.duration, args.warmup, args.repeat)
    };
    let work_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join("envoy-runs");
    let mut settings = runner::Settings {
        matrix,
        duration,
        warmup,
        rate,
        rounds,
        connections: args.connections,
        upstream,
        programs: programs.clone(),
        work_dir,
    };
    let out = args.out.clone();
    let quick = args.quick;
    let mut recorder = Recorder::new(quick, &programs);
    recorder.shard = shard;
    if args.slices == 0 {
        bail!("--slices must be at least 1");
    }
    let slice_rate = match args.slice_rate.as_str() {
        "auto" => None,
        n => match n.parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Some(r),
            _ => bail!("--slice-rate {n:?}: give requests/second (e.g. 5000) or auto"),
        },
    };
    if args.slice.is_zero() {
        bail!("--slice must be longer than 0, e.g. 250ms");
    }
    // The host conformance kit with this Envoy as the reference (about a minute), recorded
    // with the results and shown in the report.
    if !args.no_host_conformance {
        match crate::conformance_cmd::record(Some(&programs.envoy)) {
            Ok(matrix) => recorder.host_conformance = Some(matrix),
            Err(e) => eprintln!("warning: host conformance not recorded: {e:#}"),
        }
    }
    let sweeping = !args.concurrency.is_empty() || !args.plugins.is_empty();
    let network = settings.matrix.iter().any(|(f, _)| config::is_network(f));
    let root_only = settings.matrix.iter().any(|(f, _)| config::is_root_only(f));
    if root_only && sweeping {
        bail!(
            "--concurrency and --plugins sweep HTTP load; a root-only plugin's spec runs without them"
        );
    }
    if root_only {
        // One check per variant; nothing is measured that rounds would repeat.
        settings.rounds = 1;
    }
    let measure: Vec<EnvoyMeasure> = if root_only {
        // Its checks, one Envoy per variant per round: the load runs' path without load.
        vec![EnvoyMeasure::Time]
    } else {
        args.measure.clone()
    };
    if network && sweeping {
        bail!(
            "--concurrency and --plugins sweep HTTP load; a network filter's spec runs without them"
        );
    }
    if network && measure.contains(&EnvoyMeasure::Time) {
        eprintln!(
            "note: a network (TCP) filter: no load runs (wrk and oha speak HTTP); Envoy's CPU and \
             instructions are measured per connection (--measure cpu, instructions)"
        );
    }
    let mut envoy = if measure.contains(&EnvoyMeasure::Time) && !sweeping && !network {
        run_load(&settings, &programs, &out, &recorder)?
    } else {
        EnvoyResults {
            settings: runner::settings_record(&settings, 0.0, "none"),
            ..EnvoyResults::default()
        }
    };
    if sweeping {
        envoy.sweeps = run_sweeps(&args, &settings, &envoy.clone(), &recorder)?;
    }
    if measure.contains(&EnvoyMeasure::Cpu) && !sweeping {
        let cpu_settings = if quick {
            CpuSettings::QUICK
        } else {
            CpuSettings {
                rounds: args.slices,
                rate: slice_rate,
                slice: args.slice,
                ..CpuSettings::STANDARD
            }
        };
        envoy.cpu = run_cpu(&settings, &cpu_settings, &envoy.clone(), &out, &recorder)?;
    }
    if measure.contains(&EnvoyMeasure::Instructions) && !sweeping {
        let counting = if quick {
            CountSettings::QUICK
        } else {
            CountSettings::STANDARD
        };
        let variants: usize = settings.matrix.iter().map(|(_, v)| v.len()).sum();
        eprintln!(
            "instructions per request under callgrind: {variants} Envoys, each {} bursts of {} requests after {} warm-up requests",
            counting.bursts, counting.requests, counting.warmup_requests
        );
        let mut write_error = None;
        let base = envoy.clone();
        envoy.instructions =
            runner::count_instructions(&settings, &counting, |index, total, so_far| {
                print_count(index, total, so_far.last().expect("one finished"));
                let mut file = recorder.file(base.clone());
                if let Some(e) = file.envoy.as_mut() {
                    e.instructions = so_far.to_vec();
                }
                if let Err(e) = results::write_atomic(&out, &file) {
                    write_error.get_or_insert(e);
                }
            })?;
        if let Some(e) = write_error {
            return Err(e).with_context(|| format!("cannot write results to {}", out.display()));
        }
    }
    let file = recorder.file(envoy);
    crate::display::print_envoy_table(&file);
    results::write_atomic(&args.out, &file)
        .with_context(|| format!("cannot write results to {}", args.out.display()))?;
    let shown = std::fs::canonicalize(&args.out).unwrap_or(args.out.clone());
    println!("\nresults written to {}", shown.display());
    if args.results_to_stdout {
        crate::k8s::print_results(&file, "envoy")?;
    }
    if !args.no_report {
        let named = (args.out != std::path::Path::new(DEFAULT_OUT)).then_some(args.out.as_path());
        let dir = crate::report_dir(args.report.as_deref(), named, "results/envoy-report");
        crate::write_report(&file, &dir)?;
    }
    if let Some(envoy) = &file.envoy {
        let failed = failures(envoy);
        if !failed.is_empty() {
            eprintln!(
                "{} run(s) failed their check or ended in an error: {}{} — exit status {}",
                failed.len(),
                failed
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
                if failed.len() > 5 { "; …" } else { "" },
                crate::FAILED_CELLS_EXIT_STATUS
            );
            std::process::exit(crate::FAILED_CELLS_EXIT_STATUS);
        }
    }
    Ok(())
}

/// Rough seconds one variant of a filter takes with these arguments: its load runs, paired CPU
/// slices and instruction bursts (what `--shard` balances on).
fn seconds_per_variant(args: &EnvoyArgs) -> f64 {
    let measured = |m| args.measure.contains(&m);
    let (load, cpu) = if args.quick {
        (
            2.5,
            f64::from(CpuSettings::QUICK.rounds) * CpuSettings::QUICK.slice.as_secs_f64(),
        )
    } else {
        (
            f64::from(args.repeat) * (2 * args.duration + args.warmup).as_secs_f64(),
            f64::from(args.slices) * args.slice.as_secs_f64(),
        )
    };
    let mut seconds = 5.0; // Envoy's start and the checks.
    if measured(EnvoyMeasure::Time) {
        seconds += load;
    }
    if measured(EnvoyMeasure::Cpu) {
        seconds += cpu;
    }
    if measured(EnvoyMeasure::Instructions) {
        seconds += 60.0;
    }
    seconds
}

/// Every choice of an Envoy run that changes what its shards run, for the plan's id.
fn plan_settings(args: &EnvoyArgs) -> Vec<String> {
    vec![
        format!("variants={}", args.variant.join(",")),
        format!("duration={:?} warmup={:?}", args.duration, args.warmup),
        format!("rate={} repeat={}", args.rate, args.repeat),
        format!(
            "connections={} upstream={}",
            args.connections, args.upstream
        ),
        format!("quick={} measure={:?}", args.quick, args.measure),
        format!(
            "slices={} slice={:?} slice-rate={}",
            args.slices, args.slice, args.slice_rate
        ),
        format!(
            "spec={}",
            args.spec
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        ),
    ]
}

/// Every record of an Envoy run that ended in an error, as `filter/variant: error`.
fn failures(envoy: &EnvoyResults) -> Vec<String> {
    let line = |filter: &str, variant: &str, error: &Option<String>| {
        error.as_ref().map(|e| format!("{filter}/{variant}: {e}"))
    };
    let mut out: Vec<String> = Vec::new();
    out.extend(
        envoy
            .runs
            .iter()
            .filter_map(|r| line(&r.filter, &r.variant, &r.error)),
    );
    out.extend(
        envoy
            .cpu
            .iter()
            .filter_map(|r| line(&r.filter, "cpu", &r.error)),
    );
    out.extend(
        envoy
            .instructions
            .iter()
            .filter_map(|r| line(&r.filter, &r.variant, &r.error)),
    );
    out.extend(
        envoy
            .sweeps
            .iter()
            .filter_map(|p| line(&p.filter, &p.variant, &p.error)),
    );
    out.dedup();
    out
}
