//! The methodology, written from the run's own settings, and the commands that reproduce it.

use crate::document::Method;
use filterbench_analysis::analysis;
use filterbench_results::results::{Invocation, Results};

/// The script a command line of filterbench is run through: `run` by `scripts/bench.sh`,
/// `envoy` by `scripts/envoy.sh`; anything else through the built executable.
fn command_line(invocation: &Invocation) -> String {
    let quote = |a: &str| {
        if a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
        {
            a.to_owned()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    let (first, rest) = invocation
        .args
        .split_first()
        .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
    let rest: Vec<String> = rest.iter().map(|a| quote(a)).collect();
    let extra: Vec<&str> = invocation
        .features
        .iter()
        .map(String::as_str)
        .filter(|f| matches!(*f, "wasmer-llvm" | "wamr-llvm"))
        .collect();
    let features = if extra.is_empty() {
        String::new()
    } else {
        format!(" --features {}", extra.join(","))
    };
    match first {
        "run" => format!("./scripts/bench.sh{features} {}", rest.join(" ")),
        "envoy" if extra.is_empty() => format!("./scripts/envoy.sh {}", rest.join(" ")),
        "envoy" => format!(
            "FILTERBENCH_FEATURES={} ./scripts/envoy.sh {}",
            extra.join(","),
            rest.join(" ")
        ),
        other => format!("\"$(bash scripts/build.sh)\" {other} {}", rest.join(" ")),
    }
    .trim_end()
    .to_owned()
}

/// Where a command line wrote its results: its `--out`, else the command's default.
fn output(invocation: &Invocation) -> String {
    let args = &invocation.args;
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--out=") {
            return v.to_owned();
        }
        if a == "--out"
            && let Some(v) = args.get(i + 1)
        {
            return v.clone();
        }
    }
    match args.first().map(String::as_str) {
        Some("envoy") => "results/envoy.json".to_owned(),
        _ => "results/results.json".to_owned(),
    }
}

/// The reproduce block: check out the commit, run each recorded command, report them together.
fn reproduce(results: &Results) -> Vec<String> {
    if results.invocations.is_empty() {
        return Vec::new();
    }
    let mut lines = Vec::new();
    if results.invocations.iter().any(|i| i.dirty == Some(true)) {
        lines
            .push("# some of these ran with uncommitted changes on top of their commit".to_owned());
    }
    let mut checked_out: Option<&str> = None;
    for invocation in &results.invocations {
        match invocation.commit.as_deref() {
            Some(commit) if checked_out != Some(commit) => {
                lines.push(format!("git checkout {commit}"));
                checked_out = Some(commit);
            }
            None if checked_out.is_some() || lines.is_empty() => {
                lines.push("# (the commit of the next command was not recorded)".to_owned());
            }
            _ => {}
        }
        lines.push(command_line(invocation));
    }
    if results.invocations.len() > 1 {
        let outs: Vec<String> = results.invocations.iter().map(output).collect();
        lines.push(format!(
            "\"$(bash scripts/build.sh)\" report {} --out report",
            outs.join(" ")
        ));
    }
    lines
}

