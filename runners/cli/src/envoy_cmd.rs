//! `filterbench envoy`: the bench filters under load inside a real Envoy, next to Envoy's
//! built-in filters, Lua and a no-filter baseline. Writes the records after every finished run
//! (so an interrupted run keeps them), prints a table, and writes a report.

use anyhow::{Context, Result, bail};
use filterbench_envoy::config::{self, UpstreamMode, Variant};
use filterbench_envoy::instructions::CountSettings;
use filterbench_envoy::runner::{self, Event, Programs, Rate};
use filterbench_envoy::tools::{self, Tool};
use filterbench_harness::catalog;
use filterbench_harness::environment;
use filterbench_harness::envoy::{EnvoyInstructions, EnvoyResults, EnvoyRun};
use filterbench_harness::results::{self, Results, SCHEMA_VERSION, Settings, Tool as Writer};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `filterbench envoy`.
#[derive(clap::Args)]
pub struct EnvoyArgs {
    /// Filters, comma-separated (default: noop, headers, jwt-auth, waf, rate-limit).
    #[arg(long, value_delimiter = ',')]
    filter: Vec<String>,
    /// Variants, comma-separated: none (baseline), v8, native (the same source as a dynamic
    /// module through the Proxy-Wasm bridge), builtin, lua (default: every variant each
    /// filter has; the baseline is always included).
    #[arg(long, value_delimiter = ',')]
    variant: Vec<String>,
    /// Length of each closed-loop and each open-loop run, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Warm-up load before measuring each variant.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Open-loop rate in requests/second, or `auto` (half of the baseline's max throughput).
    #[arg(long, default_value = "auto")]
    rate: String,
    /// Rounds: every variant runs once per round, in a fresh random order.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Concurrent connections of the load generators.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// `direct`: Envoy answers itself (the filter's cost alone); `server`: proxied to the
    /// project's upstream server.
    #[arg(long, default_value = "direct")]
    upstream: String,
    /// A first look: 2 s runs, 1 s warm-up, one round.
    #[arg(long)]
    quick: bool,
    /// The Envoy binary (default: $FILTERBENCH_ENVOY, ~/.cache/filterbench/tools/bin, PATH).
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
    /// Results file (same schema as `filterbench run`).
    #[arg(long, default_value = "results/envoy.json")]
    out: PathBuf,
    /// Report folder.
    #[arg(long, default_value = "results/envoy-report")]
    report: PathBuf,
    /// Do not write a report.
    #[arg(long)]
    no_report: bool,
    /// What to measure, comma-separated: `time` (load runs: throughput, latency, CPU time,
    /// memory) and/or `instructions` (instructions per request under valgrind's callgrind, one
    /// Envoy per variant: the same count on a busy or a quiet machine; slow).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "time")]
    measure: Vec<EnvoyMeasure>,
}

/// What `filterbench envoy` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvoyMeasure {
    /// Load runs: throughput, latency, CPU time per request, memory.
    Time,
    /// Instructions per request under callgrind.
    Instructions,
}

fn matrix(args: &EnvoyArgs) -> Result<Vec<(catalog::FilterSpec, Vec<Variant>)>> {
    let names: Vec<String> = if args.filter.is_empty() {
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
        _ => eprintln!("{head} (incomplete)"),
    }
}

/// Writes results files of one `filterbench envoy` run: the machine and the code as they were
/// when the run started (a commit made while it runs does not name what produced its numbers).
struct Recorder {
    environment: environment::Environment,
    quick: bool,
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
        Self { environment, quick }
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
                blocks: 0,
            },
            cells: Vec::new(),
            phases: Vec::new(),
            summary: Default::default(),
            envoy: Some(envoy),
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
    eprintln!(
        "Envoy {} — {runs} runs of {:?}, about {} minutes; Envoy configs and logs in {}",
        tools::version(Tool::Envoy, &programs.envoy).unwrap_or_default(),
        per_run,
        (per_run * runs as u32).as_secs().div_ceil(60),
        settings.work_dir.display()
    );
    let mut write_error = None;
    let envoy = runner::run(
        settings,
        |event| match event {
            Event::Calibrating => {
                eprintln!("measuring the baseline's max throughput to choose the rate…")
            }
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

/// Runs `filterbench envoy`.
pub fn command(args: EnvoyArgs) -> Result<()> {
    let matrix = matrix(&args)?;
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
        (Duration::from_secs(2), Duration::from_secs(1), 1)
    } else {
        (args.duration, args.warmup, args.repeat)
    };
    let work_dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join("envoy-runs");
    let settings = runner::Settings {
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
    let recorder = Recorder::new(quick, &programs);
    let mut envoy = if args.measure.contains(&EnvoyMeasure::Time) {
        run_load(&settings, &programs, &out, &recorder)?
    } else {
        EnvoyResults {
            settings: runner::settings_record(&settings, 0.0, "none"),
            ..EnvoyResults::default()
        }
    };
    if args.measure.contains(&EnvoyMeasure::Instructions) {
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
    if !args.no_report {
        crate::write_report(&file, &args.report)?;
    }
    Ok(())
}
