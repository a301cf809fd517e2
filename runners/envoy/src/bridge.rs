//! The `native` variant's modules: each bench filter, unmodified, linked with the Proxy-Wasm →
//! dynamic-module bridge (`runners/envoy-bridge`) into one `.so` Envoy loads.
//!
//! The filters' own manifests make cdylibs only (an extra rlib crate type changes their wasm
//! code), so the build happens in a generated workspace under the target directory: a mirror
//! of each filter's manifest as an rlib over the same `src/lib.rs`, and one cdylib per filter
//! that links it with the bridge. The workspace copies the bench filters' `Cargo.lock`, shared
//! dependencies and release profile (LTO, `panic = "abort"`), so the code is built as the
//! filters' native `.so` is.

use crate::tools::{self, Tool};
use filterbench_envoy_bridge::envoy_abi::{ENVOY_CALLBACKS, ENVOY_RELEASE};
use filterbench_harness::artifacts::{self, BuildError};
use filterbench_harness::catalog;
use filterbench_harness::paths;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::filters::{bridged_filters, bridges};

/// Why the installed Envoy cannot load the bridged modules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvoyMismatch {
    /// Another Envoy release than the bridge's.
    #[error(
        "the native variant's Proxy-Wasm → dynamic-module bridge is written for Envoy {ENVOY_RELEASE}.x \
         (dynamic-module ABI {abi}), but {envoy} is Envoy {found}: install Envoy {ENVOY_RELEASE} with \
         scripts/setup-envoy.sh (or pass --envoy PATH to it), or leave out --variant native",
        abi = filterbench_envoy_bridge::envoy_abi::ABI_VERSION
    )]
    Release {
        /// Envoy binary.
        envoy: String,
        /// Its version.
        found: String,
    },
    /// The binary lacks a callback the bridge calls (the module would fail to load).
    #[error(
        "{envoy} does not export {missing} (needed by the native variant's bridge); it is not the \
         Envoy {ENVOY_RELEASE} build scripts/setup-envoy.sh installs"
    )]
    MissingCallback {
        /// Envoy binary.
        envoy: String,
        /// The first missing symbol.
        missing: String,
    },
}

/// Checks that `envoy` is the release the bridge is pinned to and exports every callback the
/// bridge references.
pub fn check_envoy(envoy: &Path) -> Result<(), EnvoyMismatch> {
    let found = tools::version(Tool::Envoy, envoy).unwrap_or_else(|| "unknown".to_owned());
    let release_prefix = format!("{ENVOY_RELEASE}.");
    if !found.starts_with(&release_prefix) {
        return Err(EnvoyMismatch::Release {
            envoy: envoy.display().to_string(),
            found,
        });
    }
    let exported = exported_callbacks(envoy);
    match ENVOY_CALLBACKS.iter().find(|c| !exported.contains(**c)) {
        Some(missing) => Err(EnvoyMismatch::MissingCallback {
            envoy: envoy.display().to_string(),
            missing: (*missing).to_owned(),
        }),
        None => Ok(()),
    }
}

/// The `envoy_dynamic_module_callback_*` names in the binary's string tables (its dynamic
/// symbol names are among them).
pub fn exported_callbacks(envoy: &Path) -> HashSet<String> {
    let bytes = std::fs::read(envoy).unwrap_or_default();
    bytes
        .split(|&b| b == 0)
        .filter(|s| s.starts_with(b"envoy_dynamic_module_callback_"))
        .filter_map(|s| std::str::from_utf8(s).ok().map(str::to_owned))
        .collect()
}

/// Where the bridged module of `crate_name` lands.
pub fn module_path(crate_name: &str) -> PathBuf {
    paths::filters_dir()
        .join("envoy-native")
        .join(format!("libenvoy_{}.so", crate_name.replace('-', "_")))
}

/// The generated workspace.
fn workspace_dir() -> PathBuf {
    paths::target_dir().join("envoy-bridge-build")
}

