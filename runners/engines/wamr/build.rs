//! With the `llvm` feature: builds WAMR twice more, with LLVM, as shared libraries the adapter
//! loads at run time (`wamr-aot`, `wamr-jit`): a runtime (AOT loader and LLVM JIT) and the AOT
//! compiler as `wamrc` is built.
//!
//! The crates.io binding (`wamrx-sys`) links a fast-interpreter-only WAMR into the binary; a
//! second WAMR linked next to it would share its symbol names, so the LLVM builds are separate
//! shared objects (linked with `-Bsymbolic`, opened with `RTLD_LOCAL`). They are compiled from
//! the same WAMR sources `wamrx-sys` ships (found in cargo's registry, or
//! `FILTERBENCH_WAMR_SOURCES`) against LLVM 22 (`llvm-config-22`, or `FILTERBENCH_LLVM_CONFIG`).
//! Their paths reach the crate as `FILTERBENCH_WAMR_LLVM_LIBRARY` and
//! `FILTERBENCH_WAMR_AOT_COMPILER_LIBRARY`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `wamrx-sys` release whose bundled WAMR sources are built (the one in Cargo.lock).
const WAMRX_SYS: &str = "wamrx-sys-0.3.0";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=llvm/aot_compile.c");
    println!("cargo:rerun-if-env-changed=FILTERBENCH_WAMR_SOURCES");
    println!("cargo:rerun-if-env-changed=FILTERBENCH_LLVM_CONFIG");
    if env::var_os("CARGO_FEATURE_LLVM").is_none() {
        return;
    }
    if let Err(message) = build() {
        // A build script reports failure by exiting non-zero with its message on stderr.
        eprintln!("error: filterbench-engine-wamr (feature llvm): {message}");
        std::process::exit(1);
    }
}

fn build() -> Result<(), String> {
    let sources = wamr_sources()?;
    let llvm_config =
        env::var("FILTERBENCH_LLVM_CONFIG").unwrap_or_else(|_| "llvm-config-22".into());
    let llvm_cmake_dir = llvm_query(&llvm_config, "--cmakedir")?;
    let llvm_lib_dir = llvm_query(&llvm_config, "--libdir")?;
    let llvm_version = llvm_query(&llvm_config, "--version")?;
    let llvm_include_dir = llvm_query(&llvm_config, "--includedir")?;
    let llvm_major = llvm_version
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();

    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let include = sources.join("core/iwasm/include");
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".into());
    let shim = out_dir.join("aot_compile.o");
    run(Command::new(&compiler)
        .args(["-c", "-O2", "-fPIC", "-o"])
        .arg(&shim)
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(&llvm_include_dir)
        .arg("llvm/aot_compile.c"))?;

    let link = Link {
        out_dir: &out_dir,
        llvm_lib_dir: &llvm_lib_dir,
        llvm_major: &llvm_major,
    };
    // The runtime: WAMR's AOT loader and its LLVM JIT (which compiles every function when a
    // module is loaded). Both libraries carry the shim (its LLVM options are set through
    // whichever is loaded first: they share libLLVM).
    let runtime = wamr_archive(&sources, &llvm_cmake_dir, &out_dir, "runtime", "")?;
    let runtime = link.shared_library("libfilterbench-wamr-llvm.so", &[&shim, &runtime])?;
    // The AOT compiler as wamrc builds it: the loader without the JIT (with it, every load
    // would JIT-compile the module before the AOT compiler compiles it again: 5.2 s instead of
    // 3.2 s for the Rust headers filter) and in compiler mode. WAMR only adds its compiler to
    // builds with the JIT, so the JIT is configured and then switched off for the C sources.
    // Its console output (a banner per compilation) goes to the shim's quiet printer: errors
    // come back through the API.
    let compiler_mode = "-UWASM_ENABLE_JIT -DWASM_ENABLE_JIT=0 -DWASM_ENABLE_WAMR_COMPILER=1 \
                         -DBH_VPRINTF=filterbench_wamr_quiet_vprintf";
    let aot_compiler = wamr_archive(
        &sources,
        &llvm_cmake_dir,
        &out_dir,
        "aot-compiler",
        compiler_mode,
    )?;
    let aot_compiler = link.shared_library(
        "libfilterbench-wamr-aot-compiler.so",
        &[&shim, &aot_compiler],
    )?;
    println!(
        "cargo:rustc-env=FILTERBENCH_WAMR_LLVM_LIBRARY={}",
        runtime.display()
    );
    println!(
        "cargo:rustc-env=FILTERBENCH_WAMR_AOT_COMPILER_LIBRARY={}",
        aot_compiler.display()
    );
    println!("cargo:rustc-env=FILTERBENCH_WAMR_LLVM_VERSION={llvm_version}");
    Ok(())
}

