//! Builds the bench filters from `bench-filters/` — the same source as `wasm32-wasip1` `.wasm`
//! and as a native `.so` — and places them in `<target>/filters/{wasm,native}/`.
//!
//! Cargo decides what is stale, so a build after a source change rebuilds exactly what changed
//! and an up-to-date build takes well under a second. One build per process is enough: the
//! result is cached.

use crate::paths;
use cargo_metadata::Message;
use filterbench_host::ModuleSource;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The wasm target the bench filters are built for.
pub const WASM_TARGET: &str = "wasm32-wasip1";

/// Why the filters could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The Rust target for wasm is not installed.
    #[error(
        "the Rust target {WASM_TARGET} is not installed, so the bench filters cannot be built as \
         WebAssembly: run `rustup target add {WASM_TARGET}` (scripts/setup.sh does this)"
    )]
    MissingTarget,
    /// cargo could not be started.
    #[error("cannot run cargo ({cargo}) to build the bench filters: {detail}")]
    NoCargo {
        /// Program tried.
        cargo: String,
        /// OS error.
        detail: String,
    },
    /// cargo failed.
    #[error("building {target} failed:\n{log}")]
    Failed {
        /// What was built, e.g. `the bench filters for wasm32-wasip1`.
        target: String,
        /// Last lines of cargo's output.
        log: String,
    },
    /// A language's toolchain (compiler, linker, npm packages) is not installed.
    #[error("the {language} bench filters cannot be built: {detail}")]
    MissingToolchain {
        /// The language, as reports name it.
        language: String,
        /// What is missing and how to install it.
        detail: String,
    },
    /// A build output was missing or could not be copied.
    #[error("bench filter artifact {path}: {detail}")]
    Artifact {
        /// File concerned.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// Directory holding the bench filter crates.
pub fn filters_source_dir() -> PathBuf {
    paths::repo_root().join("bench-filters")
}

/// Crates of the bench-filters workspace that are built with the filters but never benchmarked
/// (probes the test suite and the conformance kit use, and the filters of the example specs).
pub const SUPPORT_CRATES: &[&str] = &[
    "lifecycle-probe",
    "host-probe",
    "token-refresh",
    "grpc-check",
    "network-probe",
];

/// File stem cargo gives the library of `crate_name` (`-` becomes `_`).
fn artifact_stem(crate_name: &str) -> String {
    crate_name.replace('-', "_")
}

/// Where the `.wasm` of `crate_name` lands.
pub fn wasm_path(crate_name: &str) -> PathBuf {
    paths::filters_dir()
        .join("wasm")
        .join(format!("{}.wasm", artifact_stem(crate_name)))
}

/// Where the native library of `crate_name` lands.
pub fn native_path(crate_name: &str) -> PathBuf {
    paths::filters_dir()
        .join("native")
        .join(format!("lib{}.so", artifact_stem(crate_name)))
}

fn cargo_build(target: Option<&str>) -> Result<BuiltFiles, BuildError> {
    let what = format!("the bench filters for {}", target.unwrap_or("native"));
    cargo_release_build(
        &filters_source_dir(),
        &paths::target_dir().join("filters-build"),
        target,
        &what,
    )
}

/// The files one `cargo build` produced, per library target, as cargo's JSON messages name them
/// (not guessed from the target directory's layout).
#[derive(Debug, Default)]
pub struct BuiltFiles(BTreeMap<String, Vec<PathBuf>>);

impl BuiltFiles {
    /// The file of library `crate_name` (`-` or `_`) whose name ends with `suffix` (`.wasm`,
    /// `.so`).
    pub fn file(&self, crate_name: &str, suffix: &str) -> Result<&Path, BuildError> {
        let target = artifact_stem(crate_name);
        self.0
            .get(&target)
            .into_iter()
            .flatten()
            .find(|f| f.to_string_lossy().ends_with(suffix))
            .map(PathBuf::as_path)
            .ok_or_else(|| BuildError::Artifact {
                path: format!("{target}{suffix}"),
                detail: format!(
                    "cargo reported no {suffix} file for {crate_name} (it reported {})",
                    self.0.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })
    }
}

/// `cargo build --release --workspace` of the workspace in `source` into `build_dir` (for
/// `target`, else the host); returns what cargo reports it built. `what` names the build in
/// errors.
pub fn cargo_release_build(
    source: &Path,
    build_dir: &Path,
    target: Option<&str>,
    what: &str,
) -> Result<BuiltFiles, BuildError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(source)
        .args([
            "build",
            "--release",
            "--workspace",
            "--message-format=json-render-diagnostics",
            "--target-dir",
        ])
        .arg(build_dir)
        // A jobserver inherited from an outer cargo is not ours to use.
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    if let Some(target) = target {
        cmd.args(["--target", target]);
    }
    let output = cmd.output().map_err(|e| BuildError::NoCargo {
        cargo: cargo.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        let log = String::from_utf8_lossy(&output.stderr);
        if log.contains("target may not be installed")
            || log.contains("can't find crate for `core`")
        {
            return Err(BuildError::MissingTarget);
        }
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        return Err(BuildError::Failed {
            target: what.to_owned(),
            log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let mut built = BuiltFiles::default();
    for message in Message::parse_stream(output.stdout.as_slice()).flatten() {
        if let Message::CompilerArtifact(artifact) = message {
            built
                .0
                .entry(artifact.target.name.clone())
                .or_default()
                .extend(artifact.filenames.into_iter().map(PathBuf::from));
        }
    }
    Ok(built)
}

/// Copies `from` to `to` atomically unless `to` already has the same bytes.
pub fn publish(from: &Path, to: &Path) -> Result<(), BuildError> {
    let err = |path: &Path, e: std::io::Error| BuildError::Artifact {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let bytes = std::fs::read(from).map_err(|e| err(from, e))?;
    if std::fs::read(to).ok().as_deref() == Some(bytes.as_slice()) {
        return Ok(());
    }
    crate::paths::write_atomic(to, &bytes).map_err(|e| err(to, e))
}

/// Names of the crates in the bench-filters workspace: the catalog's filters and the probes.
fn workspace_crates() -> Vec<String> {
    let filters = crate::catalog::filters();
    let names = filters
        .iter()
        .filter(|f| f.language == crate::catalog::Language::Rust)
        .map(|f| f.crate_name)
        .chain(SUPPORT_CRATES.iter().copied());
    names.map(str::to_owned).collect()
}

fn build_all() -> Result<(), BuildError> {
    let crates = workspace_crates();
    let wasm = cargo_build(Some(WASM_TARGET))?;
    for name in &crates {
        publish(wasm.file(name, ".wasm")?, &wasm_path(name))?;
    }
    let native = cargo_build(None)?;
    for name in &crates {
        publish(native.file(name, ".so")?, &native_path(name))?;
    }
    Ok(())
}

/// Builds every bench filter (once per process) and returns the artifacts of `crate_name`,
/// a catalog filter's crate or one of [`SUPPORT_CRATES`].
pub fn ensure_built(crate_name: &str) -> Result<ModuleSource, BuildError> {
    static BUILT: Mutex<Option<Result<(), BuildError>>> = Mutex::new(None);
    if !workspace_crates().iter().any(|c| c == crate_name) {
        return Err(BuildError::Artifact {
            path: filters_source_dir().join(crate_name).display().to_string(),
            detail: format!("'{crate_name}' is not a crate of the bench-filters workspace"),
        });
    }
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    built.get_or_insert_with(build_all).clone()?;
    Ok(ModuleSource {
        name: crate_name.to_owned(),
        wasm: Some(wasm_path(crate_name)),
        native: Some(native_path(crate_name)),
    })
}
