//! `results.json`: the project's own versioned results schema (documented in
//! `docs/results.md`, JSON Schema in `docs/results.schema.json`). Later versions add fields;
//! they never rename or remove these.

use crate::environment::Environment;
use crate::stats::SampleSummary;
use filterbench_host::EngineInfo;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Version of the schema written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// Outcome of the conformance check of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// One (filter, engine, workload) combination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Steady-state lifecycle timing (null when not measured).
    pub steady: Option<SampleSummary>,
    /// Median of this cell divided by the native median of the same filter and workload
    /// (null for native itself or when either is missing).
    pub ratio_to_native: Option<f64>,
}

/// One module of the run and its artifact sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Filter name, as in `cells[].filter`.
    pub filter: String,
    /// Size of the `.wasm`, bytes (null when there is none).
    pub wasm_bytes: Option<u64>,
    /// Size of the native library, bytes (null when there is none).
    pub native_bytes: Option<u64>,
}

/// One engine configuration of the run: exactly what ran (or why it could not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Measurement settings of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Whether `--quick` was used.
    pub quick: bool,
    /// Warm-up per cell, ms.
    pub warmup_ms: u64,
    /// Interleaved rounds.
    pub rounds: u32,
    /// Time slice per cell per round, ms.
    pub slice_ms: u64,
}

/// The tool that wrote the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `filterbench`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

/// Writes `results` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, results: &Results) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(results).map_err(std::io::Error::other)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Reads a results file.
pub fn read(path: &Path) -> std::io::Result<Results> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}
