//! A whole run: for every (filter, engine, workload) load, start and conformance-check the
//! filter, then measure every conformant cell interleaved, and assemble `Results`.
//! A cell that fails never stops the others.

use crate::artifacts::{self, BuildError};
use crate::catalog::{self, FilterSpec};
use crate::conformance;
use crate::environment;
use crate::measure::{self, MeasureSettings, TimedCell};
use crate::phases;
use crate::results::{
    Cell, Conformance, EngineRecord, ModuleRecord, Results, SCHEMA_VERSION, Settings, Steady, Tool,
};
use crate::{analysis, stats};
use filterbench_host::{
    Engine, FilterError, FilterInstance, LoadedModule, ModuleSource, PluginSpec,
};

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
                source: artifacts::ensure_built_filter(f)?,
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
        match artifacts::ensure_built_filter(f) {
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
}

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

/// The plugin (configuration) of a subject.
pub fn plugin_for(filter: &FilterSpec) -> PluginSpec {
    PluginSpec {
        upstreams: std::sync::Arc::new(filter.upstreams.clone()),
        vm_configuration: filter.vm_config.clone().into_bytes(),
        memory_limit_bytes: filter.memory_limit_bytes,
        ..PluginSpec::new(filter.name, filter.plugin_config.clone().into_bytes())
    }
}

/// Instantiates and starts a module for a filter.
pub fn start_instance(
    module: &dyn LoadedModule,
    filter: &FilterSpec,
) -> Result<Box<dyn FilterInstance>, FilterError> {
    let mut instance = module.instantiate(plugin_for(filter))?;
    instance.start()?;
    Ok(instance)
}

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
    let outcome = match &expected {
        Some(expected) => {
            conformance::run_and_check(instance.as_mut(), &workload.exchange, expected)
        }
        None => instance.run_stream(&workload.exchange).map(|()| Vec::new()),
    };
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
            cell.conformance = Conformance::Observed;
            cell.observed = conformance::observe(instance.state());
            Some(instance)
        }
        Ok(_) => Some(instance),
    }
}

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
            .filter(|c| same(c))
            .max_by_key(|c| c.native)
            .map(|c| (c.cell.engine.clone(), c.cell.observed.clone()));
        let Some((reference_engine, reference)) = reference else {
            continue;
        };
        for c in checked.iter_mut().filter(|c| same(c)) {
            let diff =
                conformance::diff_observations(&reference_engine, &reference, &c.cell.observed);
            if !diff.is_empty() {
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
        steady: None,
        ratio_to_native: None,
        verdict_vs_native: None,
        cpu_ratio_to_native: None,
        ratio_to_fastest: None,
        noisy: false,
        instructions: None,
        instructions_error: None,
        traps: 0,
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

/// Whether `subject` runs on workload `w` in this run.
fn runs_on(subject: &Subject, selected: &Option<Vec<String>>, w: &catalog::Workload) -> bool {
    match selected {
        Some(selected) => {
            selected.iter().any(|s| s == w.name)
                && (subject.filter.workloads.is_empty() || (subject.filter.expect)(w).is_some())
        }
        None => subject.filter.workloads.contains(&w.name),
    }
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
    let workloads = catalog::workloads();
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
    let cpu = measure::CpuPin::default_cpu();
    let pin = measure::CpuPin::to(cpu);
    let pinned_cpu = pin.as_ref().map(|_| cpu as u32);
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
        },
        cells: Vec::new(),
        phases: Vec::new(),
        summary: Default::default(),
        envoy: None,
    };
    let all_workloads = catalog::workloads();
    let mut engine_names: Vec<&str> = engines.iter().map(|e| e.name.as_str()).collect();
    engine_names.extend(settings.unavailable.iter().map(|(n, _)| n.as_str()));

    // The skeleton first: the output is known writable, and a watchdog has something to extend.
    on_progress(&results);
    for subject in subjects {
        let workloads: Vec<&catalog::Workload> = all_workloads
            .iter()
            .filter(|w| runs_on(subject, &settings.workloads, w))
            .collect();
        if let Some(previous) = previous
            && already_done(previous, subject, &engine_names, &workloads)
        {
            let name = subject.filter.name;
            results.cells.extend(
                previous
                    .cells
                    .iter()
                    .filter(|c| c.filter == name && engine_names.contains(&c.engine.as_str()))
                    .cloned(),
            );
            results.phases.extend(
                previous
                    .phases
                    .iter()
                    .filter(|p| p.filter == name && engine_names.contains(&p.engine.as_str()))
                    .cloned(),
            );
            continue;
        }
        run_subject(
            subject,
            &workloads,
            engines,
            settings,
            overhead_ns,
            &mut results,
            observe,
        );
        let mut snapshot = results.clone();
        analysis::analyze(&mut snapshot);
        on_progress(&snapshot);
    }
    analysis::analyze(&mut results);
    results
}