/// The methodology of `results`, from its settings, summary and environment.
pub fn of(results: &Results) -> Method {
    let s = &results.settings;
    let env = &results.environment;
    let mut paragraphs = Vec::new();
    if !results.cells.is_empty() {
        paragraphs.push(format!(
            "In-process measuring: every cell (filter × engine × workload) ran {} ms of warm-up, then {} interleaved rounds of one {} ms slice in each of {} measuring process(es) one after another{}, every slice next to a slice of native code of the same filter and workload in a random order, cells in a fresh random order each round; {} block(s) per process, each with a fresh module load and instance behind a heap padding of random size. Start-up phases: {} instance(s) per filter and engine.",
            s.warmup_ms,
            s.rounds,
            s.slice_ms,
            s.runs,
            if s.quick { " (`--quick`)" } else { "" },
            s.blocks.max(1),
            s.phase_samples
        ));
        paragraphs.push(
            "Estimator: a cell's ratio to native is the median of its per-round paired ratios; a filter's, the geometric mean over its workloads (scaling sweeps excluded); an engine's, the geometric mean over filters. Intervals are 95%, from a hierarchical bootstrap over measuring processes, blocks and rounds.".to_owned(),
        );
        if let Some(floor) = results.cells.iter().find(|c| {
            c.engine == analysis::FLOOR_ENGINE && c.filter == "noop" && c.workload == "get-small"
        }) && let Some(time) = floor.steady.as_ref().and_then(|t| t.median)
        {
            paragraphs.push(format!(
                "Host floor: the host's own lifecycle with callbacks that return at once, measured in the same rounds, took {} on noop/get-small{}. `Above the host floor` takes it out of both sides: (engine − floor) ÷ (native − floor), per round.",
                filterbench_analysis::format::ns_estimate(&time),
                floor.ratio_to_native.map_or(String::new(), |r| format!(
                    " ({:.0}% [{:.0}–{:.0}%] of native noop's time)",
                    r.value * 100.0,
                    r.low * 100.0,
                    r.high * 100.0
                ))
            ));
        }
        let summary = &results.summary;
        if let Some(median) = summary.aa_median_half_width() {
            paragraphs.push(format!(
                "Precision: a second instance of native code measured against the first (A/A) came out with 1 inside its interval in {} of {} filter/workload groups (median half-width ±{:.1}%). Cells whose interval is wider than ±{:.1}% are flagged noisy.",
                summary.aa_containing_one(),
                summary.precision.len(),
                median * 100.0,
                summary.noise_threshold * 100.0
            ));
        }
        paragraphs.push(format!(
            "Verdicts and multiplicity: a cell is `slower` or `faster` when its ratio differs from 1 with the false-discovery rate held at 5% over all of the run's engine cells (Benjamini–Hochberg), `within ±5%` when its whole interval lies within 5% of 1, `inconclusive` otherwise.{}",
            if s.between_run_sd > 0.0 {
                format!(
                    " Every ratio's interval also carries a between-run term of {:.1}% (what a whole run shares and no resampling inside it can see, measured from pairs of back-to-back runs).",
                    s.between_run_sd * 100.0
                )
            } else {
                String::new()
            }
        ));
        if let Some(speed) = &results.summary.speed {
            paragraphs.push(match speed.fast_share {
                Some(fast) => format!(
                    "Machine state: a canary loop timed each round found the machine in its fast state in {:.0}% of rounds; ratios come from those rounds (cells with too few use all rounds and are marked `mixed state`).",
                    fast * 100.0
                ),
                None => format!(
                    "Machine state: a canary loop timed each round found the machine slow in {:.0}% of rounds; adjacent pairs cancel the state.",
                    speed.slow_share * 100.0
                ),
            });
        }
    }
    if let Some(envoy) = &results.envoy {
        let e = &envoy.settings;
        let mut parts = Vec::new();
        if !envoy.runs.is_empty() {
            parts.push(format!(
                "load runs from loopback only: {} round(s) of {:.0} s runs after {:.0} s of warm-up, {} connection(s), fixed rate {} ({})",
                e.rounds,
                e.duration_s,
                e.warmup_s,
                e.connections,
                if e.rate_rps > 0.0 {
                    format!("{:.0} req/s", e.rate_rps)
                } else {
                    "per filter".to_owned()
                },
                e.rate_source
            ));
        }
        if !envoy.cpu.is_empty() {
            parts.push("worker CPU per request in paired slices at a fixed rate".to_owned());
        }
        if !envoy.instructions.is_empty() {
            parts.push("instructions per request counted under valgrind's callgrind".to_owned());
        }
        if !envoy.sweeps.is_empty() {
            parts.push(
                "memory (and counts) against workers and plugins, one Envoy per point".to_owned(),
            );
        }
        paragraphs.push(format!(
            "Envoy: {} with {} worker thread(s){}; {}. Each Envoy section says how its figures were made.",
            e.envoy_version,
            e.concurrency,
            e.envoy_cpu
                .map_or(String::new(), |c| format!(", pinned to CPU {c}")),
            parts.join("; ")
        ));
    }
    paragraphs.push(format!(
        "Environment: {} ({}), {} logical cores, {}, kernel {}, clock source {}; measuring thread {}; commit {}{}.",
        env.cpu_model,
        if env.arch.is_empty() { "arch not recorded" } else { env.arch.as_str() },
        env.cores,
        env.os,
        env.kernel,
        env.clocksource,
        s.pinned_cpu.map_or_else(
            || format!(
                "not pinned{}",
                s.pinning_error
                    .as_deref()
                    .map_or(String::new(), |e| format!(" ({e})"))
            ),
            |c| format!("pinned to CPU {c}")
        ),
        env.git_commit.as_deref().unwrap_or("unknown"),
        match env.git_dirty {
            Some(true) => ", with uncommitted changes (or merged from several commits)",
            Some(false) => ", clean tree",
            None => "",
        }
    ));
    let reproduce = reproduce(results);
    if reproduce.is_empty() {
        paragraphs.push("The command lines were not recorded in these results (files written before they were); the settings above describe the run.".to_owned());
    }
    Method {
        paragraphs,
        reproduce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(args: &[&str], features: &[&str]) -> Invocation {
        Invocation {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            features: features.iter().map(|a| (*a).to_owned()).collect(),
            commit: Some("abc123".to_owned()),
            dirty: Some(false),
        }
    }

    #[test]
    fn command_lines_go_through_the_scripts_with_their_features() {
        assert_eq!(
            command_line(&invocation(
                &["run", "--quick", "--filter", "noop"],
                &["wasmtime"]
            )),
            "./scripts/bench.sh --quick --filter noop"
        );
        assert_eq!(
            command_line(&invocation(
                &["run", "--engine", "wasmer-llvm"],
                &["wasmer", "wasmer-llvm"]
            )),
            "./scripts/bench.sh --features wasmer-llvm --engine wasmer-llvm"
        );
        assert_eq!(
            command_line(&invocation(
                &["envoy", "--measure", "instructions"],
                &["wasmtime"]
            )),
            "./scripts/envoy.sh --measure instructions"
        );
        assert_eq!(
            command_line(&invocation(&["run", "--spec", "a b.yaml"], &[])),
            "./scripts/bench.sh --spec 'a b.yaml'"
        );
        assert_eq!(
            output(&invocation(&["run", "--out", "x.json"], &[])),
            "x.json"
        );
        assert_eq!(output(&invocation(&["envoy"], &[])), "results/envoy.json");
    }
}