/// Builds WAMR's static runtime library (`vmlib`) with the LLVM JIT and the AOT loader,
/// position independent so it can go into a shared object, with `c_flags` added to its C and
/// C++ flags. Returns the archive.
fn wamr_archive(
    sources: &Path,
    llvm_cmake_dir: &str,
    out_dir: &Path,
    name: &str,
    c_flags: &str,
) -> Result<PathBuf, String> {
    let mut config = cmake::Config::new(sources);
    config
        .out_dir(out_dir.join(name))
        .define("BUILD_SHARED_LIBS", "OFF")
        .define("CMAKE_POSITION_INDEPENDENT_CODE", "ON")
        .define("WAMR_BUILD_PLATFORM", "linux")
        .define("WAMR_BUILD_INTERP", "1")
        .define("WAMR_BUILD_FAST_INTERP", "0")
        .define("WAMR_BUILD_AOT", "1")
        .define("WAMR_BUILD_JIT", "1")
        .define("WAMR_BUILD_LAZY_JIT", "0")
        .define("WAMR_BUILD_FAST_JIT", "0")
        .define("WAMR_BUILD_SIMD", "1")
        .define("WAMR_BUILD_BULK_MEMORY", "1")
        .define("WAMR_BUILD_REF_TYPES", "1")
        .define("WAMR_BUILD_LIBC_WASI", "0")
        .define("WAMR_BUILD_LIBC_BUILTIN", "0")
        // Software bounds checks, as in the fast-interpreter build. WAMR's guard-page mode
        // installs its SIGSEGV handler once per thread, each time chaining to the one before
        // (itself, from the second thread on), and forwards faults that are not its own: with
        // wasmtime and wasmer in the same process, a guard-page fault of theirs spun in WAMR's
        // handler (seen in the engine tests). Its stack guard-page setup also crashed on
        // threads Rust spawned.
        .define("WAMR_DISABLE_HW_BOUND_CHECK", "1")
        .define("WAMR_DISABLE_STACK_HW_BOUND_CHECK", "1")
        .define("LLVM_DIR", llvm_cmake_dir)
        .build_target("vmlib");
    if !c_flags.is_empty() {
        config.cflag(c_flags).cxxflag(c_flags);
    }
    let archive = config.build().join("build").join("libiwasm.a");
    if archive.exists() {
        Ok(archive)
    } else {
        Err(format!(
            "WAMR's build did not produce {}",
            archive.display()
        ))
    }
}

/// Links shared objects from static archives and objects, against libLLVM.
///
/// Linking WAMR's own shared target fails against Debian's LLVM packages (their CMake exports
/// list tools that are not installed), so the shared objects are linked here. `-Bsymbolic`
/// keeps each one's WAMR calls inside it, next to the WAMR linked into the binary.
struct Link<'a> {
    out_dir: &'a Path,
    llvm_lib_dir: &'a str,
    llvm_major: &'a str,
}

impl Link<'_> {
    fn shared_library(&self, name: &str, inputs: &[&Path]) -> Result<PathBuf, String> {
        let library = self.out_dir.join(name);
        let cxx = env::var("CXX").unwrap_or_else(|_| "c++".into());
        run(Command::new(&cxx)
            .args(["-shared", "-o"])
            .arg(&library)
            .arg("-Wl,--whole-archive")
            .args(inputs)
            .arg("-Wl,--no-whole-archive")
            .arg("-Wl,-Bsymbolic")
            .arg(format!("-L{}", self.llvm_lib_dir))
            .arg(format!("-Wl,-rpath,{}", self.llvm_lib_dir))
            .arg(format!("-lLLVM-{}", self.llvm_major))
            .args(["-lm", "-ldl", "-lpthread"]))?;
        Ok(library)
    }
}

/// The WAMR source tree bundled in `wamrx-sys`.
fn wamr_sources() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("FILTERBENCH_WAMR_SOURCES") {
        return checked_sources(PathBuf::from(dir));
    }
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = cargo_home.join("registry/src");
    let entries = std::fs::read_dir(&registry).map_err(|e| {
        format!(
            "cannot read cargo's registry at {}: {e}",
            registry.display()
        )
    })?;
    for entry in entries.flatten() {
        let candidate = entry.path().join(WAMRX_SYS).join("wasm-micro-runtime");
        if candidate.join("CMakeLists.txt").exists() {
            return checked_sources(candidate);
        }
    }
    Err(format!(
        "the WAMR sources of {WAMRX_SYS} are not in {} (is the crate vendored?): set \
         FILTERBENCH_WAMR_SOURCES to its wasm-micro-runtime directory",
        registry.display()
    ))
}

fn checked_sources(dir: PathBuf) -> Result<PathBuf, String> {
    if dir.join("core/iwasm/include/aot_export.h").exists() {
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("CMakeLists.txt").display()
        );
        Ok(dir)
    } else {
        Err(format!(
            "{} is not a WAMR source tree (no core/iwasm/include/aot_export.h)",
            dir.display()
        ))
    }
}

fn llvm_query(llvm_config: &str, flag: &str) -> Result<String, String> {
    let output = Command::new(llvm_config).arg(flag).output().map_err(|e| {
        format!(
            "{llvm_config} not found ({e}): WAMR's compiled modes need LLVM 22 — run \
             `scripts/setup.sh --with-llvm` (apt llvm-22-dev libpolly-22-dev libzstd-dev), or \
             set FILTERBENCH_LLVM_CONFIG to an llvm-config"
        )
    })?;
    if !output.status.success() {
        return Err(format!("{llvm_config} {flag} failed"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}
