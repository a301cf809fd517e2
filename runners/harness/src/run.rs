//! A whole run: for every (filter, engine, workload) load, start and conformance-check the
//! filter, then measure every conformant cell interleaved, and assemble `Results`.
//! A cell that fails never stops the others.

use crate::analysis::AA_ENGINE;
use crate::artifacts::BuildError;
use crate::assertions;
use crate::catalog::{self, FilterSpec};
use crate::conformance;
use crate::environment;
use crate::measure::{self, MeasureSettings, TimedCell};
use crate::phases;
use crate::polyglot;
use crate::price;
use crate::pricing;
use crate::results::{
    Cell, Conformance, EngineRecord, FailurePolicy, ModuleRecord, PathChange, Results,
    SCHEMA_VERSION, Settings, Steady, TickCount, Tool,
};
use crate::{analysis, stats, sys};
use filterbench_host::{
    Engine, FLOOR_ENGINE, FilterError, FilterInstance, FloorInstance, LoadedModule, ModuleSource,
};
use std::rc::Rc;

/// A filter to run: its catalog entry and the artifacts to load.
#[derive(Clone, Debug)]
pub struct Subject {
    /// Configuration, workloads and expected effects.
    pub filter: FilterSpec,
    /// The module files.
    pub source: ModuleSource,
}

/// Builds the catalog filters and pairs each with its artifacts.
pub fn subjects(filters: &[FilterSpec]) -> Result<Vec<Subject>, BuildError> {
    filters
        .iter()
        .map(|f| {
            Ok(Subject {
                filter: f.clone(),
                source: polyglot::ensure_built(f)?,
            })
        })
        .collect()
}

/// Filters left out of a run: (name, why).
pub type LeftOut = Vec<(String, BuildError)>;

/// Like [`subjects`], but a filter in another language whose toolchain is missing is left out
/// (returned with the reason) instead of failing the whole run.
pub fn subjects_skipping_missing_toolchains(
    filters: &[FilterSpec],
) -> Result<(Vec<Subject>, LeftOut), BuildError> {
    let mut built = Vec::new();
    let mut skipped = Vec::new();
    for f in filters {
        match polyglot::ensure_built(f) {
            Ok(source) => built.push(Subject {
                filter: f.clone(),
                source,
            }),
            Err(e @ BuildError::MissingToolchain { .. }) => skipped.push((f.name.to_owned(), e)),
            Err(e) => return Err(e),
        }
    }
    Ok((built, skipped))
}

/// An engine to run, with its name in results.
pub struct EngineSlot {
    /// Name in results (`EngineInfo::name`).
    pub name: String,
    /// Whether ratios are computed against it.
    pub is_native: bool,
    /// The engine.
    pub engine: Box<dyn Engine>,
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// Timing settings.
    pub measure: MeasureSettings,
    /// Whether this is a `--quick` run (recorded in results).
    pub quick: bool,
    /// Only these workloads (default: each filter's own).
    pub workloads: Option<Vec<String>>,
    /// Engines that were asked for but cannot run in this build: (name, reason). Each gets an
    /// `unavailable` error cell per filter and workload, so the report says why it is missing.
    pub unavailable: Vec<(String, String)>,
    /// A metered engine that runs each module's workloads once before anything else, so a
    /// callback that never returns is found where it can be stopped (see [`Preflight`]).
    pub preflight: Option<Preflight>,
    /// Whether to measure start-up phases and memory (off in the later processes of a run
    /// split over several: they only add steady-state rounds).
    pub phases: bool,
    /// Whether to compute the derived statistics at the end (off in the processes of a split
    /// run: their files are merged, and the merge analyses the whole).
    pub analyze: bool,
    /// The run-level term of every ratio interval, log-scale standard deviation (see
    /// [`Settings::between_run_sd`]).
    pub between_run_sd: f64,
    /// What a trap while measuring does to the cell.
    pub failure_policy: FailurePolicy,
}

/// The default run-level term: 1%. Measured on the 2-core reference machine, two runs of the
/// default matrix differ beyond their within-run intervals by 0–1.4% (median 0.6%) over 15
/// pairs of runs; 1% makes at least 93% of intervals overlap in every back-to-back pair.
pub const DEFAULT_BETWEEN_RUN_SD: f64 = 0.01;

/// A metered engine (fuel or epoch deadline per call) used to find runaway callbacks before
/// the engines that cannot preempt guest code (compiled engines without metering, WAMR's
/// interpreter, native) run them: a module that runs past the deadline in the preflight is not
/// run on those engines, and its cells say why. A module that loops only on inputs the
/// preflight does not send can still hang those engines; metered engines stop it anyway.
#[derive(Clone)]
pub struct Preflight(pub std::rc::Rc<dyn Engine>);

