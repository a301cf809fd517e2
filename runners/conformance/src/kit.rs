//! Runs the whole kit: every probe on the in-process engines asked for, the probes' native
//! build on the native engine, and — given an Envoy — through Envoy on V8 and through the
//! bridge; then builds the matrix.

use crate::envoy::{self, Form};
use crate::in_process;
use crate::matrix::{self, Host, HostKind, HostOutcomes, Matrix, ProbeRun};
use crate::outcome::Outcome;
use crate::probes::{self, ENVOY_NATIVE, Probe};
use filterbench_envoy::bridge;
use filterbench_envoy::tools::{self, Tool};
use filterbench_harness::artifacts;
use filterbench_host::ModuleSource;
use std::path::{Path, PathBuf};

/// The bench-filters crate that is the probes' native form.
pub const NATIVE_PROBE: &str = "host-probe";
/// The in-process engine that runs native code.
pub const NATIVE_ENGINE: &str = "native";

/// Which hosts the kit runs on.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    /// WebAssembly engines: (name, version).
    pub wasm: Vec<(String, String)>,
    /// The native engine's version, when it runs the native probes.
    pub native: Option<String>,
    /// The Envoy binary (V8 and the bridge), when Envoy is a host.
    pub envoy: Option<PathBuf>,
    /// Whether the probes' native build runs (on `native` and through the bridge); without it
    /// those hosts are left out.
    pub native_probes: bool,
}

/// Runs every probe on `hosts`, telling `progress` what it starts; an error is a failure to
/// set the kit up (a temporary folder, a probe that is not valid WebAssembly text).
pub fn run(hosts: &Hosts, progress: &mut dyn FnMut(&str)) -> Result<Matrix, String> {
    let probes = probes::all();
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let modules = write_modules(&probes, dir.path())?;
    let mut columns: Vec<(Host, HostOutcomes)> = Vec::new();
    for (name, version) in &hosts.wasm {
        progress(&format!("{} probes on {name}", probes.len()));
        let outcomes = probes
            .iter()
            .zip(&modules)
            .map(|(probe, wasm)| {
                let source = ModuleSource {
                    name: probe.name.to_owned(),
                    wasm: Some(wasm.clone()),
                    native: None,
                };
                ProbeRun::Ran(in_process::run(name, probe, &source, ""))
            })
            .collect();
        columns.push((host(name, HostKind::InProcess, version), outcomes));
    }
    if let Some(version) = hosts.native.as_ref().filter(|_| hosts.native_probes) {
        progress("the native probes on native");
        let outcomes = native_runs(&probes, &native_library(), |probe, library, config| {
            let source = ModuleSource {
                name: probe.name.to_owned(),
                wasm: None,
                native: Some(library.to_owned()),
            };
            Ok(in_process::run(NATIVE_ENGINE, probe, &source, config))
        });
        columns.push((host(NATIVE_ENGINE, HostKind::InProcess, version), outcomes));
    }
    if let Some(binary) = &hosts.envoy {
        let version = tools::version(Tool::Envoy, binary)
            .map(|v| format!("envoy {v}"))
            .unwrap_or_else(|| "envoy (version unknown)".to_owned());
        progress(&format!(
            "{} probes through {} ({version}, V8)",
            probes.len(),
            binary.display()
        ));
        let work = |name: &str| dir.path().join(name);
        let outcomes = probes
            .iter()
            .zip(&modules)
            .map(|(probe, wasm)| {
                match envoy::run(binary, probe, Form::Wasm(wasm), &work(probe.name)) {
                    Ok(outcome) => ProbeRun::Ran(outcome),
                    Err(why) => ProbeRun::NotRun(why),
                }
            })
            .collect();
        columns.push((host("envoy", HostKind::Envoy, &version), outcomes));
        if hosts.native_probes {
            progress("the native probes through Envoy's dynamic modules (the bridge)");
            let library = bridge::check_envoy(binary)
                .map_err(|e| e.to_string())
                .and_then(|()| native_library());
            let outcomes = native_runs(&probes, &library, |probe, library, config| {
                let dir = work(&format!("{}-native", probe.name));
                envoy::run(binary, probe, Form::Native(library, config), &dir)
            });
            let bridge = host(ENVOY_NATIVE, HostKind::EnvoyNative, &version);
            columns.push((bridge, outcomes));
        }
    }
    Ok(matrix::build(&probes, columns))
}

fn host(name: &str, kind: HostKind, version: &str) -> Host {
    Host {
        name: name.to_owned(),
        kind,
        version: version.to_owned(),
    }
}

/// Whether the probes' native build is there already (built with the bench filters), so that
/// a run can include the native hosts without building the bench filters for them.
pub fn native_probes_built() -> bool {
    artifacts::native_path(NATIVE_PROBE).is_file()
}

/// The native build of the probes (built with the bench filters).
fn native_library() -> Result<PathBuf, String> {
    artifacts::ensure_built(NATIVE_PROBE)
        .map_err(|e| format!("cannot build {NATIVE_PROBE}: {e}"))
        .and_then(|s| {
            s.native
                .ok_or_else(|| format!("{NATIVE_PROBE}: no native build"))
        })
}

/// Each probe's run in its native form with `run(probe, library, configuration)`; probes
/// without one are not applicable, and every probe is not run when `library` is an error.
fn native_runs(
    probes: &[Probe],
    library: &Result<PathBuf, String>,
    mut run: impl FnMut(&Probe, &Path, &str) -> Result<Outcome, String>,
) -> HostOutcomes {
    probes
        .iter()
        .map(|probe| match (probe.native, library) {
            (None, _) => ProbeRun::NotApplicable(
                "no native form: it needs a guest allocator, a start function or a trap".to_owned(),
            ),
            (Some(_), Err(why)) => ProbeRun::NotRun(why.clone()),
            (Some(configuration), Ok(library)) => match run(probe, library, configuration) {
                Ok(outcome) => ProbeRun::Ran(outcome),
                Err(why) => ProbeRun::NotRun(why),
            },
        })
        .collect()
}

/// Writes each probe's module into `dir`; the paths in probe order.
fn write_modules(probes: &[Probe], dir: &Path) -> Result<Vec<PathBuf>, String> {
    probes
        .iter()
        .map(|probe| {
            let path = dir.join(format!("{}.wasm", probe.name));
            std::fs::write(&path, probe.wasm()?)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(path)
        })
        .collect()
}
