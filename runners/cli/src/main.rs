//! `filterbench`: measures Proxy-Wasm HTTP filters under WebAssembly engines and as native code.

mod byo;
mod conformance_cmd;
mod display;
mod envoy_cmd;
mod instructions;
mod invocation;
mod k8s;
mod processes;
mod select;
mod shard;
mod spec;
mod spec_init;
mod watchdog;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use filterbench_harness::measure::MeasureSettings;
use filterbench_harness::results;
use filterbench_harness::run::{self, EngineSlot, Event, RunSettings};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "filterbench",
    version,
    about = "Benchmark Proxy-Wasm HTTP filters under WebAssembly engines and as native code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every filter on every engine, measure the conformant ones, print a table and write results.json.
    Run(RunArgs),
    /// Run the bench filters under load inside a real Envoy (V8, Envoy's built-in filters, Lua,
    /// and a no-filter baseline): max throughput, latency at a fixed rate, Envoy CPU per request
    /// and memory. Needs Envoy, wrk and oha (scripts/setup-envoy.sh installs them).
    Envoy(envoy_cmd::EnvoyArgs),
    /// Run the host conformance kit: probe modules, each showing one behaviour of a Proxy-Wasm
    /// host, on every in-process engine and through a real Envoy (the reference); prints the
    /// matrix (behaviour × host) and exits with status 3 on an unexplained difference.
    Conformance(conformance_cmd::ConformanceArgs),
    /// Shard the matrix over a Kubernetes cluster: write an Indexed Job's manifests, and read
    /// the shards' results back from the pods' logs.
    K8s {
        /// What to do.
        #[command(subcommand)]
        action: k8s::K8sAction,
    },
    /// Filter spec files: write a starter for a module, or print the format's JSON Schema.
    Spec {
        /// What to do.
        #[command(subcommand)]
        action: SpecAction,
    },
    /// List what can be selected.
    List {
        /// What to list.
        what: ListWhat,
    },
    /// Print the table of results files and write a report folder (index.html, README.md,
    /// charts, results); several files are merged (runs of the same matrix, the shards of a
    /// sharded plan: all must be there, from one build) — per machine type: files of
    /// different CPU models or architectures get a report each, next to a page comparing them.
    Report {
        /// Results files written by `filterbench run`.
        #[arg(required = true, value_name = "RESULTS.json")]
        results: Vec<PathBuf>,
        /// Folder to write the report into.
        #[arg(long, default_value = "results/report")]
        out: PathBuf,
    },
    /// Compare two results files cell by cell: change of the median with a 95% interval and a
    /// verdict, and whether each cell's behaviour (conformance, errors, effects) is identical.
    /// Exits with status 2 when a cell regressed beyond the threshold, 3 when behaviour differs.
    Compare {
        /// The baseline results.
        old: PathBuf,
        /// The results to judge.
        new: PathBuf,
        /// Relative change that counts, e.g. 0.05 for 5%.
        #[arg(long, default_value_t = 0.05)]
        threshold: f64,
        /// Also write the comparison as JSON to this file.
        #[arg(long, value_name = "PATH.json")]
        json: Option<PathBuf>,
    },
    /// How well two runs of the same matrix agree: per-cell change of the ratio to native
    /// (median, p90, max), the share of overlapping intervals, A/A outcomes, WebAssembly cells
    /// below native, and the host floor and native noop times, each against the suite's target.
    Precision {
        /// The first run's results.
        a: PathBuf,
        /// The second run's results.
        b: PathBuf,
        /// Also write the figures as JSON to this file.
        #[arg(long, value_name = "PATH.json")]
        json: Option<PathBuf>,
    },
    /// (internal) Prints the checkout this binary was built from.
    #[command(hide = true)]
    BuiltFrom,
    /// (internal) Runs one cell's lifecycles for `--measure instructions` under valgrind.
    #[command(hide = true)]
    CountInstructions {
        #[command(flatten)]
        subject: SubjectArgs,
        /// Engine to run.
        #[arg(long)]
        engine: String,
        /// Workload to run.
        #[arg(long)]
        workload: String,
        /// Lifecycles to count.
        #[arg(long)]
        lifecycles: u64,
    },
}

/// `filterbench spec …`.
#[derive(Subcommand)]
enum SpecAction {
    /// Write a commented starter spec for a module, from what it imports and exports.
    Init {
        /// The module (.wasm).
        #[arg(long, value_name = "PATH.wasm")]
        module: PathBuf,
        /// Where to write the spec (default: print it). An existing file is not overwritten.
        #[arg(long, value_name = "FILE.yaml")]
        out: Option<PathBuf>,
    },
    /// Print the spec format's JSON Schema (the same as docs/filter-spec.schema.json).
    Schema,
}

