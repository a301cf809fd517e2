//! `results.json`: the project's own versioned results schema (documented in
//! `docs/results.md`, JSON Schema in `docs/results.schema.json`). Later versions add fields;
//! they never rename or remove these.

use crate::environment::Environment;
use crate::stats::{Estimate, Origin, SampleSummary, Verdict};
use filterbench_host::EngineInfo;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the schema written by this build.
pub const SCHEMA_VERSION: u32 = 6;

/// Outcome of the conformance check of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Conformance {
    /// The filter had exactly the expected effects; the cell was timed.
    Pass,
    /// The filter ran but its effects differ (see `diff`); not timed.
    Fail,
    /// The filter could not be loaded or run (see `error`); not timed.
    Error,
    /// No expectation was stated (a user's own module): the stream ran, its effects (see
    /// `observed`) are the same as on the reference engine, and the cell was timed.
    Observed,
    /// Not a filter run: the host floor (the lifecycle with no guest), timed to measure the
    /// host's own per-stream work; nothing to check.
    Calibration,
}

/// One (filter, engine, workload) combination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cell {
    /// Filter name.
    pub filter: String,
    /// Engine configuration name.
    pub engine: String,
    /// Workload name.
    pub workload: String,
    /// Conformance outcome.
    pub conformance: Conformance,
    /// Error message when `conformance` is `error` (or when measurement failed later).
    pub error: Option<String>,
    /// Machine-readable error kind (e.g. `trap`, `not_wasm`), when there is an error.
    pub error_kind: Option<String>,
    /// Differences from the expected effects when `conformance` is `fail`.
    pub diff: Vec<String>,
    /// For modules without stated expectations: the effects seen on this engine, one per line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<String>,
    /// For modules without stated expectations: the module's log as it started and served the
    /// first request, `[Level] message` per line (its last 20 lines, each at most 200
    /// characters). Recorded, not compared across engines (it may hold times).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// Steady-state lifecycle timing (null when not measured).
    pub steady: Option<Steady>,
    /// Median wall time of this cell divided by native's for the same filter and workload, with
    /// a 95% interval from rounds paired in time (null for native or when either is missing).
    pub ratio_to_native: Option<Estimate>,
    /// What `ratio_to_native`'s interval says: `faster`, `slower` or `inconclusive`.
    pub verdict_vs_native: Option<Verdict>,
    /// The same ratio on thread CPU time per lifecycle.
    #[serde(default)]
    pub cpu_ratio_to_native: Option<Estimate>,
    /// Median wall time divided by the fastest WebAssembly engine's for the same filter and
    /// workload (1 for that engine itself; null for native).
    #[serde(default)]
    pub ratio_to_fastest: Option<Estimate>,
    /// Two-sided bootstrap p-value of `ratio_to_native` against 1 (before the run-wide
    /// Benjamini–Hochberg correction that `verdict_vs_native` applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_p_value: Option<f64>,
    /// The cell's cost above the host floor over native's: `(cell − floor) ÷ (native − floor)`
    /// per round (both in the same round), median over rounds, 95% interval. What the engine
    /// adds, with the host's own per-stream work taken out of both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_above_floor: Option<Estimate>,
    /// Median wall time above the host floor of the same round, ns, 95% interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_above_floor_ns: Option<Estimate>,
    /// Whether this cell's ratio interval is wider than the run's noise threshold (twice the
    /// median half-width of the run's A/A intervals, at least 2%): its figures are imprecise.
    #[serde(default)]
    pub noisy: bool,
    /// Why this figure cannot be taken at face value (a WebAssembly cell faster than native
    /// code of the same source); shown in tables, never turned into a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implausible: Option<String>,
    /// Set when the A/A interval of this cell's filter and workload excludes 1 by more than
    /// 2%: the run could not tell native code from itself there, so its ratios are unreliable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreliable: bool,
    /// Rounds the comparisons with the baseline were estimated from: those in which the
    /// machine was in its fast state (see `summary.speed`). Null when all rounds were used (no
    /// canary, or too few fast rounds: then `mixed_state` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_rounds: Option<usize>,
    /// Set when too few of this cell's rounds ran in the machine's fast state to estimate its
    /// comparisons from them alone: they mix the machine's states, which move ratios.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mixed_state: bool,
    /// Instructions per lifecycle counted under callgrind (`--measure instructions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionCount>,
    /// Why instructions could not be counted for this cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions_error: Option<String>,
    /// Callbacks that trapped during measurement; each instance was discarded and a fresh one
    /// took over (as Envoy restarts a VM).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub traps: u32,
    /// The cell's requests stopped taking the path its first request took (a rate limiter that
    /// starts to answer 429): its times mix two paths. Checked on an untimed request at each
    /// block boundary and at the end of the measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_changed: Option<PathChange>,
    /// On a virtual clock (a spec's `clock.request_interval_ms`): the ticks the module's
    /// instances fired while measured, and the requests they served meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticks: Option<TickCount>,
    /// Callbacks the host made into the module while serving the checked first request
    /// (recorded for the price-list probes: the empty callback's price is per callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_callbacks: Option<u64>,
}

