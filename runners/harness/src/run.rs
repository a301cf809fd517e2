//! A whole run: for every (filter, engine, workload) load, start and conformance-check the
//! filter, then measure every conformant cell interleaved, and assemble `Results`.
//! A cell that fails never stops the others.

use crate::artifacts::{self, BuildError};
use crate::catalog::{self, FilterSpec};
use crate::conformance;
use crate::environment;
use crate::measure::{self, MeasureSettings, TimedCell};
use crate::results::{Cell, Conformance, EngineRecord, Results, SCHEMA_VERSION, Settings, Tool};
use crate::stats;
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
                source: artifacts::ensure_built(f.crate_name)?,
            })
        })
        .collect()
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
}

/// What the run is doing, for progress displays.
#[derive(Debug)]
pub enum Event<'a> {
    /// A cell's conformance check finished.
    Checked {
        /// The cell so far.
        cell: &'a Cell,
    },
    /// Measurement progress: `done` of `total` steps.
    Measuring {
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
        steady: None,
        ratio_to_native: None,
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
    let overhead_ns = measure::timer_overhead_ns();
    let infos: Vec<_> = engines.iter().map(|e| e.engine.info()).collect();
    let environment = environment::fingerprint(&infos, overhead_ns);
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
    let all_workloads = catalog::workloads();
    let mut cells: Vec<Cell> = Vec::new();
    let mut timed: Vec<(
        usize,
        Box<dyn FilterInstance>,
        &filterbench_host::HttpExchange,
    )> = Vec::new();

    for subject in subjects {
        let workloads: Vec<&catalog::Workload> = all_workloads
            .iter()
            .filter(|w| match &settings.workloads {
                Some(selected) => {
                    selected.iter().any(|s| s == w.name) && (subject.filter.expect)(w).is_some()
                }
                None => subject.filter.workloads.contains(&w.name),
            })
            .collect();
        for slot in engines {
            let module = slot.engine.load(&subject.source);
            for workload in &workloads {
                let mut cell = new_cell(&subject.filter, &slot.name, workload);
                let started = module
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|m| start_instance(m.as_ref(), &subject.filter));
                match started {
                    Err(error) => error_cell(&mut cell, &error),
                    Ok(mut instance) => {
                        // No stated expectation: the stream must still run; its effects are not checked.
                        let expected = (subject.filter.expect)(workload).unwrap_or_default();
                        match conformance::run_and_check(
                            instance.as_mut(),
                            &workload.exchange,
                            &expected,
                        ) {
                            Err(error) => error_cell(&mut cell, &error),
                            Ok(diff) if !diff.is_empty() => {
                                cell.conformance = Conformance::Fail;
                                cell.diff = diff;
                            }
                            Ok(_) => timed.push((cells.len(), instance, &workload.exchange)),
                        }
                    }
                }
                observe(Event::Checked { cell: &cell });
                cells.push(cell);
            }
        }
        for (engine, reason) in &settings.unavailable {
            for workload in &workloads {
                let mut cell = new_cell(&subject.filter, engine, workload);
                cell.conformance = Conformance::Error;
                cell.error = Some(format!("engine '{engine}' is unavailable: {reason}"));
                cell.error_kind = Some("unavailable".to_owned());
                observe(Event::Checked { cell: &cell });
                cells.push(cell);
            }
        }
    }

    let (indices, mut timed_cells): (Vec<usize>, Vec<TimedCell<'_>>) = timed
        .into_iter()
        .map(|(i, instance, exchange)| (i, TimedCell::new(instance, exchange)))
        .unzip();
    measure::measure(
        &mut timed_cells,
        &settings.measure,
        overhead_ns,
        &mut |done, total| observe(Event::Measuring { done, total }),
    );
    for (i, timed) in indices.into_iter().zip(timed_cells) {
        let cell = &mut cells[i];
        if let Some(error) = &timed.error {
            cell.error = Some(format!("during measurement: {error}"));
            cell.error_kind = Some(error.kind().to_owned());
        }
        cell.steady = stats::summarize(&timed.samples);
    }
    fill_ratios(&mut cells, engines);

    Results {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "filterbench".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        environment,
        engines: engine_records,
        settings: Settings {
            quick: settings.quick,
            warmup_ms: settings.measure.warmup.as_millis() as u64,
            rounds: settings.measure.rounds,
            slice_ms: settings.measure.slice.as_millis() as u64,
        },
        cells,
    }
}

/// Sets `ratio_to_native` = median / native median for the same filter and workload.
fn fill_ratios(cells: &mut [Cell], engines: &[EngineSlot]) {
    let native: Vec<&str> = engines
        .iter()
        .filter(|e| e.is_native)
        .map(|e| e.name.as_str())
        .collect();
    let baselines: Vec<(String, String, f64)> = cells
        .iter()
        .filter(|c| native.contains(&c.engine.as_str()))
        .filter_map(|c| {
            Some((
                c.filter.clone(),
                c.workload.clone(),
                c.steady.as_ref()?.median_ns,
            ))
        })
        .collect();
    for cell in cells
        .iter_mut()
        .filter(|c| !native.contains(&c.engine.as_str()))
    {
        let Some(median) = cell.steady.as_ref().map(|s| s.median_ns) else {
            continue;
        };
        cell.ratio_to_native = baselines
            .iter()
            .find(|(f, w, _)| *f == cell.filter && *w == cell.workload)
            .filter(|(_, _, base)| *base > 0.0)
            .map(|(_, _, base)| (median / base * 1000.0).round() / 1000.0);
    }
}
