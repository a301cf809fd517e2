//! `--measure instructions`: instructions per lifecycle counted under callgrind, a channel that
//! does not move when other processes share the machine. Each cell runs in a child process of
//! this binary (`filterbench count-instructions`) under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=<the counted loop>`, so only
//! the timed lifecycles are counted: not start-up, compilation or warm-up. JIT-compiled code
//! needs `--smc-check=all` to be seen by valgrind.

use anyhow::{Context, Result, bail};
use filterbench_harness::results::{InstructionCount, Results};
use filterbench_harness::run::{self, Subject};
use filterbench_host::{FilterInstance, HttpExchange};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Lifecycles counted per cell.
pub const LIFECYCLES: u64 = 200;
/// Warm-up lifecycles before counting.
const WARMUP: u64 = 20;
/// Longest a cell may take under valgrind.
const CELL_TIMEOUT: Duration = Duration::from_secs(600);
/// Symbol valgrind toggles collection on.
const COUNTED_SYMBOL: &str = "filterbench_counted_lifecycles";

/// The counted loop: the only code whose instructions are collected.
#[unsafe(no_mangle)]
#[inline(never)]
pub fn filterbench_counted_lifecycles(
    instance: &mut dyn FilterInstance,
    exchange: &HttpExchange,
    lifecycles: u64,
) -> Result<(), filterbench_host::FilterError> {
    for _ in 0..lifecycles {
        instance.run_stream(std::hint::black_box(exchange))?;
    }
    Ok(())
}

/// Child side: runs one cell's lifecycles so the parent's valgrind can count them.
pub fn child(subject: &Subject, engine: &str, workload: &str, lifecycles: u64) -> Result<()> {
    let engine_impl = filterbench_engines::create(engine).map_err(|e| anyhow::anyhow!("{e}"))?;
    let module = engine_impl.load(&subject.source)?;
    let mut instance = run::start_instance(module.as_ref(), &subject.filter)?;
    let workload = filterbench_harness::catalog::workload(workload)
        .or_else(|| {
            let own = &subject.filter.custom.workloads;
            own.iter().find(|w| w.name == workload).cloned()
        })
        .with_context(|| format!("unknown workload '{workload}'"))?;
    for _ in 0..WARMUP {
        instance.run_stream(&workload.exchange)?;
    }
    filterbench_counted_lifecycles(instance.as_mut(), &workload.exchange, lifecycles)?;
    Ok(())
}

/// Whether valgrind can be run.
pub fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Reads the event total from a callgrind output file (the same reader as Envoy's counts).
pub fn parse_total(text: &str) -> Option<u64> {
    filterbench_envoy::instructions::parse_dump(text).map(|counted| counted.total)
}

/// Counts one cell: runs the child under callgrind and divides the total by the lifecycles.
fn count_cell(
    subject_args: &[String],
    engine: &str,
    workload: &str,
    scratch: &Path,
) -> Result<InstructionCount> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let out = scratch.join(format!("callgrind.{engine}.{workload}.out"));
    let mut child = Command::new("timeout");
    filterbench_envoy::process::die_with_parent(&mut child);
    child
        .arg(CELL_TIMEOUT.as_secs().to_string())
        .args([
            "valgrind",
            "--tool=callgrind",
            "--smc-check=all",
            "--collect-atstart=no",
        ])
        .arg(format!("--toggle-collect={COUNTED_SYMBOL}"))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .arg("count-instructions")
        .args(subject_args)
        .args(["--engine", engine, "--workload", workload])
        .args(["--lifecycles", &LIFECYCLES.to_string()]);
    let output = child.output().context("cannot start valgrind")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!(
            "{engine} could not run under valgrind (exit {}): {}",
            output.status,
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    let text = std::fs::read_to_string(&out).context("callgrind wrote no output")?;
    let _ = std::fs::remove_file(&out);
    let total = parse_total(&text).context("no totals in callgrind output")?;
    if total == 0 {
        bail!("callgrind counted nothing (the counted loop was not seen)");
    }
    Ok(InstructionCount {
        per_lifecycle: (total as f64 / LIFECYCLES as f64 * 10.0).round() / 10.0,
        lifecycles: LIFECYCLES,
        ratio_to_native: None,
    })
}

/// Counts instructions for every timed cell of `results`; `subject_args(filter)` gives the
/// arguments that rebuild a filter's subject in the child.
pub fn count_all(
    results: &mut Results,
    subject_args: &dyn Fn(&str) -> Vec<String>,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    if !valgrind_available() {
        bail!("--measure instructions needs valgrind: install it with `apt-get install valgrind`");
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    // Calibration cells (host floor, A/A twin) are timing devices, not engines to count.
    for cell in results
        .cells
        .iter_mut()
        .filter(|c| c.steady.is_some() && !filterbench_harness::analysis::is_calibration(&c.engine))
    {
        progress(&format!(
            "counting instructions: {} / {} / {}",
            cell.filter, cell.engine, cell.workload
        ));
        match count_cell(
            &subject_args(&cell.filter),
            &cell.engine,
            &cell.workload,
            scratch.path(),
        ) {
            Ok(count) => cell.instructions = Some(count),
            Err(error) => cell.instructions_error = Some(format!("{error:#}")),
        }
    }
    results.settings.measure.push("instructions".to_owned());
    filterbench_harness::analysis::analyze(results);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callgrind_totals_are_read() {
        assert_eq!(
            parse_total("events: Ir\nsummary: 1234\ntotals: 1234\n"),
            Some(1234)
        );
        assert_eq!(parse_total("events: Ir\n"), None);
    }
}