impl std::fmt::Debug for Preflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preflight({})", self.0.info().name)
    }
}

/// Whether an engine configuration stops a callback at a deadline by itself.
pub fn is_metered(engine: &str) -> bool {
    ["+fuel", "+epoch", "+metering"]
        .iter()
        .any(|m| engine.contains(m))
}

/// Runs every workload once on the preflight engine; the deadline error if one ran away.
fn preflight(
    preflight: &Preflight,
    subject: &Subject,
    workloads: &[&catalog::Workload],
) -> Option<FilterError> {
    let module = preflight.0.load(&subject.source).ok()?;
    for workload in workloads {
        let result = start_instance(module.as_ref(), &subject.filter)
            .and_then(|mut instance| instance.run_stream(&workload.exchange));
        if let Err(error) = result
            && error.kind() == "deadline"
        {
            return Some(error);
        }
    }
    None
}

/// What the run is doing, for progress displays.
#[derive(Debug)]
pub enum Event<'a> {
    /// A cell's conformance check finished.
    Checked {
        /// The cell so far.
        cell: &'a Cell,
    },
    /// A filter's module is being loaded (compiled) on an engine; with an optimising compiler
    /// this can take a minute (WAMR's LLVM modes on a Go module).
    Loading {
        /// Filter name.
        filter: &'a str,
        /// Engine name.
        engine: &'a str,
    },
    /// The load that [`Event::Loading`] announced is done (the module is checked next).
    Loaded {
        /// Filter name.
        filter: &'a str,
        /// Engine name.
        engine: &'a str,
    },
    /// Start-up phases of a (filter, engine) are being measured.
    Phases {
        /// Filter name.
        filter: &'a str,
        /// Engine name.
        engine: &'a str,
    },
    /// Measurement progress of one filter's cells: `done` of `total` steps.
    Measuring {
        /// Filter being measured.
        filter: &'a str,
        /// Steps done.
        done: u64,
        /// Steps in all.
        total: u64,
    },
}

pub use crate::catalog::{plugin_for, start_instance};

/// A checked cell and, when it may be timed, its instance.
struct Checked<'a> {
    cell: Cell,
    instance: Option<Box<dyn FilterInstance>>,
    module: Option<std::rc::Rc<dyn LoadedModule>>,
    exchange: &'a filterbench_host::HttpExchange,
    native: bool,
}

/// Runs the first stream of a cell and judges it: against the catalog's expectation, or —
/// when there is none — by recording what it did. Returns the instance if it may be timed.
fn check_cell(
    cell: &mut Cell,
    mut instance: Box<dyn FilterInstance>,
    filter: &FilterSpec,
    workload: &catalog::Workload,
) -> Option<Box<dyn FilterInstance>> {
    let expected = (filter.expect)(workload);
    let calls_before = instance.guest_calls();
    let outcome = match &expected {
        Some(expected) => {
            conformance::run_and_check(instance.as_mut(), &workload.exchange, expected)
        }
        None => instance.run_stream(&workload.exchange).map(|()| Vec::new()),
    };
    if price::is_probe(filter.name) {
        cell.guest_callbacks = Some(instance.guest_calls() - calls_before);
    }
    match outcome {
        Err(error) => {
            error_cell(cell, &error);
            None
        }
        Ok(diff) if !diff.is_empty() => {
            cell.conformance = Conformance::Fail;
            cell.diff = diff;
            None
        }
        Ok(_) if expected.is_none() => {
            cell.observed = conformance::observe(instance.state(), &filter.volatile);
            cell.log = conformance::log_text(instance.state());
            let broken = filter
                .custom
                .assertions_for(workload.name)
                .map(|stated| assertions::check(stated, instance.state()))
                .unwrap_or_default();
            if broken.is_empty() {
                cell.conformance = Conformance::Observed;
                Some(instance)
            } else {
                cell.conformance = Conformance::Fail;
                cell.diff = broken;
                None
            }
        }
        Ok(_) => Some(instance),
    }
}

/// The last line of an observation difference: how to compare a value that changes with time.
pub const VOLATILE_HINT: &str = "a header or metric whose value changes with time (a reset time, a \
     timestamp) can be compared by presence only: --volatile NAME";

