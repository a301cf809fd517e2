//! Where the repository and build outputs are.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created with
/// the directories it needs), then renamed over `path`, so a reader sees the old file or the
/// new one, never part of one. The file is readable by all (0644), like any file written here.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".filterbench-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The repository root: `$FILTERBENCH_ROOT` if set, else the checkout this crate was built from.
pub fn repo_root() -> PathBuf {
    match std::env::var_os("FILTERBENCH_ROOT") {
        Some(root) => PathBuf::from(root),
        None => build_root(),
    }
}

/// The checkout this binary was built from. Two checkouts sharing one cargo target directory
/// leave `release/filterbench` from whichever was built last, so scripts compare this with
/// their own checkout before running it.
pub fn build_root() -> PathBuf {
    // This crate is `<root>/runners/harness`.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<repo>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("target"),
    }
}

/// The directory the setup scripts install external tools into (Envoy, wrk, oha, Go):
/// `$HOME/.cache/filterbench/tools/bin`; `None` without `HOME`.
pub fn tools_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/filterbench/tools/bin"))
}

/// Where built filter artifacts land: `<target>/filters/{wasm,native}/`.
pub fn filters_dir() -> PathBuf {
    target_dir().join("filters")
}
