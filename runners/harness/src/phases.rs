//! Start-up phases of one (filter, engine): compile, load from the engine's serialized artifact,
//! instantiate (+ `proxy_on_vm_start` + `proxy_on_configure`), the first request on a fresh
//! instance, and memory per live instance.

use crate::catalog::start_instance;
use crate::catalog::{FilterSpec, Workload};
use crate::measure::MeasureSettings;
use crate::results::{MemoryUse, PhaseRecord, PhaseTiming};
use filterbench_host::{Engine, FilterError, FilterInstance, LoadedModule, ModuleSource};
use std::time::Instant;

/// A module loaded once, with how long the load took.
pub struct TimedLoad {
    /// The module, or why it could not be loaded.
    pub module: Result<Box<dyn LoadedModule>, FilterError>,
    /// Wall time of the load, ns.
    pub compile_ns: f64,
}

/// Loads (compiles) `source` on `engine`, timing it.
pub fn timed_load(engine: &dyn Engine, source: &ModuleSource) -> TimedLoad {
    let start = Instant::now();
    let module = engine.load(source);
    TimedLoad {
        compile_ns: start.elapsed().as_nanos() as f64,
        module,
    }
}

/// Resident set size of this process, bytes (0 when unknown).
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn elapsed_ns(start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64
}

/// Compiling again stops once the compiles so far took this long, ns: more samples of a compile
/// that takes seconds (WAMR's LLVM modes on a Go module: over a minute) add run time, not
/// precision.
pub const COMPILE_BUDGET_NS: f64 = 10e9;

/// Measures every start-up phase of a loaded module. `first` is the load already made (its
/// time is the first compile sample); more compiles are made per `settings.compile_samples`,
/// while the compiles so far took less than [`COMPILE_BUDGET_NS`].
pub fn measure(
    engine: &dyn Engine,
    source: &ModuleSource,
    filter: &FilterSpec,
    workload: Option<&Workload>,
    first: &TimedLoad,
    settings: &MeasureSettings,
) -> PhaseRecord {
    let mut record = PhaseRecord {
        filter: filter.name.to_owned(),
        engine: engine.info().name,
        compile: None,
        cache_load: None,
        serialized_bytes: None,
        cache_load_unsupported: None,
        instantiate: None,
        first_request: None,
        memory: None,
        error: None,
    };
    let module = match &first.module {
        Ok(module) => module,
        Err(error) => {
            record.error = Some(error.to_string());
            return record;
        }
    };
    let mut compiles = vec![first.compile_ns];
    for _ in 1..settings.compile_samples {
        if compiles.iter().sum::<f64>() >= COMPILE_BUDGET_NS {
            break;
        }
        let again = timed_load(engine, source);
        if again.module.is_ok() {
            compiles.push(again.compile_ns);
        }
    }
    record.compile = PhaseTiming::from_samples(compiles);
    measure_cache_load(engine, source, module.as_ref(), settings, &mut record);
    if let Err(error) = measure_instances(module.as_ref(), filter, workload, settings, &mut record)
    {
        record.error = Some(error.to_string());
    }
    record
}

fn measure_cache_load(
    engine: &dyn Engine,
    source: &ModuleSource,
    module: &dyn LoadedModule,
    settings: &MeasureSettings,
    record: &mut PhaseRecord,
) {
    let artifact = match module.serialize() {
        Ok(artifact) => artifact,
        Err(reason) => {
            record.cache_load_unsupported = Some(reason);
            return;
        }
    };
    record.serialized_bytes = Some(artifact.len() as u64);
    let mut samples = Vec::new();
    for _ in 0..settings.compile_samples.max(3) {
        let start = Instant::now();
        match engine.load_serialized(source, &artifact) {
            Ok(_) => samples.push(elapsed_ns(start)),
            Err(error) => {
                record.cache_load_unsupported = Some(error.to_string());
                return;
            }
        }
    }
    record.cache_load = PhaseTiming::from_samples(samples);
}

/// Creates `phase_samples` instances, keeping them all alive: instantiate and first-request
/// times per instance, and the growth of the resident set per instance.
fn measure_instances(
    module: &dyn LoadedModule,
    filter: &FilterSpec,
    workload: Option<&Workload>,
    settings: &MeasureSettings,
    record: &mut PhaseRecord,
) -> Result<(), FilterError> {
    let count = settings.phase_samples.max(1);
    let mut instances: Vec<Box<dyn FilterInstance>> = Vec::with_capacity(count as usize);
    let (mut instantiate, mut first_request) = (Vec::new(), Vec::new());
    let rss_before = resident_bytes();
    for _ in 0..count {
        let start = Instant::now();
        let mut instance = start_instance(module, filter)?;
        instantiate.push(elapsed_ns(start));
        if let Some(workload) = workload {
            let start = Instant::now();
            instance.run_stream(&workload.exchange)?;
            first_request.push(elapsed_ns(start));
        }
        instances.push(instance);
    }
    let rss_after = resident_bytes();
    record.instantiate = PhaseTiming::from_samples(instantiate);
    record.first_request = PhaseTiming::from_samples(first_request);
    record.memory = Some(MemoryUse {
        instances: count,
        linear_memory_bytes: instances.first_mut().and_then(|i| i.linear_memory_bytes()),
        rss_bytes_per_instance: rss_after.saturating_sub(rss_before) as f64 / f64::from(count),
    });
    Ok(())
}