/// What is measured besides time.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Measure {
    /// Wall and CPU time (always on).
    Time,
    /// Also instructions per lifecycle under valgrind's callgrind (slow, deterministic).
    Instructions,
}

/// Which module(s) to run: the bench filters, or your own.
#[derive(clap::Args, Clone)]
struct SubjectArgs {
    /// Filters to run, comma-separated (default: all; see `filterbench list filters`).
    #[arg(long, value_delimiter = ',')]
    filter: Vec<String>,
    /// Run your own Proxy-Wasm module instead of the bench filters (its effects are observed
    /// and compared across engines).
    #[arg(long, value_name = "PATH.wasm", conflicts_with = "filter")]
    module: Option<PathBuf>,
    /// Run your own module as a filter spec file describes it (module, plugin, upstreams,
    /// clock, workloads, expectations; see docs/filter-spec.schema.json and
    /// `filterbench spec init`).
    #[arg(long, value_name = "FILE.yaml", conflicts_with_all = ["filter", "module"])]
    spec: Option<PathBuf>,
    /// With --module: the same filter built as a native library, for the native baseline.
    #[arg(long, value_name = "PATH.so", requires = "module")]
    native: Option<PathBuf>,
    /// With --module: the plugin configuration, a file path or inline JSON.
    #[arg(long, value_name = "FILE|JSON", requires = "module")]
    plugin_config: Option<String>,
    /// With --module: the VM configuration, a file path or inline value.
    #[arg(long, value_name = "FILE|JSON", requires = "module")]
    vm_config: Option<String>,
    /// With --module: headers or metrics whose values change with time (a reset time, a
    /// timestamp), comma-separated; engines are compared on their presence only.
    #[arg(long, value_name = "NAME", value_delimiter = ',', requires = "module")]
    volatile: Vec<String>,
    /// With --module: the root id (property `plugin_root_id`; SDKs pick their root context by
    /// it). Default: empty.
    #[arg(long, value_name = "ID", requires = "module")]
    root_id: Option<String>,
    /// With --module: the VM id (property `plugin_vm_id`). Default: filterbench.NAME.
    #[arg(long, value_name = "ID", requires = "module")]
    vm_id: Option<String>,
    /// With --module: an environment variable the module reads through WASI (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", requires = "module")]
    environment: Vec<String>,
    /// With --module: the lowest level the module's log keeps and `proxy_get_log_level`
    /// reports: trace, debug, info, warn, error or critical. Default: info.
    #[arg(long, value_name = "LEVEL", requires = "module")]
    log_level: Option<String>,
}