/// Ticks (`proxy_on_tick`) fired while a cell was measured on a virtual clock; each is part
/// of the timed lifecycle it preceded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TickCount {
    /// Ticks fired.
    pub fired: u64,
    /// Requests served by the same instances (warm-up, timed and checks).
    pub requests: u64,
}

/// Where a timed cell left the path of its first request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PathChange {
    /// Requests the instance had served when the change was seen (the change happened at or
    /// before this one, after the instance's previous check).
    pub after_requests: u64,
    /// How the path differs: `first: …` lines of the first request the later one lacks,
    /// `later: …` lines it has instead.
    pub diff: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Steady-state measurement of one cell: every lifecycle after warm-up, in interleaved rounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Steady {
    /// All samples pooled (HdrHistogram): percentiles and the spectrum, wall time, ns.
    pub wall: SampleSummary,
    /// The pooled histogram, HdrHistogram V2 + DEFLATE, base64 (lets runs be merged exactly).
    pub histogram: String,
    /// One entry per round: the statistics every interval is computed from.
    pub rounds: RoundSeries,
    /// Median wall time, ns: median over rounds of each round's median, with its 95% interval.
    pub median: Option<Estimate>,
    /// 90th percentile, ns (median over rounds, 95% interval).
    pub p90: Option<Estimate>,
    /// 99th percentile, ns (median over rounds, 95% interval).
    pub p99: Option<Estimate>,
    /// 99.9th percentile, ns (median over rounds, 95% interval).
    pub p999: Option<Estimate>,
    /// Thread CPU time per lifecycle, ns (median over rounds, 95% interval).
    pub cpu: Option<Estimate>,
    /// Coefficient of variation of the round medians (drift between rounds).
    pub round_cv: f64,
}

impl Steady {
    /// A measurement whose estimates are not computed yet (the analysis fills them in).
    pub fn unanalysed(wall: SampleSummary, histogram: String, rounds: RoundSeries) -> Self {
        Self {
            wall,
            histogram,
            rounds,
            median: None,
            p90: None,
            p99: None,
            p999: None,
            cpu: None,
            round_cv: 0.0,
        }
    }
}

/// Per-round statistics of a cell, one element per round, in run order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoundSeries {
    /// Lifecycles timed in the round.
    pub lifecycles: Vec<u64>,
    /// Median wall time of the round, ns.
    pub p50_ns: Vec<f64>,
    /// 90th percentile of the round, ns.
    pub p90_ns: Vec<f64>,
    /// 99th percentile of the round, ns.
    pub p99_ns: Vec<f64>,
    /// 99.9th percentile of the round, ns.
    pub p999_ns: Vec<f64>,
    /// Thread CPU time of the round divided by its lifecycles, ns.
    pub cpu_ns: Vec<f64>,
    /// Round id of each entry (0-based, in run order; ids repeat across the runs of a merged
    /// file, whose blocks differ). Cells of one filter measured together share round ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round: Vec<u32>,
    /// Block of each round: the instance (and module load) that served it. A merged file
    /// numbers the blocks of each process anew, so block ids are unique within a file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block: Vec<u32>,
    /// Measuring process of each round (0-based, in run order): a standard run is split over
    /// several processes, merged into one file. Processes, then blocks, are the outer levels
    /// of every bootstrap. Absent: all rounds ran in one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<u32>,
    /// When the cell's (first) slice of the round started, ms since its measurement began.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub started_ms: Vec<f64>,
    /// The canary loop's time at the start of the round, ns: the machine's speed state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_ns: Vec<f64>,
    /// The memory canary at the start of the round, ns per dependent load through a buffer
    /// larger than the cache: the memory system's state (a neighbour's cache or bandwidth use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory_canary_ns: Vec<f64>,
    /// For a paired cell: its baseline's median in the slice right next to this cell's, ns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_p50_ns: Vec<f64>,
    /// For a paired cell: its baseline's thread CPU time per lifecycle in that slice, ns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_cpu_ns: Vec<f64>,
    /// For a paired cell: when that baseline slice started, ms (as `started_ms`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_started_ms: Vec<f64>,
}