fn io_error(path: &Path, e: std::io::Error) -> BuildError {
    BuildError::Artifact {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// Writes `text` to `path` unless it already holds it (so cargo sees nothing changed).
fn write_if_changed(path: &Path, text: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| io_error(path, e))
}

/// `manifest` with its `[lib]` table replaced by `lib`.
fn replace_lib_table(manifest: &str, lib: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        let header = line.trim_start().starts_with('[');
        if header {
            skipping = line.trim() == "[lib]";
            if skipping {
                out.push_str(lib);
                continue;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The bench filters' workspace manifest with `members` replaced by `members`.
fn workspace_manifest(filters_manifest: &str, members: &[String]) -> String {
    let start = filters_manifest
        .find("members = [")
        .expect("bench-filters/Cargo.toml lists its members");
    let end = start
        + filters_manifest[start..]
            .find(']')
            .expect("the members list is closed");
    let list: Vec<String> = members.iter().map(|m| format!("    {m:?},\n")).collect();
    format!(
        "# Generated by filterbench (runners/envoy/src/bridge.rs) from bench-filters/Cargo.toml.\n{}members = [\n{}]{}",
        &filters_manifest[..start],
        list.concat(),
        &filters_manifest[end + 1..]
    )
}

/// Writes the generated workspace for `crates`; returns its directory.
fn generate(crates: &[&str]) -> Result<PathBuf, BuildError> {
    let dir = workspace_dir();
    let filters = artifacts::filters_source_dir();
    let bridge = paths::repo_root().join("runners").join("envoy-bridge");
    let read = |path: PathBuf| std::fs::read_to_string(&path).map_err(|e| io_error(&path, e));
    let mut members = Vec::new();
    for name in crates {
        let source = filters.join(name);
        let lib = format!(
            "[lib]\npath = {:?}\ncrate-type = [\"rlib\"]\n\n",
            source.join("src").join("lib.rs").display().to_string()
        );
        let manifest = replace_lib_table(&read(source.join("Cargo.toml"))?, &lib);
        write_if_changed(
            &dir.join("filters").join(name).join("Cargo.toml"),
            &format!("# Generated: {name}'s manifest, built as an rlib.\n{manifest}"),
        )?;
        let ident = name.replace('-', "_");
        let module = format!(
            "# Generated: the {name} filter linked with the Envoy bridge.\n\
             [package]\nname = \"envoy-{name}\"\nversion.workspace = true\nedition.workspace = true\n\
             license.workspace = true\npublish.workspace = true\n\n\
             [lib]\npath = \"lib.rs\"\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\n{name} = {{ path = \"../../filters/{name}\" }}\n\
             filterbench-envoy-bridge = {{ path = {:?}, features = [\"module\"] }}\n",
            bridge.display().to_string()
        );
        let module_dir = dir.join("modules").join(name);
        write_if_changed(&module_dir.join("Cargo.toml"), &module)?;
        write_if_changed(
            &module_dir.join("lib.rs"),
            &format!(
                "//! Generated: the unmodified `{name}` bench filter and the Proxy-Wasm → \
                 dynamic-module bridge, linked into one module for Envoy.\n\
                 extern crate filterbench_envoy_bridge;\nextern crate {ident};\n"
            ),
        )?;
        members.push(format!("filters/{name}"));
        members.push(format!("modules/{name}"));
    }
    let manifest = workspace_manifest(&read(filters.join("Cargo.toml"))?, &members);
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    // The filters' lock file: the same dependency versions as their wasm and native builds
    // (cargo adds the generated path crates to it).
    let lock = read(filters.join("Cargo.lock"))?;
    write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    Ok(dir)
}

fn build_all() -> Result<(), BuildError> {
    let crates: Vec<&str> = bridged_filters()
        .filter_map(|f| catalog::filter(f).map(|spec| spec.crate_name))
        .collect();
    let dir = generate(&crates)?;
    let out = artifacts::cargo_release_build(
        &dir,
        &dir.join("target"),
        None,
        "the bench filters with the Envoy bridge (native variant)",
    )?;
    for name in &crates {
        artifacts::publish(
            out.file(&format!("envoy-{name}"), ".so")?,
            &module_path(name),
        )?;
    }
    Ok(())
}

/// Builds the loader module (the bridge with no filter linked in, feature `loader`) in a
/// workspace of its own (so its features do not reach the linked modules); once per process.
fn build_loader() -> Result<PathBuf, BuildError> {
    static BUILT: Mutex<Option<Result<PathBuf, BuildError>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built
        .get_or_insert_with(|| {
            let dir = paths::target_dir().join("envoy-loader-build");
            let filters = artifacts::filters_source_dir();
            let bridge = paths::repo_root().join("runners").join("envoy-bridge");
            let read =
                |path: PathBuf| std::fs::read_to_string(&path).map_err(|e| io_error(&path, e));
            let module = format!(
                "# Generated: the Envoy bridge with no filter linked in (it opens one at start).\n\
                 [package]\nname = \"envoy-loader\"\nversion.workspace = true\nedition.workspace = true\n\
                 license.workspace = true\npublish.workspace = true\n\n\
                 [lib]\npath = \"lib.rs\"\ncrate-type = [\"cdylib\"]\n\n\
                 [dependencies]\n\
                 filterbench-envoy-bridge = {{ path = {:?}, features = [\"loader\"] }}\n",
                bridge.display().to_string()
            );
            write_if_changed(&dir.join("loader").join("Cargo.toml"), &module)?;
            write_if_changed(
                &dir.join("loader").join("lib.rs"),
                "//! Generated: the Proxy-Wasm → dynamic-module bridge, loading a prebuilt filter.\n\
                 extern crate filterbench_envoy_bridge;\n",
            )?;
            let manifest =
                workspace_manifest(&read(filters.join("Cargo.toml"))?, &["loader".to_owned()]);
            write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
            write_if_changed(&dir.join("Cargo.lock"), &read(filters.join("Cargo.lock"))?)?;
            let out = artifacts::cargo_release_build(
                &dir,
                &dir.join("target"),
                None,
                "the Envoy bridge's loader (native variant of a prebuilt library)",
            )?;
            let path = paths::filters_dir()
                .join("envoy-native")
                .join("libenvoy_loader.so");
            artifacts::publish(out.file("envoy-loader", ".so")?, &path)?;
            Ok(path)
        })
        .clone()
}

/// The module Envoy loads to run the prebuilt native filter `library` (the `.so` the in-process
/// native engine loads) as filter `name`: a copy of the loader in a directory of its own, next
/// to the link `filter.so` → `library`, which the loader opens.
pub fn loader_for(name: &str, library: &Path) -> Result<PathBuf, BuildError> {
    let loader = build_loader()?;
    let library = std::fs::canonicalize(library).map_err(|e| io_error(library, e))?;
    // One directory per (name, library): runs of different libraries do not swap links.
    let key = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        library.hash(&mut hasher);
        hasher.finish()
    };
    let dir = paths::filters_dir()
        .join("envoy-native")
        .join("loaded")
        .join(format!("{name}-{key:016x}"));
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    // Copied then renamed: an Envoy still running the previous copy keeps its file. The staged
    // names are this process's own, so runs at the same time (tests in parallel) each replace
    // the file and the link whole instead of renaming each other's half-written copy away.
    let copy = dir.join("libenvoy_loader.so");
    let staged = dir.join(format!("libenvoy_loader.so.{}.new", std::process::id()));
    std::fs::copy(&loader, &staged).map_err(|e| io_error(&staged, e))?;
    std::fs::rename(&staged, &copy).map_err(|e| io_error(&copy, e))?;
    let link = dir.join("filter.so");
    let staged_link = dir.join(format!("filter.so.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&staged_link);
    std::os::unix::fs::symlink(&library, &staged_link).map_err(|e| io_error(&staged_link, e))?;
    std::fs::rename(&staged_link, &link).map_err(|e| io_error(&link, e))?;
    Ok(copy)
}

/// Builds every bridged module (once per process) and returns the path of `crate_name`'s.
pub fn ensure_built(crate_name: &str) -> Result<PathBuf, BuildError> {
    static BUILT: Mutex<Option<Result<(), BuildError>>> = Mutex::new(None);
    let bridged = bridged_filters()
        .filter_map(catalog::filter)
        .any(|spec| spec.crate_name == crate_name);
    if !bridged {
        return Err(BuildError::Artifact {
            path: module_path(crate_name).display().to_string(),
            detail: format!("filter crate '{crate_name}' is not one the Envoy bridge runs"),
        });
    }
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built.get_or_insert_with(build_all).clone()?;
    Ok(module_path(crate_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lib_table_is_replaced_and_the_rest_kept() {
        let manifest = "[package]\nname = \"x\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\na = 1\n";
        let out = replace_lib_table(manifest, "[lib]\ncrate-type = [\"rlib\"]\n\n");
        assert_eq!(
            out,
            "[package]\nname = \"x\"\n\n[lib]\ncrate-type = [\"rlib\"]\n\n[dependencies]\na = 1\n"
        );
    }

    #[test]
    fn the_workspace_keeps_the_filters_dependencies_and_profile() {
        let filters = std::fs::read_to_string(artifacts::filters_source_dir().join("Cargo.toml"))
            .expect("bench-filters/Cargo.toml");
        let out = workspace_manifest(&filters, &["modules/noop".to_owned()]);
        assert!(out.contains("members = [\n    \"modules/noop\",\n]"));
        assert!(out.contains("[workspace.dependencies]"));
        assert!(out.contains("proxy-wasm = "));
        assert!(out.contains("[profile.release]"));
        assert!(out.contains("lto = true"));
        assert!(
            !out.contains("\"jwt-auth\","),
            "the filters' own member list is gone"
        );
    }
}