impl SubjectArgs {
    /// Arguments that rebuild the subject of `filter` in a child process.
    fn child_args(&self, filter: &str) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(spec) = &self.spec {
            let spec = std::path::absolute(spec).unwrap_or_else(|_| spec.clone());
            args.extend(["--spec".to_owned(), spec.display().to_string()]);
            return args;
        }
        match &self.module {
            Some(module) => {
                args.extend(["--module".to_owned(), module.display().to_string()]);
                if let Some(native) = &self.native {
                    args.extend(["--native".to_owned(), native.display().to_string()]);
                }
                for (flag, value) in [
                    ("--plugin-config", &self.plugin_config),
                    ("--vm-config", &self.vm_config),
                ] {
                    if let Some(value) = value {
                        args.extend([flag.to_owned(), value.clone()]);
                    }
                }
                if !self.volatile.is_empty() {
                    args.extend(["--volatile".to_owned(), self.volatile.join(",")]);
                }
                for (flag, value) in [
                    ("--root-id", &self.root_id),
                    ("--vm-id", &self.vm_id),
                    ("--log-level", &self.log_level),
                ] {
                    if let Some(value) = value {
                        args.extend([flag.to_owned(), value.clone()]);
                    }
                }
                for variable in &self.environment {
                    args.extend(["--env".to_owned(), variable.clone()]);
                }
            }
            // An exact name: `headers` alone would also select headers@c and the others.
            None => args.extend(["--filter".to_owned(), select::exact(filter)]),
        }
        args
    }

    /// Builds (or finds) the modules to run.
    fn subjects(&self) -> Result<Vec<run::Subject>> {
        if let Some(spec) = &self.spec {
            return Ok(vec![spec::load(spec)?]);
        }
        match &self.module {
            Some(module) => Ok(vec![byo::subject(
                module,
                self.native.as_ref(),
                self.plugin_config.as_deref(),
                self.vm_config.as_deref(),
                byo::plugin_settings(
                    self.root_id.as_deref(),
                    self.vm_id.as_deref(),
                    &self.environment,
                    self.log_level.as_deref(),
                )?,
                &self.volatile,
            )?]),
            None => {
                let filters = select::filters(&self.filter)?;
                let building = spinner("building bench filters (wasm32-wasip1 and native)…");
                let built = run::subjects_skipping_missing_toolchains(&filters);
                building.finish_and_clear();
                let (subjects, skipped) = built.context("cannot build the bench filters")?;
                for (name, why) in &skipped {
                    eprintln!("warning: {name} is left out: {why}");
                }
                if subjects.is_empty() {
                    anyhow::bail!("no filter to run: every one asked for was left out (see above)");
                }
                Ok(subjects)
            }
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// Engines to run, comma-separated: configurations or whole families (`wasmtime`) (default:
    /// all; see `filterbench list engines`).
    #[arg(long, value_delimiter = ',')]
    engine: Vec<String>,
    /// Workloads to run, comma-separated (default: each filter's own; see `filterbench list workloads`).
    #[arg(long, value_delimiter = ',')]
    workload: Vec<String>,
    /// Shorter measurement (20 paired rounds of 2 ms slices per cell in one process, instead of
    /// 72 of 3 ms split over 3 processes).
    #[arg(long)]
    quick: bool,
    /// Split the measurement over N processes run one after another, each with 1/N of the
    /// rounds (the first also measures start-up phases), merged; intervals then cover what
    /// changes between processes (default: 3; 1 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: Option<u32>,
    /// The run-level term of every ratio interval, %: the relative change that all rounds of one
    /// run share (a state of the machine that lasts the whole run), which no resampling inside
    /// the run can see. `filterbench precision A.json B.json` estimates it for your machine from
    /// two runs (default 1: measured on the 2-core reference machine, 0–1.4% over 15 pairs).
    #[arg(long, default_value_t = 1.0, value_name = "PCT", value_parser = between_run_percent)]
    between_run: f64,
    /// What a trap while measuring does, named after Envoy's failure_policy: `reload` (a fresh
    /// instance serves on, as Envoy's FAIL_RELOAD, up to 20 traps per cell) or `fail-closed`
    /// (Envoy's default: the module is not called again, so the cell stops at its first trap).
    #[arg(long, value_enum, default_value = "reload")]
    failure_policy: FailurePolicyArg,
    /// Make N whole runs in a row (each split over --processes) and merge them: N times the
    /// rounds.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Internal: this process measures share K of a run split over N (set by the parent).
    #[arg(long, hide = true, value_name = "K/N")]
    worker: Option<processes::Worker>,
    /// What to measure besides time: `instructions` counts instructions per lifecycle under
    /// callgrind (deterministic, slow; needs valgrind).
    #[arg(long, value_enum, value_delimiter = ',')]
    measure: Vec<Measure>,
    /// Where to write the results (default: results/results.json, or the --resume file). The
    /// file is rewritten after every filter, so an interrupted run keeps what it finished.
    #[arg(long, value_name = "PATH.json")]
    out: Option<PathBuf>,
    /// Finish an interrupted run: processes that finished are kept, and filters the unfinished
    /// process already holds completely; the rest is run, with the same arguments as the
    /// interrupted run. The results go back to the same file (unless --out says otherwise).
    #[arg(long, value_name = "RESULTS.json")]
    resume: Option<PathBuf>,
    /// Where to write the report (index.html, README.md, charts); default: next to the
    /// results file given with --out or --resume (`DIR/NAME-report/` for `DIR/NAME.json`),
    /// else results/report.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Do not write a report.
    #[arg(long)]
    no_report: bool,
    /// Run shard K of the matrix split into N (`K/N`), e.g. on N machines; `filterbench report`
    /// merges the shards' files. Each filter's cells stay in one shard with their baselines.
    /// `N` alone takes K from $JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job).
    #[arg(long, value_name = "K/N")]
    shard: Option<shard::ShardArg>,
    /// Also print the results file to stdout between marker lines (compressed), for
    /// `filterbench k8s collect` to read back from a pod's log.
    #[arg(long)]
    results_to_stdout: bool,
    /// Largest linear memory one instance may grow to, MiB (`memory.grow` beyond it fails;
    /// enforced on every WebAssembly engine; native code is not capped).
    #[arg(long, default_value_t = 512, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory_limit: u64,
    /// End the run when nothing has progressed for this long (a callback that never returns on
    /// an engine that cannot preempt it): the filter's cells are recorded as errors, the results
    /// so far are kept, and `--resume` runs the rest.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    hang_timeout: Duration,
}

/// Parses `--between-run`: a percentage from 0 to 50.
/// `--failure-policy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FailurePolicyArg {
    /// A fresh instance after a trap.
    Reload,
    /// Stop the cell at its first trap.
    FailClosed,
}

