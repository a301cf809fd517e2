//! `filterbench`: measures Proxy-Wasm HTTP filters under WebAssembly engines and as native code.

mod byo;
mod display;
mod select;

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
    /// List what can be selected.
    List {
        /// What to list.
        what: ListWhat,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Filters to run, comma-separated (default: all; see `filterbench list filters`).
    #[arg(long, value_delimiter = ',')]
    filter: Vec<String>,
    /// Engines to run, comma-separated (default: all; see `filterbench list engines`).
    #[arg(long, value_delimiter = ',')]
    engine: Vec<String>,
    /// Workloads to run, comma-separated (default: each filter's own; see `filterbench list workloads`).
    #[arg(long, value_delimiter = ',')]
    workload: Vec<String>,
    /// Shorter measurement (about 0.3 s per cell instead of 1.3 s).
    #[arg(long)]
    quick: bool,
    /// Where to write the results.
    #[arg(long, default_value = "results/results.json")]
    out: PathBuf,
    /// Run your own Proxy-Wasm module instead of the bench filters (its effects are observed
    /// and compared across engines).
    #[arg(long, value_name = "PATH.wasm", conflicts_with = "filter")]
    module: Option<PathBuf>,
    /// With --module: the same filter built as a native library, for the native baseline.
    #[arg(long, value_name = "PATH.so", requires = "module")]
    native: Option<PathBuf>,
    /// With --module: the plugin configuration, a file path or inline JSON.
    #[arg(long, value_name = "FILE|JSON", requires = "module")]
    plugin_config: Option<String>,
    /// With --module: the VM configuration, a file path or inline value.
    #[arg(long, value_name = "FILE|JSON", requires = "module")]
    vm_config: Option<String>,
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

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run_command(args),
        Command::List { what } => list_command(what),
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
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

fn run_command(args: RunArgs) -> Result<()> {
    let engine_entries = select::engines(&args.engine)?;
    let workloads = select::workloads(&args.workload)?;
    select::check_writable(&args.out)?;

    let subjects = match &args.module {
        Some(module) => vec![byo::subject(
            module,
            args.native.as_ref(),
            args.plugin_config.as_deref(),
            args.vm_config.as_deref(),
        )?],
        None => {
            let filters = select::filters(&args.filter)?;
            let building = spinner("building bench filters (wasm32-wasip1 and native)…");
            let subjects = run::subjects(&filters);
            building.finish_and_clear();
            subjects.context("cannot build the bench filters")?
        }
    };

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

    let settings = RunSettings {
        measure: if args.quick {
            MeasureSettings::QUICK
        } else {
            MeasureSettings::STANDARD
        },
        quick: args.quick,
        workloads,
        unavailable,
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
    let results = run::run(&subjects, &engines, &settings, &mut |event| match event {
        Event::Checked { cell } => display::print_check(cell),
        Event::Measuring { done, total } => {
            if bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(total);
            }
            bar.set_position(done);
        }
    });
    bar.finish_and_clear();

    display::print_table(&results);
    results::write_atomic(&args.out, &results)
        .with_context(|| format!("cannot write results to {}", args.out.display()))?;
    let shown = std::fs::canonicalize(&args.out).unwrap_or(args.out.clone());
    println!("\nresults written to {}", shown.display());
    Ok(())
}