impl RoundSeries {
    /// Appends the rounds of `other` (a later process of the same cell), numbering its blocks
    /// from `block_offset` and its processes from `process_offset` (the same offsets for every
    /// cell of that file keep their rounds aligned).
    pub fn extend(&mut self, other: &RoundSeries, block_offset: u32, process_offset: u32) {
        let offset = block_offset;
        // Rounds of a file without process ids all ran in its first process.
        let (mine, theirs) = (self.processes(), other.processes());
        self.process = mine
            .into_iter()
            .chain(theirs.into_iter().map(|p| p + process_offset))
            .collect();
        self.lifecycles.extend(&other.lifecycles);
        self.p50_ns.extend(&other.p50_ns);
        self.p90_ns.extend(&other.p90_ns);
        self.p99_ns.extend(&other.p99_ns);
        self.p999_ns.extend(&other.p999_ns);
        self.cpu_ns.extend(&other.cpu_ns);
        self.block.extend(other.block.iter().map(|b| b + offset));
        self.round.extend(&other.round);
        self.started_ms.extend(&other.started_ms);
        self.canary_ns.extend(&other.canary_ns);
        self.memory_canary_ns.extend(&other.memory_canary_ns);
        self.baseline_p50_ns.extend(&other.baseline_p50_ns);
        self.baseline_cpu_ns.extend(&other.baseline_cpu_ns);
        self.baseline_started_ms.extend(&other.baseline_started_ms);
    }

    /// Number of rounds.
    pub fn len(&self) -> usize {
        self.p50_ns.len()
    }

    /// Whether there are no rounds.
    pub fn is_empty(&self) -> bool {
        self.p50_ns.is_empty()
    }

    /// Whether each round holds a paired observation (this cell and its baseline back to back).
    pub fn is_paired(&self) -> bool {
        !self.p50_ns.is_empty() && self.baseline_p50_ns.len() == self.p50_ns.len()
    }

    /// The (block, round id) of each entry (`(0, index)` for files written before both were
    /// recorded): the key that aligns the rounds of cells measured together.
    pub fn keys(&self) -> Vec<(u32, u32)> {
        let blocks = self.blocks();
        if self.round.len() == self.p50_ns.len() {
            blocks.into_iter().zip(self.round.iter().copied()).collect()
        } else {
            blocks.into_iter().zip(0..).collect()
        }
    }

    /// The block of each round (all one block for files written before blocks existed).
    pub fn blocks(&self) -> Vec<u32> {
        if self.block.len() == self.p50_ns.len() {
            self.block.clone()
        } else {
            vec![0; self.p50_ns.len()]
        }
    }

    /// The process of each round (all process 0 when not recorded).
    pub fn processes(&self) -> Vec<u32> {
        if self.process.len() == self.p50_ns.len() {
            self.process.clone()
        } else {
            vec![0; self.p50_ns.len()]
        }
    }

    /// The process and block of each round: the outer levels of the bootstrap.
    pub fn origins(&self) -> Vec<Origin> {
        self.processes()
            .into_iter()
            .zip(self.blocks())
            .map(|(p, b)| Origin::new(p, b))
            .collect()
    }
}