impl From<FailurePolicyArg> for filterbench_harness::results::FailurePolicy {
    fn from(arg: FailurePolicyArg) -> Self {
        match arg {
            FailurePolicyArg::Reload => Self::Reload,
            FailurePolicyArg::FailClosed => Self::FailClosed,
        }
    }
}

fn between_run_percent(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{text}' is not a percentage (e.g. 1 or 0.5)"))?;
    if (0.0..=50.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value}% is outside 0–50%"))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ListWhat {
    /// Bench filters.
    Filters,
    /// Engine configurations compiled into this build.
    Engines,
    /// Request/response shapes.
    Workloads,
}

/// glibc tunable that keeps `memcpy` off the `rep movsb` path (see [`stable_memcpy`]).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const REP_MOVSB_OFF: &str = "glibc.cpu.x86_rep_movsb_threshold=18446744073709551615";

/// Re-executes this binary with `rep movsb` disabled in glibc's `memcpy`, unless the caller
/// already chose a threshold. On the AMD EPYC machines this suite runs on, glibc's `rep movsb`
/// copy was 10x slower for some buffer alignments (measured: the same 64 KiB-body lifecycle took
/// 3.7 µs or 36 µs depending on where the heap put the buffers), so every host copy — and every
/// copy inside a native filter — was a lottery. The vector loop glibc uses instead is steady.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn stable_memcpy() {
    use std::os::unix::process::CommandExt;
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if current.contains("x86_rep_movsb_threshold") {
        return;
    }
    // `filterbench envoy` measures Envoy as users run it: its children keep glibc's defaults.
    if std::env::args().nth(1).as_deref() == Some("envoy") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let tunables = if current.is_empty() {
        REP_MOVSB_OFF.to_owned()
    } else {
        format!("{current}:{REP_MOVSB_OFF}")
    };
    // `exec` only returns on failure; then this process simply goes on with glibc's defaults.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", tunables)
        .exec();
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn stable_memcpy() {}

