//! Builds the bench filters written in other languages than Rust:
//!
//! - **C without an SDK** (`bench-filters/c/<name>.c`): `clang --target=wasm32-unknown-unknown`
//!   linked by `wasm-ld` (no libc), and the system C compiler for the native library;
//! - **AssemblyScript** (`bench-filters/assemblyscript/assembly/<name>.ts`) with the
//!   `@solo-io/proxy-runtime` SDK, compiled by `asc` from the npm packages `scripts/setup.sh`
//!   installs (`npm ci`, pinned by `package-lock.json`; no network afterwards). There is no
//!   native build of AssemblyScript.
//!
//! Outputs land in `<target>/filters/<language>/`; a build is skipped when its output is newer
//! than every source it depends on. A missing toolchain is a [`BuildError::MissingToolchain`]
//! naming what to install; the caller can skip the filter and run the others.

use crate::artifacts::BuildError;
use crate::catalog::{FilterSpec, Language};
use crate::paths;
use filterbench_host::ModuleSource;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Sources of the C filters.
pub fn c_source_dir() -> PathBuf {
    crate::artifacts::filters_source_dir().join("c")
}

/// The AssemblyScript project (package.json, assembly/, node_modules/ once installed).
pub fn assemblyscript_dir() -> PathBuf {
    crate::artifacts::filters_source_dir().join("assemblyscript")
}

fn out_dir(language: Language) -> PathBuf {
    paths::filters_dir().join(language.name())
}