/// Instructions counted under callgrind for one cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InstructionCount {
    /// Instructions per lifecycle (total counted / lifecycles).
    pub per_lifecycle: f64,
    /// Lifecycles counted.
    pub lifecycles: u64,
    /// `per_lifecycle` divided by native's for the same filter and workload.
    pub ratio_to_native: Option<f64>,
}

/// Timings of one start-up phase, ns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseTiming {
    /// Every sample, ns, in the order taken.
    pub samples_ns: Vec<f64>,
    /// Median, ns.
    pub median_ns: f64,
    /// Smallest sample, ns.
    pub min_ns: f64,
    /// Largest sample, ns.
    pub max_ns: f64,
}

impl PhaseTiming {
    /// Summarizes samples (ns); `None` when there are none.
    pub fn from_samples(samples_ns: Vec<f64>) -> Option<Self> {
        if samples_ns.is_empty() {
            return None;
        }
        let min_ns = samples_ns.iter().copied().fold(f64::INFINITY, f64::min);
        let max_ns = samples_ns.iter().copied().fold(0.0, f64::max);
        Some(Self {
            median_ns: crate::stats::median(&samples_ns),
            min_ns,
            max_ns,
            samples_ns,
        })
    }

    /// Merges the samples of two runs.
    pub fn merged(a: &Option<Self>, b: &Option<Self>) -> Option<Self> {
        let samples: Vec<f64> = [a, b]
            .into_iter()
            .flatten()
            .flat_map(|p| p.samples_ns.iter().copied())
            .collect();
        Self::from_samples(samples)
    }
}

/// Memory taken by instances of a module.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryUse {
    /// Instances that were alive at once for the measurement.
    pub instances: u32,
    /// Linear memory of one instance after start-up and one request, bytes (null for native).
    pub linear_memory_bytes: Option<u64>,
    /// Growth of the process's resident set per live instance, bytes.
    pub rss_bytes_per_instance: f64,
}

/// Start-up phases of one (filter, engine): everything before the steady state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseRecord {
    /// Filter name.
    pub filter: String,
    /// Engine configuration name.
    pub engine: String,
    /// Bytes → ready module (read, validate, compile, link), ns.
    pub compile: Option<PhaseTiming>,
    /// Ready module from the engine's serialized artifact, ns (null where the engine has none).
    pub cache_load: Option<PhaseTiming>,
    /// Size of the serialized artifact, bytes.
    pub serialized_bytes: Option<u64>,
    /// Why there is no `cache_load` for this engine.
    pub cache_load_unsupported: Option<String>,
    /// New instance + `proxy_on_vm_start` + `proxy_on_configure`, ns.
    pub instantiate: Option<PhaseTiming>,
    /// First full stream lifecycle on a fresh instance, ns.
    pub first_request: Option<PhaseTiming>,
    /// Memory per instance.
    pub memory: Option<MemoryUse>,
    /// Why a phase could not be measured.
    pub error: Option<String>,
}

/// One module of the run and its artifact sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleRecord {
    /// Filter name, as in `cells[].filter`.
    pub filter: String,
    /// Size of the `.wasm`, bytes (null when there is none).
    pub wasm_bytes: Option<u64>,
    /// Size of the native library, bytes (null when there is none).
    pub native_bytes: Option<u64>,
}

/// One engine configuration of the run: exactly what ran (or why it could not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineRecord {
    /// Selectable name, as in `cells[].engine`.
    pub name: String,
    /// Engine family (`wasmtime`, `wasmer`, `wasmi`, `wamr`, `native`, …).
    pub family: String,
    /// Version of the engine crate or library (null when unavailable).
    pub version: Option<String>,
    /// How code runs: `cranelift`, `winch`, `pulley`, `singlepass`, `llvm`, `interpreter`,
    /// `fast-interpreter`, `native` (null when unavailable).
    pub compiler: Option<String>,
    /// Switches beyond the engine's defaults, e.g. `fuel`, `pooling`.
    pub options: Vec<String>,
    /// One line on what it is.
    pub description: String,
    /// Why this build could not run it (null when it ran).
    pub unavailable: Option<String>,
}