/// For cells without expectations: every engine must have had the same effects as the
/// reference (native when it ran, else the first engine that ran). Cells that differ fail.
fn compare_observations(checked: &mut [Checked<'_>]) {
    let observed = |c: &Checked<'_>| c.cell.conformance == Conformance::Observed;
    let workloads: Vec<String> = checked
        .iter()
        .filter(|c| observed(c))
        .map(|c| c.cell.workload.clone())
        .collect();
    for workload in workloads {
        let same = |c: &Checked<'_>| observed(c) && c.cell.workload == workload;
        let reference = checked
            .iter()
            .find(|c| same(c) && c.native)
            .or_else(|| checked.iter().find(|c| same(c)))
            .map(|c| (c.cell.engine.clone(), c.cell.observed.clone()));
        let Some((reference_engine, reference)) = reference else {
            continue;
        };
        for c in checked.iter_mut().filter(|c| same(c)) {
            let mut diff =
                conformance::diff_observations(&reference_engine, &reference, &c.cell.observed);
            if !diff.is_empty() {
                diff.push(VOLATILE_HINT.to_owned());
                c.cell.conformance = Conformance::Fail;
                c.cell.diff = diff;
                c.instance = None;
            }
        }
    }
}

/// A cell that has not been checked yet.
fn new_cell(filter: &FilterSpec, engine: &str, workload: &catalog::Workload) -> Cell {
    Cell {
        filter: filter.name.to_owned(),
        engine: engine.to_owned(),
        workload: workload.name.to_owned(),
        conformance: Conformance::Pass,
        error: None,
        error_kind: None,
        diff: Vec::new(),
        observed: Vec::new(),
        log: Vec::new(),
        steady: None,
        ratio_to_native: None,
        verdict_vs_native: None,
        cpu_ratio_to_native: None,
        ratio_to_fastest: None,
        ratio_p_value: None,
        ratio_above_floor: None,
        time_above_floor_ns: None,
        noisy: false,
        implausible: None,
        unreliable: false,
        fast_rounds: None,
        mixed_state: false,
        instructions: None,
        instructions_error: None,
        traps: 0,
        path_changed: None,
        ticks: None,
        guest_callbacks: None,
    }
}

fn error_cell(cell: &mut Cell, error: &FilterError) {
    cell.conformance = Conformance::Error;
    cell.error = Some(error.to_string());
    cell.error_kind = Some(error.kind().to_owned());
}

/// Runs every cell. Never fails as a whole: each cell records its own outcome.
pub fn run(
    subjects: &[Subject],
    engines: &[EngineSlot],
    settings: &RunSettings,
    observe: &mut dyn FnMut(Event<'_>),
) -> Results {
    run_resumable(subjects, engines, settings, None, observe, &mut |_| {})
}

/// Whether `subject` runs on workload `w` in this run: its own workloads by default; of those
/// asked for, the ones it has an expectation for — any of them for a module that is only
/// observed (a user's own).
fn runs_on(subject: &Subject, selected: &Option<Vec<String>>, w: &catalog::Workload) -> bool {
    let filter = &subject.filter;
    match selected {
        Some(selected) => {
            selected.iter().any(|s| s == w.name)
                && (filter.workloads.contains(&w.name)
                    || filter.observe_only()
                    || (filter.expect)(w).is_some())
        }
        None => filter.workloads.contains(&w.name),
    }
}

/// The workloads `subjects` may run on: the catalog's and those their spec files define.
fn candidate_workloads<'s>(
    subjects: impl IntoIterator<Item = &'s Subject>,
) -> Vec<catalog::Workload> {
    let mut all = catalog::workloads();
    for subject in subjects {
        all.extend(subject.filter.custom.workloads.iter().cloned());
    }
    all
}

/// The workloads `subject` runs on in this run (empty: it would run nothing).
pub fn planned_workloads(subject: &Subject, selected: &Option<Vec<String>>) -> Vec<&'static str> {
    candidate_workloads([subject])
        .iter()
        .filter(|w| runs_on(subject, selected, w))
        .map(|w| w.name)
        .collect()
}

/// Error cells for every (engine, workload) of `subject`: what a run records for a filter it
/// had to abandon (e.g. a callback that never returned on an engine that cannot preempt it).
pub fn abandoned_cells(
    subject: &Subject,
    engines: &[&str],
    selected_workloads: &Option<Vec<String>>,
    kind: &str,
    message: &str,
) -> Vec<Cell> {
    let workloads = candidate_workloads([subject]);
    let mut cells = Vec::new();
    for engine in engines {
        for w in workloads
            .iter()
            .filter(|w| runs_on(subject, selected_workloads, w))
        {
            let mut cell = new_cell(&subject.filter, engine, w);
            cell.conformance = Conformance::Error;
            cell.error = Some(message.to_owned());
            cell.error_kind = Some(kind.to_owned());
            cells.push(cell);
        }
    }
    cells
}

