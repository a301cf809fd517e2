//! `filterbench conformance`: the host conformance kit — every probe on every in-process
//! WebAssembly engine and through a real Envoy, printed as a matrix with Envoy as the
//! reference (and written as JSON with `--json`). Exits with status 3 on an unexplained
//! difference.

use anyhow::{Context, Result, bail};
use clap::Args;
use filterbench_conformance::matrix::{Host, HostKind, HostOutcomes, Matrix};
use filterbench_conformance::probes::{self, Probe};
use filterbench_conformance::{envoy, in_process};
use filterbench_envoy::tools::{self, Tool};
use std::path::{Path, PathBuf};

/// Options of `filterbench conformance`.
#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// The Envoy binary to compare with (any release, any build); default: the one
    /// scripts/setup-envoy.sh installed, or $FILTERBENCH_ENVOY
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
    /// Run no Envoy: compare the in-process host with the answers recorded from Envoy 1.40
    #[arg(long, conflicts_with = "envoy")]
    no_envoy: bool,
    /// Engines, comma-separated (default: every WebAssembly engine of this build)
    #[arg(long, value_delimiter = ',')]
    engine: Vec<String>,
    /// Also write the matrix as JSON (format: docs/conformance.md)
    #[arg(long, value_name = "PATH.json")]
    json: Option<PathBuf>,
}

/// Runs the kit; exits with status 3 when a host differs from the reference without an
/// explanation.
pub fn command(args: ConformanceArgs) -> Result<()> {
    let probes = probes::all();
    let engines = engines(&args.engine)?;
    let dir = tempfile::tempdir().context("cannot create a temporary folder for the probes")?;
    let modules = write_modules(&probes, dir.path())?;
    let mut hosts: Vec<(Host, HostOutcomes)> = Vec::new();
    for (name, version) in engines {
        eprintln!("conformance: {} probes on {name}", probes.len());
        let outcomes = probes
            .iter()
            .zip(&modules)
            .map(|(probe, wasm)| Ok(in_process::run(&name, probe, wasm)))
            .collect();
        let host = Host {
            name,
            kind: HostKind::InProcess,
            version,
        };
        hosts.push((host, outcomes));
    }
    if !args.no_envoy {
        let binary = tools::find(Tool::Envoy, args.envoy.as_deref()).map_err(|e| {
            anyhow::anyhow!(
                "{e} (or pass --no-envoy to compare with Envoy 1.40's recorded answers)"
            )
        })?;
        let version = tools::version(Tool::Envoy, &binary)
            .map(|v| format!("envoy {v}"))
            .unwrap_or_else(|| "envoy (version unknown)".to_owned());
        eprintln!(
            "conformance: {} probes through {} ({version}, V8)",
            probes.len(),
            binary.display()
        );
        let outcomes = probes
            .iter()
            .zip(&modules)
            .map(|(probe, wasm)| envoy::run(&binary, probe, wasm, &dir.path().join(probe.name)))
            .collect();
        hosts.push((
            Host {
                name: "envoy".to_owned(),
                kind: HostKind::Envoy,
                version,
            },
            outcomes,
        ));
    }
    let matrix = Matrix::build(&probes, hosts);
    print!("{}", matrix.render());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&matrix)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("conformance: matrix written to {}", path.display());
    }
    if !matrix.problems().is_empty() {
        std::process::exit(3);
    }
    Ok(())
}

/// (name, version) of the engines asked for, or of every WebAssembly engine of this build.
fn engines(asked: &[String]) -> Result<Vec<(String, String)>> {
    let available: Vec<_> = filterbench_engines::available()
        .into_iter()
        .filter(|e| !e.is_native)
        .collect();
    let names: Vec<String> = if asked.is_empty() {
        available.iter().map(|e| e.name.to_owned()).collect()
    } else {
        for name in asked {
            if !available.iter().any(|e| e.name == name) {
                bail!(
                    "no WebAssembly engine {name} in this build (the probes are WebAssembly \
                     modules); available: {}",
                    available
                        .iter()
                        .map(|e| e.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        asked.to_vec()
    };
    names
        .into_iter()
        .map(|name| {
            let info = filterbench_engines::create(&name)
                .with_context(|| format!("engine {name}"))?
                .info();
            Ok((name, format!("{} {}", info.family, info.version)))
        })
        .collect()
}

/// Writes each probe's module into `dir`; the paths in probe order.
fn write_modules(probes: &[Probe], dir: &Path) -> Result<Vec<PathBuf>> {
    probes
        .iter()
        .map(|probe| {
            let path = dir.join(format!("{}.wasm", probe.name));
            let wasm = probe.wasm().map_err(anyhow::Error::msg)?;
            std::fs::write(&path, wasm)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}