impl EngineRecord {
    /// The record of an engine that ran.
    pub fn from_info(info: &EngineInfo) -> Self {
        Self {
            name: info.name.clone(),
            family: info.family.clone(),
            version: Some(info.version.clone()),
            compiler: Some(info.compiler.clone()),
            options: info.options.clone(),
            description: info.description.clone(),
            unavailable: None,
        }
    }

    /// The records of the calibration cells every run with native code has: the host floor
    /// and native code's A/A twin.
    pub fn calibration_records() -> [Self; 2] {
        let record = |name: &str, family: &str, compiler: &str, description: &str| Self {
            name: name.to_owned(),
            family: family.to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            compiler: Some(compiler.to_owned()),
            options: Vec::new(),
            description: description.to_owned(),
            unavailable: None,
        };
        [
            record(
                filterbench_host::FLOOR_ENGINE,
                "calibration",
                "none",
                "host floor: the same stream lifecycle with callbacks that return at once, no guest",
            ),
            record(
                AA_ENGINE,
                "calibration",
                "native",
                "A/A: a second, independent instance of native code, compared with native code",
            ),
        ]
    }

    /// The record of an engine that was asked for but cannot run here.
    pub fn unavailable(name: &str, reason: &str) -> Self {
        Self {
            name: name.to_owned(),
            family: name.split('-').next().unwrap_or(name).to_owned(),
            version: None,
            compiler: None,
            options: Vec::new(),
            description: String::new(),
            unavailable: Some(reason.to_owned()),
        }
    }
}

/// What a run does when a module traps while it is measured, named after Envoy's
/// `failure_policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// A fresh instance serves the next request (as Envoy's `FAIL_RELOAD`, without its
    /// backoff), up to a bound of traps per cell: the measurement goes on.
    #[default]
    Reload,
    /// Envoy's default (`FAIL_CLOSED`): after a trap every later request is answered 503
    /// without calling the module, so the cell's measurement stops at its first trap.
    FailClosed,
}

impl FailurePolicy {
    /// Name used with `--failure-policy` and in results.
    pub fn name(self) -> &'static str {
        match self {
            FailurePolicy::Reload => "reload",
            FailurePolicy::FailClosed => "fail-closed",
        }
    }
}

/// Measurement settings of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// Whether `--quick` was used.
    pub quick: bool,
    /// Warm-up per cell, ms.
    pub warmup_ms: u64,
    /// Interleaved rounds.
    pub rounds: u32,
    /// Time slice per cell per round, ms.
    pub slice_ms: u64,
    /// Runs merged into this file (`--repeat`); 1 for a single run.
    #[serde(default = "one")]
    pub runs: u32,
    /// Samples per start-up phase (instances created per filter and engine).
    #[serde(default)]
    pub phase_samples: u32,
    /// What was measured: `time`, or `instructions` (callgrind) in addition.
    #[serde(default)]
    pub measure: Vec<String>,
    /// The CPU the measuring thread was pinned to (null when pinning was refused).
    #[serde(default)]
    pub pinned_cpu: Option<u32>,
    /// Why the measuring thread could not be pinned (null when it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinning_error: Option<String>,
    /// Blocks of rounds per run: every cell got a fresh module load and instance per block.
    #[serde(default)]
    pub blocks: u32,
    /// The run-level term of every ratio interval: the standard deviation, on the log scale, of
    /// the relative change that all rounds of one run share and no resampling inside the run can
    /// see (0.01 = 1%; 0 in files from before it existed). `filterbench precision` estimates it
    /// from two runs.
    #[serde(default)]
    pub between_run_sd: f64,
    /// What happened after a trap while measuring (`reload` in files from before it existed).
    #[serde(default)]
    pub failure_policy: FailurePolicy,
}

fn one() -> u32 {
    1
}