fn newest(paths: &[PathBuf]) -> Option<SystemTime> {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// Whether `out` exists and is newer than every one of `inputs`.
fn up_to_date(out: &Path, inputs: &[PathBuf]) -> bool {
    let built = std::fs::metadata(out).and_then(|m| m.modified()).ok();
    matches!((built, newest(inputs)), (Some(built), Some(source)) if built >= source)
}

/// Runs `cmd` to make `out` unless `out` is newer than its `inputs` and was made by the same
/// command (a stamp next to it records the command line, so another compiler or other flags
/// rebuild).
fn build_if_stale(
    out: &Path,
    inputs: &[PathBuf],
    cmd: Command,
    language: Language,
    what: &str,
    install: &str,
) -> Result<(), BuildError> {
    let stamp = out.with_extension(format!(
        "{}.cmd",
        out.extension()
            .map_or(String::new(), |e| e.to_string_lossy().into_owned())
    ));
    let command_line = format!("{cmd:?}");
    if up_to_date(out, inputs) && std::fs::read_to_string(&stamp).is_ok_and(|s| s == command_line) {
        return Ok(());
    }
    run(cmd, language, what, install)?;
    std::fs::write(&stamp, command_line).map_err(|e| BuildError::Artifact {
        path: stamp.display().to_string(),
        detail: e.to_string(),
    })
}

fn missing(language: Language, detail: impl Into<String>) -> BuildError {
    BuildError::MissingToolchain {
        language: language.label().to_owned(),
        detail: detail.into(),
    }
}

/// Runs `cmd`; a program that is not there is a missing toolchain, a failure keeps its output.
fn run(mut cmd: Command, language: Language, what: &str, install: &str) -> Result<(), BuildError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let output = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            missing(language, format!("{program} was not found ({install})"))
        } else {
            BuildError::NoCargo {
                cargo: program.clone(),
                detail: e.to_string(),
            }
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if log.contains("wasm-ld") && (log.contains("not found") || log.contains("doesn't exist")) {
        return Err(missing(
            language,
            "clang cannot link wasm32: wasm-ld is missing (apt install lld)",
        ));
    }
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    Err(BuildError::Failed {
        target: what.to_owned(),
        log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// The compilers the C filters are built with.
struct CCompilers {
    /// clang, for wasm32 (`$FILTERBENCH_CLANG`, default `clang`).
    clang: String,
    /// The host C compiler (`$CC`, default `cc`).
    cc: String,
}

impl CCompilers {
    fn from_env() -> Self {
        Self {
            clang: std::env::var("FILTERBENCH_CLANG").unwrap_or_else(|_| "clang".to_owned()),
            cc: std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()),
        }
    }
}

fn build_c(stem: &str, out: &Path, compilers: &CCompilers) -> Result<ModuleSource, BuildError> {
    let dir = c_source_dir();
    let source = dir.join(format!("{stem}.c"));
    let inputs = [source.clone(), dir.join("abi.h")];
    std::fs::create_dir_all(out).map_err(|e| BuildError::Artifact {
        path: out.display().to_string(),
        detail: e.to_string(),
    })?;
    let wasm = out.join(format!("{stem}.wasm"));
    let native = out.join(format!("lib{stem}.so"));
    let flags = ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"];
    let mut cmd = Command::new(&compilers.clang);
    cmd.args(["--target=wasm32-unknown-unknown", "-nostdlib"])
        .args(flags)
        .args([
            "-Wl,--no-entry",
            "-Wl,--allow-undefined",
            "-Wl,--strip-debug",
            "-o",
        ])
        .arg(&wasm)
        .arg(&source);
    build_if_stale(
        &wasm,
        &inputs,
        cmd,
        Language::C,
        &format!("the C filter {stem} for wasm32"),
        "apt install clang lld",
    )?;
    let mut cmd = Command::new(&compilers.cc);
    cmd.args(["-shared", "-fPIC"])
        .args(flags)
        .arg("-o")
        .arg(&native)
        .arg(&source);
    build_if_stale(
        &native,
        &inputs,
        cmd,
        Language::C,
        &format!("the C filter {stem} for the host"),
        "apt install gcc, or set CC",
    )?;
    Ok(ModuleSource {
        name: format!("{stem}@c"),
        wasm: Some(wasm),
        native: Some(native),
    })
}

fn build_assemblyscript(dir: &Path, stem: &str, out: &Path) -> Result<ModuleSource, BuildError> {
    let asc = dir
        .join("node_modules")
        .join("assemblyscript")
        .join("bin")
        .join("asc");
    if !asc.exists() {
        return Err(missing(
            Language::AssemblyScript,
            format!(
                "its npm packages are not installed in {}: run scripts/setup.sh (it runs npm ci there; needs apt nodejs npm)",
                dir.display()
            ),
        ));
    }
    let sources: Vec<PathBuf> = std::fs::read_dir(dir.join("assembly"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    let mut inputs = sources;
    inputs.push(dir.join("package-lock.json"));
    std::fs::create_dir_all(out).map_err(|e| BuildError::Artifact {
        path: out.display().to_string(),
        detail: e.to_string(),
    })?;
    let wasm = out.join(format!("{stem}.wasm"));
    let mut cmd = Command::new("node");
    cmd.current_dir(dir)
        .arg(&asc)
        .arg(format!("assembly/{stem}.ts"))
        .arg("--binaryFile")
        .arg(&wasm)
        // The SDK's abort handler (logs, then proc_exit), and the optimizer for speed.
        .args(["--use", "abort=abort_proc_exit", "-O3"]);
    build_if_stale(
        &wasm,
        &inputs,
        cmd,
        Language::AssemblyScript,
        &format!("the AssemblyScript filter {stem}"),
        "apt install nodejs npm, then scripts/setup.sh",
    )?;
    Ok(ModuleSource {
        name: format!("{stem}@assemblyscript"),
        wasm: Some(wasm),
        native: None,
    })
}

/// Builds (if needed) the artifacts of a filter in another language than Rust.
pub fn ensure_built(filter: &FilterSpec) -> Result<ModuleSource, BuildError> {
    let mut source = match filter.language {
        Language::C => build_c(
            filter.crate_name,
            &out_dir(Language::C),
            &CCompilers::from_env(),
        )?,
        Language::AssemblyScript => build_assemblyscript(
            &assemblyscript_dir(),
            filter.crate_name,
            &out_dir(Language::AssemblyScript),
        )?,
        Language::Rust => return crate::artifacts::ensure_built(filter.crate_name),
    };
    source.name = filter.name.to_owned();
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_c_compiler_or_linker_says_what_to_install() {
        let out = tempfile::tempdir().unwrap();
        let compilers = CCompilers {
            clang: "/nonexistent/clang".to_owned(),
            cc: "cc".to_owned(),
        };
        let err = build_c("noop", out.path(), &compilers).unwrap_err();
        assert!(
            matches!(err, BuildError::MissingToolchain { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("C (no SDK)"), "{text}");
        assert!(text.contains("apt install clang lld"), "{text}");
    }

    #[test]
    fn missing_npm_packages_say_to_run_the_setup() {
        let project = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let err = build_assemblyscript(project.path(), "noop", out.path()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AssemblyScript"), "{text}");
        assert!(text.contains("scripts/setup.sh"), "{text}");
    }

    #[test]
    fn c_filters_build_for_wasm32_and_the_host() {
        let out = tempfile::tempdir().unwrap();
        let source = build_c("headers", out.path(), &CCompilers::from_env()).unwrap();
        let wasm = std::fs::read(source.wasm.unwrap()).unwrap();
        assert_eq!(&wasm[..4], b"\0asm");
        assert!(source.native.unwrap().exists());
    }
}
