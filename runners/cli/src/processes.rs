//! A run split over several measuring processes, merged into one results file.
//!
//! Some of what a measurement depends on is fixed for the life of a process and changes only
//! between processes: where the executable and the native libraries were mapped, the heap's
//! history. Measured here: native code of one filter ran at a steady 410 ns in every block of
//! one process and at 464 ns in every block of the next, so intervals from one process were
//! narrower than the run-to-run spread. A standard run therefore measures the matrix in several
//! child processes one after another, each with its share of the rounds (the first one also
//! measures start-up phases), and merges them; the intervals resample processes, then blocks,
//! then rounds. `--repeat N` makes N such runs in a row (N times the rounds).

use anyhow::{Context, Result, bail};
use filterbench_harness::merge;
use filterbench_harness::results::{self, Results};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

/// Flags of `run` that the parent handles and the children must not get (with their values).
const PARENT_FLAGS: [&str; 7] = [
    "--repeat",
    "--processes",
    "--out",
    "--report",
    "--measure",
    "--resume",
    "--worker",
];

/// `--worker K/N`: this process measures the K-th share (1-based) of a run split over N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Worker {
    /// Which share, 1-based.
    pub index: u32,
    /// Into how many processes the run is split.
    pub of: u32,
}

impl Worker {
    /// Whether this share also measures the start-up phases (the first of each run does).
    pub fn measures_phases(self) -> bool {
        self.index == 1
    }
}

impl FromStr for Worker {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parse = |part: &str| part.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (index, of) = text
            .split_once('/')
            .and_then(|(k, n)| Some((parse(k)?, parse(n)?)))
            .ok_or_else(|| format!("expected K/N with 1 <= K <= N, got '{text}'"))?;
        if index > of {
            return Err(format!("expected K/N with 1 <= K <= N, got '{text}'"));
        }
        Ok(Self { index, of })
    }
}

/// The child's arguments: this process's `run` arguments minus the parent's flags.
fn child_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        // The parent prints the merged results; a child's share is only its file.
        if arg == "--no-report" || arg == "--results-to-stdout" {
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

/// Where the processes of a run writing `out` keep their files: `.<stem>-processes/` next to it.
pub fn scratch_dir(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or("results".into(), |s| s.to_string_lossy());
    out.parent()
        .unwrap_or(Path::new("."))
        .join(format!(".{stem}-processes"))
}

/// Runs the matrix in `processes` × `repeat` child processes, one after another, and merges
/// them. Each process's file is kept in [`scratch_dir`] until the end (a running process
/// rewrites its own after every filter), so `resume` (from the same `out`) keeps the finished
/// processes and goes on with the unfinished one's unfinished filters.
pub fn run_split(processes: u32, repeat: u32, out: &Path, resume: bool) -> Result<Results> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = child_args(&args);
    let scratch = scratch_dir(out);
    if resume && !scratch.exists() {
        bail!(
            "nothing to resume for {}: {} does not exist (the run finished, or it was not split over processes: resume it with --processes 1)",
            out.display(),
            scratch.display()
        );
    }
    if !resume && scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot clear {}", scratch.display()))?;
    }
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let total = processes * repeat;
    let mut done: Vec<Results> = Vec::new();
    for i in 1..=total {
        let worker = Worker {
            index: (i - 1) % processes + 1,
            of: processes,
        };
        let finished = scratch.join(format!("process-{i}.json"));
        let partial = scratch.join(format!("process-{i}.partial.json"));
        if resume && finished.exists() {
            eprintln!("=== process {i} of {total}: finished before, kept ===");
            done.push(read(&finished)?);
            continue;
        }
        eprintln!(
            "=== process {i} of {total}{} ===",
            if worker.measures_phases() {
                " (also start-up phases)"
            } else {
                ""
            }
        );
        let mut command = Command::new(&exe);
        // The child dies with this process (Ctrl-C, kill): no orphaned runs.
        filterbench_envoy::process::die_with_parent(&mut command);
        command
            .args(&args)
            .arg("--worker")
            .arg(format!("{}/{}", worker.index, worker.of))
            .args(["--no-report", "--out"])
            .arg(&partial);
        if resume && partial.exists() {
            command.arg("--resume").arg(&partial);
        }
        let started = std::time::Instant::now();
        let status = command
            .stdout(Stdio::null())
            .status()
            .context("cannot start a measuring process")?;
        if !status.success() {
            bail!(
                "measuring process {i} of {total} failed ({status}); the {} finished process(es) and this one's finished filters are kept in {} — run the same command with `--resume {}` to go on from where it stopped",
                done.len(),
                scratch.display(),
                out.display()
            );
        }
        eprintln!(
            "=== process {i} of {total} done in {:.0} s ===",
            started.elapsed().as_secs_f64()
        );
        std::fs::rename(&partial, &finished)
            .with_context(|| format!("cannot keep {}", finished.display()))?;
        done.push(read(&finished)?);
    }
    let merged = merge::merge(done).context("no processes")?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(merged)
}

fn read(file: &Path) -> Result<Results> {
    results::read(file).with_context(|| format!("cannot read {}", file.display()))
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
            "--processes=2",
            "--out",
            "x.json",
            "--report=dir",
            "--resume",
            "x.json",
            "--no-report",
            "--filter",
            "noop",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(child_args(&args), ["run", "--quick", "--filter", "noop"]);
    }

    #[test]
    fn worker_shares_parse_and_bad_ones_are_refused() {
        assert_eq!("2/3".parse::<Worker>(), Ok(Worker { index: 2, of: 3 }));
        assert!("1/3".parse::<Worker>().unwrap().measures_phases());
        assert!(!"3/3".parse::<Worker>().unwrap().measures_phases());
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Worker>().is_err(), "{bad}");
        }
    }

    #[test]
    fn scratch_sits_next_to_the_results() {
        assert_eq!(
            scratch_dir(Path::new("results/results.json")),
            Path::new("results/.results-processes")
        );
    }
}