/// The tool that wrote the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Always `filterbench`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The price of one operation on one engine: the slope of the probe's time over the times it
/// repeats the operation, from rounds in which the probe and the baseline probe ran in adjacent
/// slices on the same engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Price {
    /// The operation (`get-header`; `callback` for an empty callback).
    pub operation: String,
    /// What one operation is.
    pub description: String,
    /// Workload it was priced on.
    pub workload: String,
    /// Engine configuration.
    pub engine: String,
    /// Times the probe repeated it per request (for `callback`: the callbacks of one
    /// lifecycle).
    pub repeat: u64,
    /// Price of one operation, ns: median over rounds of (probe − baseline) ÷ repeat, 95%
    /// interval (for `callback`: (baseline − host floor) ÷ callbacks, rounds aligned).
    pub ns: Option<Estimate>,
    /// Rounds the price was estimated from.
    pub rounds: usize,
    /// Price of one operation in instructions (`--measure instructions`): (probe − baseline)
    /// ÷ repeat, counted under callgrind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<f64>,
    /// Why there is no price (the probe or its baseline failed or was not timed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Writer.
    pub tool: Tool,
    /// Where and with what the run was made.
    pub environment: Environment,
    /// Every engine configuration of the run, with its exact settings.
    pub engines: Vec<EngineRecord>,
    /// Every module of the run with its artifact sizes.
    #[serde(default)]
    pub modules: Vec<ModuleRecord>,
    /// Measurement settings.
    pub settings: Settings,
    /// One entry per (filter, engine, workload).
    pub cells: Vec<Cell>,
    /// Start-up phases per (filter, engine).
    #[serde(default)]
    pub phases: Vec<PhaseRecord>,
    /// Ratios aggregated per engine and per filter.
    #[serde(default)]
    pub summary: Summary,
    /// Load runs through a real Envoy (`filterbench envoy`), when the file has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy: Option<crate::envoy::EnvoyResults>,
    /// The host conformance kit's matrix for this run's hosts: the in-process engines (against
    /// Envoy 1.40's recorded answers) for `filterbench run`, with the run's Envoy (V8 and the
    /// bridge) as the reference for `filterbench envoy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_conformance: Option<crate::host_conformance::Matrix>,
    /// The hostcall price list, from the price-list probes (filled by the analysis).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub price: Vec<Price>,
    /// The shards of a sharded plan this file holds (`--shard K/N`): one for a shard's own
    /// file, several once shards are merged; empty for an unsharded run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<crate::shards::ShardRecord>,
    /// The command lines that produced this file, in order (several once files are merged):
    /// what a report's "reproduce" block prints. Empty in files written before they were
    /// recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invocations: Vec<Invocation>,
}

/// One command line of filterbench that wrote results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invocation {
    /// The arguments after the executable's name, as given (`run`, `--quick`, ...).
    pub args: Vec<String>,
    /// Cargo features the executable was built with (`wasmtime`, `wasmer-llvm`, ...).
    pub features: Vec<String>,
    /// The commit it was built from (`git rev-parse HEAD` at run time), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Whether the checkout had uncommitted changes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
}

/// Aggregates over cells.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Per engine: geometric mean over filters of the ratio to native.
    pub engines: Vec<EngineSummary>,
    /// Per (filter, engine): geometric mean over the filter's workloads of the ratio to native.
    pub filters: Vec<FilterSummary>,
    /// The run's precision: the A/A ratio (native code against itself) per filter and workload.
    #[serde(default)]
    pub precision: Vec<AaSummary>,
    /// Relative half-width of a ratio's interval above which a cell is flagged noisy.
    #[serde(default)]
    pub noise_threshold: f64,
    /// The machine's speed states during the run, from the canary timed each round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<SpeedStates>,
}

/// The machine's speed during a run, read from the canary loop timed at the start of every
/// round. Flagged, not corrected: adjacent pairs cancel the speed state, and this says how
/// often the machine was slow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpeedStates {
    /// Rounds with a canary reading.
    pub rounds: usize,
    /// The fast state: 10th percentile of the canary, ns.
    pub fast_canary_ns: f64,
    /// Median canary, ns.
    pub median_canary_ns: f64,
    /// Share of rounds whose canary took more than 1.3 times the fast state (slow state).
    pub slow_share: f64,
    /// The memory canary's fast state: 10th percentile, ns per load (null in older files).
    #[serde(default)]
    pub fast_memory_ns: Option<f64>,
    /// Median memory canary, ns per load.
    #[serde(default)]
    pub median_memory_ns: Option<f64>,
    /// Share of rounds whose memory canary took more than 1.3 times its fast state.
    #[serde(default)]
    pub memory_slow_share: Option<f64>,
    /// Share of rounds in the fast state proper (canary within 5% of the fast state): the
    /// rounds comparisons are estimated from.
    #[serde(default)]
    pub fast_share: Option<f64>,
}