/// Whether `previous` holds a complete record of `subject` on these engines: a cell for every
/// (engine, workload) the run would make.
fn already_done(
    previous: &Results,
    subject: &Subject,
    engine_names: &[&str],
    workloads: &[&catalog::Workload],
) -> bool {
    engine_names.iter().all(|engine| {
        workloads.iter().all(|w| {
            previous.cells.iter().any(|c| {
                c.filter == subject.filter.name && c.engine == *engine && c.workload == w.name
            })
        })
    })
}

/// [`run`], filter by filter: each filter's cells are checked, then measured in interleaved
/// rounds among themselves (ratios pair a cell with native on the same filter, so nothing is
/// lost), and `on_progress` gets the results so far after every filter — write them to keep
/// them if the run is interrupted. Filters `previous` already holds completely (same engines
/// and workloads) are taken from it instead of being run again (`--resume`).
pub fn run_resumable(
    subjects: &[Subject],
    engines: &[EngineSlot],
    settings: &RunSettings,
    previous: Option<&Results>,
    observe: &mut dyn FnMut(Event<'_>),
    on_progress: &mut dyn FnMut(&Results),
) -> Results {
    // Everything timed (phases and steady state) runs on one CPU.
    let infos: Vec<_> = engines.iter().map(|e| e.engine.info()).collect();
    let mut environment = environment::fingerprint(&infos, 0);
    let pin = sys::CpuPin::last_allowed();
    let pinned_cpu = pin.as_ref().ok().map(|p| p.cpu);
    let pinning_error = pin.as_ref().err().cloned();
    let overhead_ns = measure::timer_overhead_ns();
    environment.timer_overhead_ns = overhead_ns;
    let engine_records = infos
        .iter()
        .map(EngineRecord::from_info)
        .chain(
            settings
                .unavailable
                .iter()
                .map(|(name, reason)| EngineRecord::unavailable(name, reason)),
        )
        .chain(
            engines
                .iter()
                .any(|e| e.is_native)
                .then(EngineRecord::calibration_records)
                .into_iter()
                .flatten(),
        )
        .collect();
    let mut results = Results {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "filterbench".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        environment,
        engines: engine_records,
        modules: subjects.iter().map(module_record).collect(),
        settings: Settings {
            quick: settings.quick,
            warmup_ms: settings.measure.warmup.as_millis() as u64,
            rounds: settings.measure.rounds,
            slice_ms: settings.measure.slice.as_millis() as u64,
            runs: 1,
            phase_samples: settings.measure.phase_samples,
            measure: vec!["time".to_owned()],
            pinned_cpu,
            pinning_error,
            blocks: settings.measure.blocks,
            between_run_sd: settings.between_run_sd,
            failure_policy: settings.failure_policy,
        },
        cells: Vec::new(),
        phases: Vec::new(),
        summary: Default::default(),
        envoy: None,
        host_conformance: None,
        price: Vec::new(),
        shards: Vec::new(),
        invocations: Vec::new(),
    };
    let all_workloads = candidate_workloads(subjects);
    let mut engine_names: Vec<&str> = engines.iter().map(|e| e.name.as_str()).collect();
    engine_names.extend(settings.unavailable.iter().map(|(n, _)| n.as_str()));
    // The price-list probes run on the plain configurations only, never on unavailable ones.
    let priced_names: Vec<&str> = engines
        .iter()
        .map(|e| e.name.as_str())
        .filter(|name| pricing::priced_on(name, engines.iter().map(|e| e.name.as_str())))
        .collect();

    // The skeleton first: the output is known writable, and a watchdog has something to extend.
    on_progress(&results);
    for group in language_groups(subjects) {
        let workloads_of = |subject: &Subject| -> Vec<&catalog::Workload> {
            all_workloads
                .iter()
                .filter(|w| runs_on(subject, &settings.workloads, w))
                .collect()
        };
        if let Some(previous) = previous
            && group.iter().all(|s| {
                let names = if price::is_probe(s.filter.name) {
                    &priced_names
                } else {
                    &engine_names
                };
                already_done(previous, s, names, &workloads_of(s))
            })
        {
            for subject in &group {
                let name = subject.filter.name;
                let kept = |engine: &str| {
                    engine_names.contains(&engine) || analysis::is_calibration(engine)
                };
                results.cells.extend(
                    previous
                        .cells
                        .iter()
                        .filter(|c| c.filter == name && kept(&c.engine))
                        .cloned(),
                );
                results.phases.extend(
                    previous
                        .phases
                        .iter()
                        .filter(|p| p.filter == name && engine_names.contains(&p.engine.as_str()))
                        .cloned(),
                );
            }
            continue;
        }
        let planned: Vec<(&Subject, Vec<&catalog::Workload>)> =
            group.iter().map(|s| (*s, workloads_of(s))).collect();
        run_group(
            &planned,
            engines,
            settings,
            overhead_ns,
            &mut results,
            observe,
        );
        // The measurements so far, not yet analysed (a bootstrap over every cell takes seconds;
        // `report` and `--resume` analyse what they read).
        on_progress(&results);
    }
    if settings.analyze {
        analysis::analyze(&mut results);
    }
    results
}

/// The subjects in groups measured together: every language of one filter (`headers`,
/// `headers@c`, `headers@assemblyscript`) in the same interleaved rounds, so a language is
/// compared with Rust native code measured next to it; and all price-list probes, each next to
/// the baseline probe. Groups keep the subjects' order.
fn language_groups(subjects: &[Subject]) -> Vec<Vec<&Subject>> {
    let mut groups: Vec<(&str, Vec<&Subject>)> = Vec::new();
    for subject in subjects {
        let base = catalog::measure_group(subject.filter.name);
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, group)) => group.push(subject),
            None => groups.push((base, vec![subject])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// A cell that passed its checks and will be timed.
struct Planned<'a> {
    /// Index of its cell in `results.cells`.
    index: usize,
    instance: Box<dyn FilterInstance>,
    /// Makes a fresh instance of the loaded module (after a trap).
    respawn: measure::Respawn<'a>,
    /// Makes a fresh instance of a fresh load (at a block boundary).
    renew: measure::Respawn<'a>,
    exchange: &'a filterbench_host::HttpExchange,
    /// Checks that later requests take the first one's path (`None` for the host floor).
    verify: Option<measure::Verify<'a>>,
    /// Filter, workload and engine of the cell (to find its baseline).
    filter: &'a str,
    workload: &'a str,
    engine: String,
    native: bool,
}

/// A check that a request on an instance takes the path `first` (the first request's).
fn path_check<'a>(
    first: Vec<String>,
    exchange: &'a filterbench_host::HttpExchange,
) -> measure::Verify<'a> {
    Box::new(move |instance| match instance.run_stream(exchange) {
        Ok(()) => conformance::diff_paths(&first, &conformance::path(instance.state())),
        Err(error) => vec![format!("later: the request failed: {error}")],
    })
}