/// Checks and measures one filter on every engine, appending its cells and phases.
fn run_subject(
    subject: &Subject,
    workloads: &[&catalog::Workload],
    engines: &[EngineSlot],
    settings: &RunSettings,
    overhead_ns: u64,
    results: &mut Results,
    observe: &mut dyn FnMut(Event<'_>),
) {
    let first_cell = results.cells.len();
    let runaway = settings
        .preflight
        .as_ref()
        .and_then(|p| preflight(p, subject, workloads).map(|e| (p.0.info().name, e)));
    #[allow(clippy::type_complexity)]
    let mut timed: Vec<(
        usize,
        Box<dyn FilterInstance>,
        std::rc::Rc<dyn LoadedModule>,
        &filterbench_host::HttpExchange,
    )> = Vec::new();
    let mut checked: Vec<Checked<'_>> = Vec::new();
    for slot in engines {
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
                let mut cell = new_cell(&subject.filter, &slot.name, workload);
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
            }
            continue;
        }
        let load = phases::timed_load(slot.engine.as_ref(), &subject.source);
        observe(Event::Phases {
            filter: subject.filter.name,
            engine: &slot.name,
        });
        results.phases.push(phases::measure(
            slot.engine.as_ref(),
            &subject.source,
            &subject.filter,
            workloads.first().copied(),
            &load,
            &settings.measure,
        ));
        let module: Result<std::rc::Rc<dyn LoadedModule>, FilterError> =
            load.module.map(std::rc::Rc::from);
        for workload in workloads {
            let mut cell = new_cell(&subject.filter, &slot.name, workload);
            let started = module
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|m| start_instance(m.as_ref(), &subject.filter));
            let instance = match started {
                Err(error) => {
                    error_cell(&mut cell, &error);
                    None
                }
                Ok(instance) => check_cell(&mut cell, instance, &subject.filter, workload),
            };
            checked.push(Checked {
                cell,
                instance,
                module: module.as_ref().ok().cloned(),
                exchange: &workload.exchange,
                native: slot.is_native,
            });
        }
    }
    compare_observations(&mut checked);
    for Checked {
        cell,
        instance,
        module,
        exchange,
        ..
    } in checked
    {
        observe(Event::Checked { cell: &cell });
        if let (Some(instance), Some(module)) = (instance, module) {
            timed.push((results.cells.len(), instance, module, exchange));
        }
        results.cells.push(cell);
    }
    for (engine, reason) in &settings.unavailable {
        for workload in workloads {
            let mut cell = new_cell(&subject.filter, engine, workload);
            cell.conformance = Conformance::Error;
            cell.error = Some(format!("engine '{engine}' is unavailable: {reason}"));
            cell.error_kind = Some("unavailable".to_owned());
            observe(Event::Checked { cell: &cell });
            results.cells.push(cell);
        }
    }
    debug_assert!(timed.iter().all(|(i, ..)| *i >= first_cell));

    let filter = &subject.filter;
    let (indices, mut timed_cells): (Vec<usize>, Vec<TimedCell<'_>>) = timed
        .into_iter()
        .map(|(i, instance, module, exchange)| {
            let respawn = move || start_instance(module.as_ref(), filter);
            (
                i,
                TimedCell::new(instance, exchange).with_respawn(Box::new(respawn)),
            )
        })
        .unzip();
    measure::measure(
        &mut timed_cells,
        &settings.measure,
        overhead_ns,
        &mut |done, total| {
            observe(Event::Measuring {
                filter: subject.filter.name,
                done,
                total,
            })
        },
    );
    for (i, timed) in indices.into_iter().zip(timed_cells) {
        let cell = &mut results.cells[i];
        cell.traps = timed.traps;
        if let Some(error) = &timed.error {
            cell.error = Some(if timed.traps > 0 {
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
        cell.steady = stats::summarize_histogram(&timed.histogram).map(|wall| Steady {
            wall,
            histogram: stats::encode_histogram(&timed.histogram),
            rounds: timed.rounds,
            median: None,
            p90: None,
            p99: None,
            p999: None,
            cpu: None,
            round_cv: 0.0,
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
        let filter = catalog::user_module("own", String::new(), String::new(), vec!["get-small"]);
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
                "this engine has, native not: request header: x: 2"
            ]
        );
    }
}
