//! `filterbench conformance`: the host conformance kit — every probe on every in-process
//! WebAssembly engine and through a real Envoy, printed as a matrix with Envoy as the
//! reference (and written as JSON with `--json`). Exits with status 3 on an unexplained
//! difference.

use anyhow::{Context, Result, bail};
use clap::Args;
use filterbench_conformance::{kit, matrix};
use filterbench_envoy::tools::{self, Tool};
use filterbench_harness::host_conformance::Matrix as HostConformance;
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
    /// Engines, comma-separated, `native` for the probes' native build (default: every engine
    /// of this build)
    #[arg(long, value_delimiter = ',')]
    engine: Vec<String>,
    /// Also write the matrix as JSON (format: docs/conformance.md)
    #[arg(long, value_name = "PATH.json")]
    json: Option<PathBuf>,
}

/// Runs the kit; exits with status 3 when a host differs from the reference without an
/// explanation.
pub fn command(args: ConformanceArgs) -> Result<()> {
    let mut hosts = engines(&args.engine)?;
    if !args.no_envoy {
        let binary = tools::find(Tool::Envoy, args.envoy.as_deref()).map_err(|e| {
            anyhow::anyhow!(
                "{e} (or pass --no-envoy to compare with Envoy 1.40's recorded answers)"
            )
        })?;
        hosts.envoy = Some(binary);
    }
    let matrix = kit::run(&hosts, &mut |step| eprintln!("conformance: {step}"))
        .map_err(anyhow::Error::msg)?;
    print!("{}", matrix::render(&matrix));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&matrix)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("conformance: matrix written to {}", path.display());
    }
    if !matrix::problems(&matrix).is_empty() {
        std::process::exit(3);
    }
    Ok(())
}

/// The matrix `filterbench run` and `filterbench envoy` record: every engine of the build (the
/// native one running the probes' native build), compared with Envoy 1.40's recorded answers
/// or, given `envoy`, with that Envoy (V8 and the bridge) as hosts and reference.
pub fn record(envoy: Option<&Path>) -> Result<HostConformance> {
    let mut hosts = engines(&[])?;
    hosts.envoy = envoy.map(Path::to_path_buf);
    // A run of a user's module may not have built the bench filters: the native hosts are
    // left out rather than built for (`filterbench conformance` builds them).
    hosts.native_probes = kit::native_probes_built();
    let matrix = kit::run(&hosts, &mut |_| {}).map_err(anyhow::Error::msg)?;
    let problems = matrix::problems(&matrix);
    eprintln!(
        "host conformance: {} behaviours × {} hosts, {} unexplained difference(s) (filterbench conformance shows the matrix)",
        matrix.rows.len(),
        matrix.hosts.len(),
        problems.len()
    );
    for problem in problems {
        eprintln!("  {problem}");
    }
    Ok(matrix)
}

/// The engines asked for (`native` among them for the native probes), or every engine of
/// this build.
fn engines(asked: &[String]) -> Result<kit::Hosts> {
    let all = filterbench_engines::available();
    let version = |name: &str| -> Result<String> {
        let info = filterbench_engines::create(name)
            .with_context(|| format!("engine {name}"))?
            .info();
        Ok(format!("{} {}", info.family, info.version))
    };
    let native = match all.iter().find(|e| e.is_native) {
        Some(entry) if asked.is_empty() || asked.iter().any(|a| a == entry.name) => {
            Some(version(entry.name)?)
        }
        _ => None,
    };
    let everything = asked.is_empty();
    let asked: Vec<String> = asked
        .iter()
        .filter(|a| a.as_str() != kit::NATIVE_ENGINE)
        .cloned()
        .collect();
    let available: Vec<_> = all.into_iter().filter(|e| !e.is_native).collect();
    let names: Vec<String> = if everything {
        available.iter().map(|e| e.name.to_owned()).collect()
    } else {
        for name in &asked {
            if !available.iter().any(|e| e.name == name) {
                bail!(
                    "no engine {name} in this build; available: {}, native",
                    available
                        .iter()
                        .map(|e| e.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        asked
    };
    let wasm = names
        .into_iter()
        .map(|name| Ok((name.clone(), version(&name)?)))
        .collect::<Result<_>>()?;
    Ok(kit::Hosts {
        wasm,
        native,
        envoy: None,
        native_probes: true,
    })
}
