//! `--repeat N`: the whole matrix N times, each run in its own process (fresh heap, fresh code
//! layout, fresh JIT placement), merged into one results file whose intervals pool all rounds.

use anyhow::{Context, Result, bail};
use filterbench_harness::merge;
use filterbench_harness::results::{self, Results};
use std::path::Path;
use std::process::{Command, Stdio};

/// Flags of `run` that the parent handles and the children must not get (with their values).
const PARENT_FLAGS: [&str; 4] = ["--repeat", "--out", "--report", "--measure"];

/// The child's arguments: this process's `run` arguments minus the parent's flags.
fn child_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if arg == "--no-report" {
            continue;
        }
        if PARENT_FLAGS.contains(&arg.as_str()) {
            skip_value = true;
            continue;
        }
        if PARENT_FLAGS
            .iter()
            .any(|flag| arg.starts_with(&format!("{flag}=")))
        {
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// Runs the matrix `runs` times in child processes and merges the results.
pub fn run_repeated(runs: u32, out: &Path) -> Result<Results> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = child_args(&args);
    if std::env::args().any(|a| a.starts_with("--measure")) {
        eprintln!(
            "note: --measure instructions is not repeated (instruction counts are deterministic); run it without --repeat"
        );
    }
    let scratch = out.parent().unwrap_or(Path::new(".")).join(".repeat");
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let mut done = Vec::new();
    for i in 1..=runs {
        eprintln!("=== run {i} of {runs} ===");
        let file = scratch.join(format!("run-{i}.json"));
        let mut command = Command::new(&exe);
        // The child dies with this process (Ctrl-C, kill): no orphaned runs.
        filterbench_envoy::process::die_with_parent(&mut command);
        let status = command
            .args(&args)
            .args(["--no-report", "--out"])
            .arg(&file)
            .stdout(Stdio::null())
            .status()
            .context("cannot start a run")?;
        if !status.success() {
            bail!(
                "run {i} of {runs} failed ({status}); the {} finished run(s) are in {}",
                done.len(),
                scratch.display()
            );
        }
        done.push(results::read(&file).with_context(|| format!("cannot read {}", file.display()))?);
    }
    let merged = merge::merge(done).context("no runs")?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_flags_are_not_passed_to_children() {
        let args: Vec<String> = [
            "run",
            "--quick",
            "--repeat",
            "3",
            "--out",
            "x.json",
            "--report=dir",
            "--no-report",
            "--filter",
            "noop",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(child_args(&args), ["run", "--quick", "--filter", "noop"]);
    }
}