/// The engine a checked cell ran on and its serialized artifact, if the engine makes one.
type SlotLoad<'a> = (&'a EngineSlot, Option<Rc<Vec<u8>>>);

/// A closure that loads the module afresh — from the engine's serialized artifact when it has
/// one (fresh code placement without recompiling), else from source when the engine says that is
/// cheap — and starts an instance; otherwise (an optimising JIT without artifacts) it starts a
/// fresh instance of `module`, the module loaded once.
fn renewer<'a>(
    engine: &'a dyn Engine,
    source: &'a ModuleSource,
    filter: &'a FilterSpec,
    artifact: Option<Rc<Vec<u8>>>,
    module: Rc<dyn LoadedModule>,
) -> measure::Respawn<'a> {
    let reload = engine.reload_per_block();
    Box::new(move || {
        let fresh = match &artifact {
            Some(bytes) => Some(engine.load_serialized(source, bytes)?),
            None if reload => Some(engine.load(source)?),
            None => None,
        };
        match fresh {
            Some(fresh) => start_instance(fresh.as_ref(), filter),
            None => start_instance(module.as_ref(), filter),
        }
    })
}

/// Checks every subject of a group on every engine, then measures all their timed cells (and
/// the host floor and A/A cells) in one interleaved measurement, each paired with its baseline.
fn run_group(
    group: &[(&Subject, Vec<&catalog::Workload>)],
    engines: &[EngineSlot],
    settings: &RunSettings,
    overhead_ns: u64,
    results: &mut Results,
    observe: &mut dyn FnMut(Event<'_>),
) {
    let mut planned: Vec<Planned<'_>> = Vec::new();
    for (subject, workloads) in group {
        check_subject(
            subject,
            workloads,
            engines,
            settings,
            results,
            observe,
            &mut planned,
        );
    }
    // Baselines: native code of the same filter and workload; for a language without a native
    // build, the Rust filter's native code of the same workload.
    let native_index = |filter: &str, workload: &str| {
        planned
            .iter()
            .position(|p| p.native && p.filter == filter && p.workload == workload)
    };
    let baselines: Vec<Option<usize>> = planned
        .iter()
        .map(|p| {
            // A price-list probe: the baseline probe on the same engine and workload (which,
            // like the host floor next to it, has no baseline of its own).
            if price::is_probe(p.filter) {
                return planned.iter().position(|b| {
                    p.filter != price::BASE
                        && b.filter == price::BASE
                        && b.workload == p.workload
                        && b.engine == p.engine
                });
            }
            if p.native {
                return None;
            }
            native_index(p.filter, p.workload).or_else(|| {
                let base = catalog::split_language(p.filter).0;
                native_index(base, p.workload)
            })
        })
        .collect();
    let filter_name = group.first().map_or("", |(s, _)| s.filter.name);
    let (indices, mut timed_cells): (Vec<usize>, Vec<TimedCell<'_>>) = planned
        .into_iter()
        .zip(baselines)
        .map(|(p, baseline)| {
            let mut cell = TimedCell::new(p.instance, p.exchange).with_renew(p.renew);
            // Fail-closed: the module is not called again after a trap, so neither is the cell.
            if settings.failure_policy == FailurePolicy::Reload {
                cell = cell.with_respawn(p.respawn);
            }
            if let Some(verify) = p.verify {
                cell = cell.with_verify(verify);
            }
            if let Some(b) = baseline {
                cell = cell.paired_with(b);
            }
            (p.index, cell)
        })
        .unzip();
    // The probes' differences are large next to their noise: a third of the rounds will do.
    let probes = group.iter().all(|(s, _)| price::is_probe(s.filter.name));
    let measure_settings = if probes {
        pricing::settings(&settings.measure)
    } else {
        settings.measure
    };
    measure::measure(
        &mut timed_cells,
        &measure_settings,
        overhead_ns,
        &mut |done, total| {
            observe(Event::Measuring {
                filter: filter_name,
                done,
                total,
            })
        },
    );
    record_measurements(results, indices, timed_cells, settings.failure_policy);
}

/// Checks one filter on every engine, appending its cells and phases to `results` and the
/// cells that may be timed to `planned`: every engine's, an A/A twin of native code and the
/// host floor per workload.
#[allow(clippy::too_many_arguments)]
fn check_subject<'a>(
    subject: &'a Subject,
    workloads: &[&'a catalog::Workload],
    engines: &'a [EngineSlot],
    settings: &RunSettings,
    results: &mut Results,
    observe: &mut dyn FnMut(Event<'_>),
    planned: &mut Vec<Planned<'a>>,
) {
    let filter = &subject.filter;
    let runaway = settings
        .preflight
        .as_ref()
        .and_then(|p| preflight(p, subject, workloads).map(|e| (p.0.info().name, e)));
    let mut checked: Vec<Checked<'a>> = Vec::new();
    // Per checked cell: the engine slot it ran on (for fresh loads at block boundaries).
    let mut slots: Vec<Option<SlotLoad<'a>>> = Vec::new();
    let probe = price::is_probe(filter.name);
    for slot in engines {
        if probe && !pricing::priced_on(&slot.name, engines.iter().map(|e| e.name.as_str())) {
            continue;
        }
        // A language that compiles only to WebAssembly has no native cells at all (its ratios
        // are to the Rust filter's native code).
        if slot.is_native
            && subject.source.native.is_none()
            && subject.filter.language != catalog::Language::Rust
        {
            continue;
        }
        if let Some((checker, error)) = &runaway
            && !is_metered(&slot.name)
        {
            for workload in workloads {
                let mut cell = new_cell(filter, &slot.name, workload);
                cell.conformance = Conformance::Error;
                cell.error = Some(format!(
                    "not run: on {checker} (run first because {} cannot stop a callback that never returns) {error}",
                    slot.name
                ));
                cell.error_kind = Some("deadline".to_owned());
                checked.push(Checked {
                    cell,
                    instance: None,
                    module: None,
                    exchange: &workload.exchange,
                    native: slot.is_native,
                });
                slots.push(None);
            }
            continue;
        }
        observe(Event::Loading {
            filter: filter.name,
            engine: &slot.name,
        });
        let load = phases::timed_load(slot.engine.as_ref(), &subject.source);
        observe(Event::Loaded {
            filter: filter.name,
            engine: &slot.name,
        });
        if settings.phases && !probe {
            observe(Event::Phases {
                filter: filter.name,
                engine: &slot.name,
            });
            results.phases.push(phases::measure(
                slot.engine.as_ref(),
                &subject.source,
                filter,
                workloads.first().copied(),
                &load,
                &settings.measure,
            ));
        }
        let module: Result<Rc<dyn LoadedModule>, FilterError> = load.module.map(Rc::from);
        let artifact = module
            .as_ref()
            .ok()
            .and_then(|m| m.serialize().ok())
            .map(Rc::new);
        // Native code also gets an A/A twin: a second, independent instance of the same
        // library, checked and timed like any engine; its ratio to native is the run's precision.
        let names: &[&str] = if slot.is_native && !probe {
            &[slot.name.as_str(), AA_ENGINE]
        } else {
            &[slot.name.as_str()]
        };
        for (k, name) in names.iter().enumerate() {
            for workload in workloads {
                let mut cell = new_cell(filter, name, workload);
                let started = module
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|m| start_instance(m.as_ref(), filter));
                let instance = match started {
                    Err(error) => {
                        error_cell(&mut cell, &error);
                        None
                    }
                    Ok(instance) => check_cell(&mut cell, instance, filter, workload),
                };
                checked.push(Checked {
                    cell,
                    instance,
                    module: module.as_ref().ok().cloned(),
                    exchange: &workload.exchange,
                    native: slot.is_native && k == 0,
                });
                slots.push(Some((slot, artifact.clone())));
            }
        }
    }
    compare_observations(&mut checked);
    for (
        Checked {
            cell,
            instance,
            module,
            exchange,
            native,
        },
        slot,
    ) in checked.into_iter().zip(slots)
    {
        observe(Event::Checked { cell: &cell });
        if let (Some(mut instance), Some(module), Some((slot, artifact))) = (instance, module, slot)
        {
            let first = conformance::path(instance.state());
            planned.push(Planned {
                index: results.cells.len(),
                instance,
                respawn: {
                    let module = Rc::clone(&module);
                    Box::new(move || start_instance(module.as_ref(), filter))
                },
                renew: renewer(
                    slot.engine.as_ref(),
                    &subject.source,
                    filter,
                    artifact,
                    module,
                ),
                exchange,
                verify: Some(path_check(first, exchange)),
                filter: filter.name,
                workload: workload_name(workloads, exchange),
                engine: cell.engine.clone(),
                native,
            });
        }
        results.cells.push(cell);
    }
    // The host floor: the same lifecycle with no guest, next to native code of this filter
    // (of the probes, only the baseline's on get-small: the callbacks' price).
    let has_native = planned.iter().any(|p| p.native && p.filter == filter.name);
    let floored = |w: &&&catalog::Workload| {
        !probe || (filter.name == price::BASE && w.name == price::CALLBACK_WORKLOAD)
    };
    for workload in workloads.iter().filter(|_| has_native).filter(floored) {
        let mut cell = new_cell(filter, FLOOR_ENGINE, workload);
        cell.conformance = Conformance::Calibration;
        let floor = move || -> Result<Box<dyn FilterInstance>, FilterError> {
            let mut floor = FloorInstance::new(plugin_for(filter));
            floor.start()?;
            Ok(Box::new(floor))
        };
        if let Ok(instance) = floor() {
            planned.push(Planned {
                index: results.cells.len(),
                instance,
                respawn: Box::new(floor),
                renew: Box::new(floor),
                exchange: &workload.exchange,
                verify: None,
                filter: filter.name,
                workload: workload.name,
                engine: FLOOR_ENGINE.to_owned(),
                native: false,
            });
        }
        results.cells.push(cell);
    }
    for (engine, reason) in settings.unavailable.iter().filter(|_| !probe) {
        for workload in workloads {
            let mut cell = new_cell(filter, engine, workload);
            cell.conformance = Conformance::Error;
            cell.error = Some(format!("engine '{engine}' is unavailable: {reason}"));
            cell.error_kind = Some("unavailable".to_owned());
            observe(Event::Checked { cell: &cell });
            results.cells.push(cell);
        }
    }
}

/// The name of the workload whose exchange is `exchange`.
fn workload_name<'a>(
    workloads: &[&'a catalog::Workload],
    exchange: &filterbench_host::HttpExchange,
) -> &'a str {
    workloads
        .iter()
        .find(|w| std::ptr::eq(&w.exchange, exchange))
        .map_or("", |w| w.name)
}

/// Stores what was measured into the cells.
fn record_measurements(
    results: &mut Results,
    indices: Vec<usize>,
    timed: Vec<TimedCell<'_>>,
    policy: FailurePolicy,
) {
    for (i, timed) in indices.into_iter().zip(timed) {
        let cell = &mut results.cells[i];
        cell.traps = timed.traps;
        // The floor has no guest: nothing of it ticks.
        let guest = cell.conformance != Conformance::Calibration;
        cell.ticks = (guest && timed.ticks.1 > 0).then_some(TickCount {
            fired: timed.ticks.0,
            requests: timed.ticks.1,
        });
        cell.path_changed = timed.path_change.map(|(after_requests, diff)| PathChange {
            after_requests,
            diff,
        });
        if let Some(error) = &timed.error {
            cell.error = Some(if timed.traps > 0 && policy == FailurePolicy::FailClosed {
                format!(
                    "during measurement: trapped (failure policy fail-closed, Envoy's default: \
                     every later request is answered 503 without calling the module, so the \
                     cell stops here; --failure-policy reload measures on with fresh \
                     instances): {error}"
                )
            } else if timed.traps > 0 {
                format!(
                    "during measurement: {} trap(s), each instance replaced by a fresh one{}; last: {error}",
                    timed.traps,
                    if timed.traps >= measure::MAX_TRAPS {
                        " until the cell was given up"
                    } else {
                        ""
                    }
                )
            } else {
                format!("during measurement: {error}")
            });
            cell.error_kind = Some(error.kind().to_owned());
        }
        cell.steady = stats::summarize_histogram(&timed.histogram).map(|wall| {
            Steady::unanalysed(
                wall,
                stats::encode_histogram(&timed.histogram),
                timed.rounds,
            )
        });
    }
}

fn module_record(subject: &Subject) -> ModuleRecord {
    let size = |path: &Option<std::path::PathBuf>| {
        path.as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    };
    ModuleRecord {
        filter: subject.filter.name.to_owned(),
        wasm_bytes: size(&subject.source.wasm),
        native_bytes: size(&subject.source.native),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed_cell(engine: &str, lines: &[&str]) -> Cell {
        let workload = catalog::workload("get-small").unwrap();
        let filter = catalog::user_module(
            "own",
            String::new(),
            String::new(),
            Default::default(),
            vec!["get-small"],
            Vec::new(),
        );
        let mut cell = new_cell(&filter, engine, &workload);
        cell.conformance = Conformance::Observed;
        cell.observed = lines.iter().map(|l| (*l).to_owned()).collect();
        cell
    }

    #[test]
    fn engines_whose_effects_differ_from_the_reference_fail() {
        let exchange = catalog::workload("get-small").unwrap().exchange;
        let checked = |engine: &str, native: bool, lines: &[&str]| Checked {
            cell: observed_cell(engine, lines),
            instance: None,
            module: None,
            exchange: &exchange,
            native,
        };
        let mut cells = vec![
            checked(
                "a",
                false,
                &["local response: none", "request header: x: 1"],
            ),
            checked(
                "native",
                true,
                &["local response: none", "request header: x: 1"],
            ),
            checked(
                "b",
                false,
                &["local response: none", "request header: x: 2"],
            ),
        ];
        compare_observations(&mut cells);
        assert_eq!(cells[0].cell.conformance, Conformance::Observed);
        assert_eq!(cells[1].cell.conformance, Conformance::Observed);
        assert_eq!(cells[2].cell.conformance, Conformance::Fail);
        assert_eq!(
            cells[2].cell.diff,
            [
                "native has, this engine not: request header: x: 1",
                "this engine has, native not: request header: x: 2",
                VOLATILE_HINT
            ]
        );
    }

    #[test]
    fn without_native_the_first_engine_is_the_reference() {
        let exchange = catalog::workload("get-small").unwrap().exchange;
        let checked = |engine: &str, value: &str| Checked {
            cell: observed_cell(engine, &[&format!("request header: x: {value}")]),
            instance: None,
            module: None,
            exchange: &exchange,
            native: false,
        };
        let mut cells = vec![checked("a", "1"), checked("b", "2"), checked("c", "2")];
        compare_observations(&mut cells);
        let outcomes: Vec<_> = cells.iter().map(|c| c.cell.conformance).collect();
        assert_eq!(
            outcomes,
            [Conformance::Observed, Conformance::Fail, Conformance::Fail]
        );
        assert_eq!(
            cells[1].cell.diff[0],
            "a has, this engine not: request header: x: 1"
        );
    }
}