/// The A/A comparison of one filter and workload: native code against a second, independent
/// native instance, measured like every other cell. Its interval should contain 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AaSummary {
    /// Filter name.
    pub filter: String,
    /// Workload name.
    pub workload: String,
    /// The A/A ratio with its 95% interval.
    pub ratio: Estimate,
    /// Whether the interval excludes 1 by more than 2% (the group's ratios are unreliable).
    pub unreliable: bool,
}

impl Summary {
    /// The engine summaries, lowest geometric-mean ratio first.
    pub fn engines_fastest_first(&self) -> Vec<EngineSummary> {
        let mut engines = self.engines.clone();
        engines.sort_by(|a, b| {
            a.geomean_ratio_to_native
                .value
                .total_cmp(&b.geomean_ratio_to_native.value)
        });
        engines
    }

    /// How many A/A groups (native code against itself) have 1 inside their interval.
    pub fn aa_containing_one(&self) -> usize {
        self.precision
            .iter()
            .filter(|a| a.ratio.low <= 1.0 && a.ratio.high >= 1.0)
            .count()
    }

    /// The median relative half-width of the A/A intervals (0.012 = ±1.2%); `None` without A/A.
    pub fn aa_median_half_width(&self) -> Option<f64> {
        let mut widths: Vec<f64> = self
            .precision
            .iter()
            .map(|a| a.ratio.relative_half_width())
            .collect();
        widths.sort_by(f64::total_cmp);
        widths.get(widths.len() / 2).copied()
    }
}

impl Results {
    /// The names of the run's native engines (`native`).
    pub fn native_engines(&self) -> Vec<&str> {
        self.engines
            .iter()
            .filter(|e| e.family == "native")
            .map(|e| e.name.as_str())
            .collect()
    }
}

/// One engine's overall slowdown against native.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineSummary {
    /// Engine configuration name.
    pub engine: String,
    /// Geometric mean over filters of each filter's ratio to native, with a 95% interval
    /// (each filter weighs the same; sweeps and other languages left out).
    pub geomean_ratio_to_native: Estimate,
    /// The same geometric mean of the ratios above the host floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geomean_ratio_above_floor: Option<Estimate>,
    /// What the interval says.
    pub verdict: Verdict,
    /// Filters included.
    pub filters: usize,
    /// Cells of this engine flagged noisy.
    pub noisy_cells: usize,
}

/// One filter's slowdown against native on one engine, over its workloads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FilterSummary {
    /// Filter name.
    pub filter: String,
    /// Engine configuration name.
    pub engine: String,
    /// Geometric mean over workloads (sweeps left out) of the ratio to native, 95% interval.
    pub ratio_to_native: Estimate,
    /// The same geometric mean of the ratios above the host floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_above_floor: Option<Estimate>,
    /// What the interval says.
    pub verdict: Verdict,
    /// Workloads included.
    pub workloads: usize,
}

/// Engine name of the A/A cells: a second, independent instance of native code, compared with
/// native code like every engine. Its ratio measures the run's precision.
pub const AA_ENGINE: &str = "native-aa";

/// Writes `results` to `path` atomically (see [`crate::paths::write_atomic`]).
pub fn write_atomic(path: &Path, results: &Results) -> std::io::Result<()> {
    // Compact: the per-round series make a pretty-printed file several times larger.
    let json = serde_json::to_vec(results).map_err(std::io::Error::other)?;
    crate::paths::write_atomic(path, &json)
}

/// The JSON Schema of a results file, generated from these types. It is committed as
/// `docs/results.schema.json`, and a test fails when the two differ.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Results)).expect("a JSON Schema is JSON")
}

/// Reads a results file.
pub fn read(path: &Path) -> std::io::Result<Results> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}
