//! Where the repository and build outputs are.

use std::path::PathBuf;

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

/// Where built filter artifacts land: `<target>/filters/{wasm,native}/`.
pub fn filters_dir() -> PathBuf {
    target_dir().join("filters")
}