/// Restores the default action of SIGPIPE (Rust ignores it), so that output piped into a
/// reader that stops early (`filterbench list engines | head -1`) ends the process quietly, as
/// for other command-line tools, instead of a panic on the failed write.
#[cfg(unix)]
fn quiet_broken_pipe() {
    // SAFETY: setting a signal's disposition to its default at start-up, before any thread.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

#[cfg(not(unix))]
fn quiet_broken_pipe() {}

fn main() {
    quiet_broken_pipe();
    stable_memcpy();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run_command(args),
        Command::Envoy(args) => envoy_cmd::command(args),
        Command::Conformance(args) => conformance_cmd::command(args),
        Command::K8s { action } => k8s::command(action),
        Command::Spec { action } => spec_command(action),
        Command::List { what } => list_command(what),
        Command::Report { results, out } => report_command(&results, &out),
        Command::Compare {
            old,
            new,
            threshold,
            json,
        } => compare_command(&old, &new, threshold, json.as_deref()),
        Command::Precision { a, b, json } => precision_command(&a, &b, json.as_deref()),
        Command::BuiltFrom => {
            println!("{}", filterbench_harness::paths::build_root().display());
            Ok(())
        }
        Command::CountInstructions {
            subject,
            engine,
            workload,
            lifecycles,
        } => subject.subjects().and_then(|subjects| {
            let subject = subjects.first().context("no module to run")?;
            instructions::child(subject, &engine, &workload, lifecycles)
        }),
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn spec_command(action: SpecAction) -> Result<()> {
    match action {
        SpecAction::Schema => print!("{}", spec::schema_json()),
        SpecAction::Init { module, out } => {
            let dir = out
                .as_deref()
                .and_then(|o| o.parent())
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let text = spec_init::starter(&module, dir)?;
            match out {
                None => print!("{text}"),
                Some(out) => {
                    if out.exists() {
                        anyhow::bail!(
                            "{} exists; give another --out or remove it first",
                            out.display()
                        );
                    }
                    std::fs::write(&out, text)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    eprintln!(
                        "wrote {}; edit it, then: filterbench run --spec {}",
                        out.display(),
                        out.display()
                    );
                }
            }
        }
    }
    Ok(())
}

fn list_command(what: ListWhat) -> Result<()> {
    match what {
        ListWhat::Filters => display::print_filters(),
        ListWhat::Engines => display::print_engines(),
        ListWhat::Workloads => display::print_workloads(),
    }
    Ok(())
}

fn spinner(message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

impl RunArgs {
    /// The results file.
    fn out(&self) -> PathBuf {
        self.out
            .clone()
            .or_else(|| self.resume.clone())
            .unwrap_or_else(|| PathBuf::from("results/results.json"))
    }
}

fn run_command(args: RunArgs) -> Result<()> {
    let engine_entries = select::engines(&args.engine)?;
    let out = args.out();
    select::check_writable(&out)?;
    // Built and checked here, so a bad filter or module is reported once, before any process.
    let mut subjects = args.subject.subjects()?;
    let spec_workloads: Vec<String> = subjects.iter().flat_map(spec::own_workload_names).collect();
    let workloads = select::workloads(&args.workload, &spec_workloads)?;
    check_something_runs(&subjects, &workloads)?;
    let shard = match args.shard {
        None => None,
        Some(arg) => {
            let base = if args.quick {
                MeasureSettings::QUICK
            } else {
                MeasureSettings::STANDARD
            };
            // Engines missing from this build only get error cells: nothing to balance.
            let names: Vec<&str> = engine_entries
                .iter()
                .filter(|e| e.unavailable.is_none())
                .map(|e| e.name)
                .collect();
            let shard = shard::for_run(
                arg,
                &subjects,
                &names,
                &workloads,
                &base,
                &plan_settings(&args, &engine_entries),
            )?;
            subjects.retain(|s| {
                shard
                    .units
                    .contains(filterbench_harness::catalog::measure_group(s.filter.name))
            });
            if args.worker.is_none() {
                eprintln!("{}", shard::describe(&shard.record, &out));
            }
            Some(shard.record)
        }
    };
    let processes = match args.worker {
        Some(_) => 1,
        None => args.processes.unwrap_or(if args.quick { 1 } else { 3 }),
    };
    if processes * args.repeat > 1 {
        let results = processes::run_split(processes, args.repeat, &out, args.resume.is_some())?;
        return measure_instructions_and_finish(&args, results, shard);
    }
    let previous = match &args.resume {
        None => None,
        Some(path) => Some(results::read(path).with_context(|| {
            format!(
                "cannot resume from {}: it is not a readable filterbench results file (run without --resume to start over)",
                path.display()
            )
        })?),
    };
    for subject in &mut subjects {
        subject.filter.memory_limit_bytes = args.memory_limit << 20;
    }

    let mut engines = Vec::new();
    let mut unavailable = Vec::new();
    for entry in &engine_entries {
        if let Some(reason) = &entry.unavailable {
            unavailable.push((entry.name.to_owned(), reason.clone()));
            continue;
        }
        match filterbench_engines::create(entry.name) {
            Ok(engine) => engines.push(EngineSlot {
                name: entry.name.to_owned(),
                is_native: entry.is_native,
                engine,
            }),
            Err(error) => unavailable.push((entry.name.to_owned(), error.reason)),
        }
    }

    let base = if args.quick {
        MeasureSettings::QUICK
    } else {
        MeasureSettings::STANDARD
    };
    let settings = RunSettings {
        measure: base.share(args.worker.map_or(1, |w| w.of)),
        quick: args.quick,
        phases: args.worker.is_none_or(processes::Worker::measures_phases),
        analyze: args.worker.is_none(),
        between_run_sd: args.between_run / 100.0,
        failure_policy: args.failure_policy.into(),
        workloads,
        unavailable,
        preflight: preflight_engine(),
    };
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:40}] {pos}/{len} slices, {elapsed} elapsed, ~{eta} left",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix("measuring");
    if let Some(previous) = &previous {
        let kept: std::collections::BTreeSet<&str> =
            previous.cells.iter().map(|c| c.filter.as_str()).collect();
        eprintln!(
            "resuming: {} cells of {} filter(s) on record ({}); the rest runs now",
            previous.cells.len(),
            kept.len(),
            kept.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let mut write_error = None;
    let watchdog = watchdog::Watchdog::start(
        args.hang_timeout,
        out.clone(),
        subjects.clone(),
        engines
            .iter()
            .map(|e| e.name.clone())
            .chain(settings.unavailable.iter().map(|(n, _)| n.clone()))
            .collect(),
        settings.workloads.clone(),
    );
    let results = run::run_resumable(
        &subjects,
        &engines,
        &settings,
        previous.as_ref(),
        &mut |event| match event {
            Event::Checked { cell } => {
                watchdog.progress(&cell.filter, &format!("checking on {}", cell.engine));
                // The later processes of a split run repeat the first one's checks.
                if args.worker.is_none_or(processes::Worker::measures_phases) {
                    display::print_check(cell)
                }
            }
            Event::Loading { filter, engine } => {
                watchdog.compiling(filter, engine);
            }
            Event::Loaded { filter, engine } => {
                watchdog.progress(filter, &format!("checking it on {engine}"));
            }
            Event::Phases { filter, engine } => {
                watchdog.progress(filter, &format!("loading and starting it on {engine}"));
                eprintln!("  {filter:<10} {engine:<34} compiling, start-up phases and memory…")
            }
            Event::Measuring {
                filter,
                done,
                total,
            } => {
                watchdog.progress(filter, "measuring it");
                if bar.is_hidden() {
                    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                }
                if bar.length() != Some(total) || done == 1 {
                    bar.set_length(total);
                    bar.set_prefix(filter.to_owned());
                    bar.reset_eta();
                }
                bar.set_position(done);
            }
        },
        &mut |so_far| {
            watchdog.snapshot(so_far);
            if let Err(e) = results::write_atomic(&out, so_far) {
                write_error.get_or_insert(e);
            }
        },
    );
    drop(watchdog);
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write results to {}", out.display()));
    }

    if args.worker.is_some() {
        // A share of a split run: its parent merges, analyses and prints.
        return results::write_atomic(&out, &results)
            .with_context(|| format!("cannot write results to {}", out.display()));
    }
    measure_instructions_and_finish(&args, results, shard)
}

/// Every choice of a run that changes what its shards run, for the plan's id.
fn plan_settings(args: &RunArgs, engines: &[filterbench_engines::EngineEntry]) -> Vec<String> {
    let mut settings = vec![
        format!(
            "engines={}",
            engines.iter().map(|e| e.name).collect::<Vec<_>>().join(",")
        ),
        format!("workloads={}", args.workload.join(",")),
        format!("quick={}", args.quick),
        format!("processes={:?}", args.processes),
        format!("repeat={}", args.repeat),
        format!("memory-limit={}", args.memory_limit),
        format!("failure-policy={:?}", args.failure_policy),
        format!(
            "instructions={}",
            args.measure.contains(&Measure::Instructions)
        ),
    ];
    let subject = &args.subject;
    if let Some(spec) = &subject.spec {
        settings.push(format!("spec={}", spec.display()));
    }
    if let Some(module) = &subject.module {
        settings.push(format!("module={}", module.display()));
    }
    settings
}

/// Fails when no subject runs on any of the workloads asked for (instead of an empty run), and
/// warns for each subject that runs on none of them.
fn check_something_runs(subjects: &[run::Subject], workloads: &Option<Vec<String>>) -> Result<()> {
    let Some(asked) = workloads else {
        return Ok(());
    };
    let idle: Vec<&run::Subject> = subjects
        .iter()
        .filter(|s| run::planned_workloads(s, workloads).is_empty())
        .collect();
    let why = |s: &run::Subject| {
        format!(
            "filter {} has no expected effects on {} (its workloads: {})",
            s.filter.name,
            asked.join(", "),
            s.filter.workloads.join(", ")
        )
    };
    if idle.len() == subjects.len() {
        let reasons: Vec<String> = idle.iter().map(|s| why(s)).collect();
        anyhow::bail!(
            "nothing to run: {}; choose other workloads (`filterbench list workloads`) or filters",
            reasons.join("; ")
        );
    }
    for subject in idle {
        eprintln!("warning: {}; it is left out", why(subject));
    }
    Ok(())
}

/// Exit status of a run in which a requested cell failed its check or ended in an error (an
/// engine missing from this build does not count).
pub const FAILED_CELLS_EXIT_STATUS: i32 = 4;

/// The cells that failed their check or ended in an error other than an engine missing from
/// this build.
fn failed_cells(results: &results::Results) -> Vec<&results::Cell> {
    results
        .cells
        .iter()
        .filter(|c| match c.conformance {
            results::Conformance::Fail => true,
            results::Conformance::Error => c.error_kind.as_deref() != Some("unavailable"),
            _ => false,
        })
        .collect()
}

/// Counts instructions when `--measure instructions` asked for it, then [`finish`]es; a
/// shard's results get its record.
fn measure_instructions_and_finish(
    args: &RunArgs,
    results: results::Results,
    shard: Option<filterbench_harness::shards::ShardRecord>,
) -> Result<()> {
    let mut results = results;
    results.shards = shard.into_iter().collect();
    if args.measure.contains(&Measure::Instructions) {
        let subject = args.subject.clone();
        let counting = spinner("counting instructions under callgrind…");
        let outcome = instructions::count_all(
            &mut results,
            &|filter| subject.child_args(filter),
            &mut |message| counting.set_message(message.to_owned()),
        );
        counting.finish_and_clear();
        if let Err(error) = outcome {
            eprintln!("warning: instructions not counted: {error:#}");
        }
    }
    finish(args, results)
}

/// The metered engine that looks for runaway callbacks first (wasmi with fuel, else wasmtime
/// with epoch interruption), when this build has one.
fn preflight_engine() -> Option<run::Preflight> {
    ["wasmi-eager+fuel", "wasmtime-cranelift+epoch"]
        .iter()
        .find_map(|name| filterbench_engines::create(name).ok())
        .map(|engine| run::Preflight(std::rc::Rc::from(engine)))
}

/// Prints the table, writes the results and (unless `--no-report`) the report.
fn finish(args: &RunArgs, results: results::Results) -> Result<()> {
    let mut results = results;
    let invocation = invocation::current(&results.environment);
    if !results.invocations.contains(&invocation) {
        results.invocations.push(invocation);
    }
    // The host conformance kit on every engine, against Envoy 1.40's recorded answers (a few
    // seconds, after the measurements), recorded with the results and shown in the report.
    match conformance_cmd::record(None) {
        Ok(matrix) => results.host_conformance = Some(matrix),
        Err(e) => eprintln!("warning: host conformance not recorded: {e:#}"),
    }
    display::print_table(&results);
    let out = args.out();
    results::write_atomic(&out, &results)
        .with_context(|| format!("cannot write results to {}", out.display()))?;
    let shown = std::fs::canonicalize(&out).unwrap_or(out.clone());
    println!("\nresults written to {}", shown.display());
    if args.results_to_stdout {
        k8s::print_results(&results, "run")?;
    }
    if !args.no_report {
        let explicit = args.out.as_deref().or(args.resume.as_deref());
        write_report(
            &results,
            &report_dir(args.report.as_deref(), explicit, "results/report"),
        )?;
    }
    for cell in &results.cells {
        if let Some(change) = &cell.path_changed {
            eprintln!(
                "warning: {} on {} ({}) left its first request's path by request {}: its time mixes two paths ({})",
                cell.filter,
                cell.engine,
                cell.workload,
                change.after_requests,
                change.diff.join("; ")
            );
        }
    }
    let failed = failed_cells(&results);
    if !failed.is_empty() {
        let named: Vec<String> = failed
            .iter()
            .take(5)
            .map(|c| format!("{} on {} ({})", c.filter, c.engine, c.workload))
            .collect();
        eprintln!(
            "{} of {} cells failed their check or ended in an error: {}{} — exit status {FAILED_CELLS_EXIT_STATUS}",
            failed.len(),
            results.cells.len(),
            named.join(", "),
            if failed.len() > named.len() {
                ", …"
            } else {
                ""
            }
        );
        std::process::exit(FAILED_CELLS_EXIT_STATUS);
    }
    Ok(())
}

/// Whether `dir` lies in the `reports/` folder of a git work tree (where published reports live).
fn is_published_location(dir: &std::path::Path) -> bool {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute.ancestors().any(|a| {
        a.file_name().is_some_and(|n| n == "reports")
            && a.parent().is_some_and(|p| p.join(".git").exists())
    })
}

/// Where a report goes: `report` when given; else next to a results file the user named
/// (`DIR/NAME-report/` for `DIR/NAME.json`); else `default`.
fn report_dir(
    report: Option<&std::path::Path>,
    results_file: Option<&std::path::Path>,
    default: &str,
) -> PathBuf {
    match (report, results_file) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(file)) => {
            let stem = file
                .file_stem()
                .map_or_else(|| "results".into(), |s| s.to_string_lossy());
            file.with_file_name(format!("{stem}-report"))
        }
        (None, None) => PathBuf::from(default),
    }
}

fn write_report(results: &results::Results, dir: &std::path::Path) -> Result<()> {
    if is_published_location(dir) && results.environment.git_dirty == Some(true) {
        anyhow::bail!(
            "refusing to write a report into {}: the results were measured from a work tree with uncommitted changes (or merged from several commits), so no commit names the code that produced them; commit, run again, then publish",
            dir.display()
        );
    }
    let written = filterbench_report::write(results, dir)
        .with_context(|| format!("cannot write the report to {}", dir.display()))?;
    let index = std::fs::canonicalize(&written.index_html).unwrap_or(written.index_html);
    println!(
        "report written ({} charts); open {}",
        written.charts.len(),
        index.display()
    );
    Ok(())
}

fn report_command(files: &[PathBuf], out: &std::path::Path) -> Result<()> {
    use filterbench_harness::machines::{self, Labelled};
    let runs = files
        .iter()
        .map(|f| {
            let results = results::read(f).with_context(|| {
                format!(
                    "cannot read {} as filterbench results (schema version {})",
                    f.display(),
                    results::SCHEMA_VERSION
                )
            })?;
            Ok(Labelled {
                label: f.display().to_string(),
                results,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let machines = machines::by_machine(runs).context("the results cannot be reported together")?;
    if let [machine] = machines.as_slice() {
        display::print_table(&machine.results);
        display::print_envoy_table(&machine.results);
        return write_report(&machine.results, out);
    }
    // Several machine types: a report each, and a page comparing them.
    let folders: Vec<String> = machines.iter().map(|m| machine_folder(&m.name)).collect();
    for (machine, folder) in machines.iter().zip(&folders) {
        println!("\n== {} ({}) ==", machine.name, machine.files.join(", "));
        display::print_table(&machine.results);
        display::print_envoy_table(&machine.results);
        write_report(&machine.results, &out.join(folder))?;
    }
    let parts: Vec<filterbench_report::machines::MachineReport<'_>> = machines
        .iter()
        .zip(&folders)
        .map(|(m, folder)| filterbench_report::machines::MachineReport {
            name: &m.name,
            folder,
            files: &m.files,
            results: &m.results,
        })
        .collect();
    let index = filterbench_report::machines::write_index(&parts, out)
        .with_context(|| format!("cannot write the report to {}", out.display()))?;
    let index = std::fs::canonicalize(&index).unwrap_or(index);
    println!(
        "\n{} machine types, reported apart; open {}",
        machines.len(),
        index.display()
    );
    Ok(())
}

/// A folder name for a machine type: lower-case letters, digits and single dashes.
fn machine_folder(machine: &str) -> String {
    let mut folder = String::new();
    for c in machine.chars() {
        if c.is_ascii_alphanumeric() {
            folder.push(c.to_ascii_lowercase());
        } else if !folder.ends_with('-') && !folder.is_empty() {
            folder.push('-');
        }
    }
    folder.trim_end_matches('-').to_owned()
}

/// Reads a results file; the error names it.
fn read_results(f: &std::path::Path) -> Result<results::Results> {
    results::read(f).with_context(|| format!("cannot read {} as filterbench results", f.display()))
}

fn compare_command(
    old: &std::path::Path,
    new: &std::path::Path,
    threshold: f64,
    json: Option<&std::path::Path>,
) -> Result<()> {
    use filterbench_harness::compare;
    let (old_results, new_results) = (read_results(old)?, read_results(new)?);
    let changes = compare::compare(&old_results, &new_results, threshold);
    if changes.is_empty() {
        anyhow::bail!(
            "no cell was timed in both {} and {}: compare runs of the same filters and engines",
            old.display(),
            new.display()
        );
    }
    display::print_comparison(&changes, threshold);
    let behaviour = compare::compare_behaviour(&old_results, &new_results);
    display::print_behaviour(&behaviour);
    if let Some(path) = json {
        let both = serde_json::json!({ "changes": changes, "behaviour": behaviour });
        std::fs::write(path, serde_json::to_vec_pretty(&both)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if compare::any_regression(&changes) {
        eprintln!(
            "regressions beyond {:.0}%: exit status 2",
            threshold * 100.0
        );
        std::process::exit(2);
    }
    if !behaviour.changes.is_empty() {
        eprintln!(
            "behaviour differs in {} cells: exit status 3",
            behaviour.changes.len()
        );
        std::process::exit(3);
    }
    Ok(())
}

fn precision_command(
    a: &std::path::Path,
    b: &std::path::Path,
    json: Option<&std::path::Path>,
) -> Result<()> {
    use filterbench_harness::precision;
    let (first, second) = (read_results(a)?, read_results(b)?);
    let figures = precision::precision(&first, &second).with_context(|| {
        format!(
            "{} and {} share no engine cell with a ratio to native: give two runs of the same matrix",
            a.display(),
            b.display()
        )
    })?;
    print!("{}", precision::render(&figures));
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_report_goes_where_asked_else_next_to_a_named_results_file() {
        let default = "results/report";
        assert_eq!(
            report_dir(
                Some(Path::new("r")),
                Some(Path::new("/tmp/x.json")),
                default
            ),
            Path::new("r")
        );
        assert_eq!(
            report_dir(None, Some(Path::new("/tmp/x.json")), default),
            Path::new("/tmp/x-report")
        );
        assert_eq!(report_dir(None, None, default), Path::new(default));
    }

    #[test]
    fn machine_types_get_plain_folder_names() {
        assert_eq!(
            machine_folder("x86_64 · AMD EPYC 7B13 64-Core Processor"),
            "x86-64-amd-epyc-7b13-64-core-processor"
        );
    }
}
