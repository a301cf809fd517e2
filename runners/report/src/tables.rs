//! The in-process run's text and tables, independent of the output format.

use crate::anchors;
use crate::document::{Finding, Section, Table};
use crate::view::{self, View};
use filterbench_analysis::{analysis, format};
use filterbench_results::results::{Conformance, FailurePolicy, Results};
use filterbench_results::stats::Verdict;

/// A row whose first cells are `lead` and the rest empty, `width` cells in all.
fn padded(lead: Vec<String>, width: usize) -> Vec<String> {
    let mut row = lead;
    row.resize(width, String::new());
    row
}

fn strings<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn timed_cells(results: &Results) -> impl Iterator<Item = &filterbench_results::results::Cell> {
    results.cells.iter().filter(|c| c.steady.is_some())
}

/// The in-process headline: the lowest and highest cost over native, with what cannot be told
/// apart from them.
pub(crate) fn engines_finding(results: &Results) -> Option<Finding> {
    let engines = results.summary.engines_fastest_first();
    let above = |e: &filterbench_results::results::EngineSummary| {
        e.geomean_ratio_above_floor
            .as_ref()
            .map_or(String::new(), |r| {
                format!(" ({} above the host floor)", format::ratio_estimate(r))
            })
    };
    // Engines whose interval overlaps the extreme one's, or that differ from it by less than
    // the run's own precision (the A/A-calibrated noise threshold), cannot be told apart from it.
    let precision = results.summary.noise_threshold;
    let tied = |extreme: &filterbench_results::results::EngineSummary| {
        let e = &extreme.geomean_ratio_to_native;
        let others: Vec<&str> = engines
            .iter()
            .filter(|o| o.engine != extreme.engine)
            .filter(|o| {
                let r = &o.geomean_ratio_to_native;
                let overlap = r.low <= e.high && e.low <= r.high;
                overlap || (r.value / e.value - 1.0).abs() <= precision
            })
            .map(|o| o.engine.as_str())
            .collect();
        if others.is_empty() {
            String::new()
        } else {
            format!(
                " (not distinguishable from {}: the intervals overlap or differ by less than the run's A/A precision)",
                others.join(", ")
            )
        }
    };
    let (best, worst) = (engines.first()?, engines.last()?);
    Some(Finding::at(
        format!(
            "In-process, lowest cost: {} at {} the time of native code{}{}, geometric mean over {} filters (sweeps excluded, 95% CI); highest: {} at {}{}{}.",
            best.engine,
            format::ratio_estimate(&best.geomean_ratio_to_native),
            above(best),
            tied(best),
            best.filters,
            worst.engine,
            format::ratio_estimate(&worst.geomean_ratio_to_native),
            above(worst),
            tied(worst),
        ),
        &anchors::section_href(ENGINES_TITLE),
    ))
}

/// The host floor's time and share of native noop.
pub(crate) fn floor_finding(results: &Results) -> Option<Finding> {
    let floor = results.cells.iter().find(|c| {
        c.engine == analysis::FLOOR_ENGINE && c.filter == "noop" && c.workload == "get-small"
    });
    let (time, share) = (
        floor?.steady.as_ref().and_then(|s| s.median)?,
        floor?.ratio_to_native?,
    );
    Some(Finding::at(
        format!(
            "The host's own per-request work (the lifecycle with no guest) takes {} on get-small, {:.0}% [{:.0}–{:.0}%] of native noop's time; every engine pays it, so ratios are also shown above it.",
            format::ns_estimate(&time),
            share.value * 100.0,
            share.low * 100.0,
            share.high * 100.0
        ),
        &format!("#{}", anchors::cell("noop", analysis::FLOOR_ENGINE)),
    ))
}

/// The run's further findings: traps, verdict counts, implausible cells and conformance;
/// then notes on the method (precision, the run-level term), which the methodology also says.
pub(crate) fn findings(results: &Results) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let aa = &results.summary.precision;
    if !aa.is_empty() {
        let containing = results.summary.aa_containing_one();
        let unreliable = aa.iter().filter(|a| a.unreliable).count();
        notes.push(format!(
            "Precision: native code measured against a second instance of itself (A/A) came out 1 within its interval in {containing} of {} filter/workload groups{}; cells whose interval is wider than ±{:.1}% are marked noisy{}.",
            aa.len(),
            if unreliable > 0 {
                format!(", and {unreliable} group(s) are marked unreliable (A/A off by more than 2%)")
            } else {
                String::new()
            },
            results.summary.noise_threshold * 100.0,
            results.summary.speed.as_ref().map_or(String::new(), |s| match s.fast_share {
                Some(fast) => format!(
                    "; ratios come from the {:.0}% of rounds the machine spent in its fast state (a canary loop within {:.0}% of its fastest), because on a busy machine the state moves ratios, not only times{}",
                    fast * 100.0,
                    (analysis::FAST_STATE_FACTOR - 1.0) * 100.0,
                    match results.cells.iter().filter(|c| c.mixed_state).count() {
                        0 => String::new(),
                        n => format!(" ({n} cells had fewer than {} such rounds and use all: marked mixed state)", analysis::MIN_FAST_ROUNDS),
                    }
                ),
                None => format!(
                    "; {:.0}% of rounds ran with the machine in a slow state (canary loop over {:.1}x its fastest), which the adjacent pairs cancel",
                    s.slow_share * 100.0,
                    analysis::SLOW_STATE_FACTOR
                ),
            })
        ));
    }
    if results.cells.iter().any(|c| c.traps > 0) {
        out.push(match results.settings.failure_policy {
            FailurePolicy::Reload => "After a trap while measuring, a fresh instance served the next request (failure policy `reload`, as Envoy's FAIL_RELOAD without its backoff; at most 20 traps per cell): the trapping lifecycle is not a sample. Envoy's default (FAIL_CLOSED) would answer every later request 503 without calling the module.".to_owned(),
            FailurePolicy::FailClosed => "After a trap while measuring, the cell stopped (failure policy `fail-closed`, Envoy's default: every later request is answered 503 without calling the module).".to_owned(),
        });
    }
    let sd = results.settings.between_run_sd;
    if sd > 0.0 && results.cells.iter().any(|c| c.ratio_to_native.is_some()) {
        notes.push(format!(
            "Run-level term: what all processes of one run share (a state of the machine that lasts minutes) cannot be resampled inside the run, so every ratio's interval also carries a between-run standard deviation of {:.1}% (measured on the reference machine from pairs of back-to-back runs; the A/A cells carry none).",
            sd * 100.0
        ));
    }
    let engine_cells: Vec<_> = timed_cells(results)
        .filter(|c| c.verdict_vs_native.is_some() && !analysis::is_calibration(&c.engine))
        .collect();
    if !engine_cells.is_empty() {
        // An implausible cell's verdict is not a finding: it is counted apart.
        let count = |v: Verdict| {
            engine_cells
                .iter()
                .filter(|c| c.verdict_vs_native == Some(v) && c.implausible.is_none())
                .count()
        };
        let flagged = engine_cells
            .iter()
            .filter(|c| c.implausible.is_some())
            .count();
        out.push(format!(
            "Of {} engine cells: {} slower than native, {} within ±5% of native, {} inconclusive, {} faster{} (verdicts at a 5% false-discovery rate over all cells).",
            engine_cells.len(),
            count(Verdict::Slower),
            count(Verdict::Equivalent),
            count(Verdict::Inconclusive),
            count(Verdict::Faster),
            if flagged > 0 {
                format!(
                    ", {flagged} implausible (faster than native code of the same source: a measurement effect, see the cells table)"
                )
            } else {
                String::new()
            },
        ));
    }
    let implausible: Vec<_> = engine_cells
        .iter()
        .filter(|c| c.implausible.is_some())
        .collect();
    if !implausible.is_empty() {
        let large = implausible
            .iter()
            .filter(|c| {
                filterbench_catalog::workloads::LARGE_BODY_WORKLOADS.contains(&c.workload.as_str())
            })
            .count();
        out.push(format!(
            "{} cell(s) came out faster than native code of the same source and are flagged implausible, not reported as findings ({} of them on bodies of 256 KiB and more, an allocator effect).",
            implausible.len(),
            large
        ));
    }
    let conformant = results
        .cells
        .iter()
        .filter(|c| matches!(c.conformance, Conformance::Pass | Conformance::Observed))
        .count();
    // Engines this build cannot run are listed in the engines table, not counted as failures.
    let failed = results
        .cells
        .iter()
        .filter(|c| matches!(c.conformance, Conformance::Fail | Conformance::Error))
        .filter(|c| c.error_kind.as_deref() != Some("unavailable"))
        .count();
    if failed > 0 && out.len() < 5 {
        out.push(format!(
            "{conformant} cells conformant and timed; {failed} not conformant or in error (see the last table)."
        ));
    }
    (out, notes)
}

/// The engines table's title.
pub(crate) const ENGINES_TITLE: &str = "Engines";

pub(crate) fn engines_section(results: &Results) -> Section {
    let mut table = Table {
        header: strings([
            "engine",
            "version",
            "slowdown vs native (geomean, 95% CI)",
            "above host floor (95% CI)",
            "verdict",
            "filters",
            "noisy cells",
        ]),
        rows: Vec::new(),
        ..Default::default()
    };
    let engines = results.summary.engines_fastest_first();
    for e in &engines {
        table.ids.push(anchors::engine(&e.engine));
        let version = results
            .engines
            .iter()
            .find(|r| r.name == e.engine)
            .and_then(|r| r.version.clone())
            .unwrap_or_default();
        table.rows.push(vec![
            e.engine.clone(),
            version,
            format::ratio_estimate(&e.geomean_ratio_to_native),
            e.geomean_ratio_above_floor
                .as_ref()
                .map_or("-".to_owned(), format::ratio_estimate),
            format::verdict(e.verdict).to_owned(),
            e.filters.to_string(),
            e.noisy_cells.to_string(),
        ]);
    }
    for e in results.engines.iter().filter(|e| e.unavailable.is_some()) {
        table.ids.push(anchors::engine(&e.name));
        table.rows.push(vec![
            e.name.clone(),
            "-".to_owned(),
            "not run".to_owned(),
            "-".to_owned(),
            e.unavailable.clone().unwrap_or_default(),
            "-".to_owned(),
            "-".to_owned(),
        ]);
    }
    Section {
        title: ENGINES_TITLE.to_owned(),
        intro: "Each engine's lifecycle time over native Rust's (the same filter source built as a shared library): per cell, the median of per-round ratios, each round pairing a slice of the engine with an adjacent slice of native code; per filter, the geometric mean over its workloads (sweeps excluded); per engine, the geometric mean over filters. `Above host floor` takes the host's own per-request work (measured as the lifecycle with no guest, in the same rounds) out of both sides: (engine − floor) ÷ (native − floor). Intervals: 95%, hierarchical bootstrap over measuring processes, blocks (fresh module loads) and rounds, times the run-level term (what a whole run shares). `within ±5%`: the whole interval lies within 5% of 1.".to_owned(),
        table,
    }
}

pub(crate) fn cells_section(results: &Results) -> Section {
    let mut table = Table {
        header: strings([
            "filter",
            "workload",
            "engine",
            "median (95% CI)",
            "p99",
            "p99.9",
            "CPU / request",
            "ratio to native (95% CI)",
            "above host floor (95% CI)",
            "verdict",
            "round CV",
        ]),
        rows: Vec::new(),
        ..Default::default()
    };
    let counted = results.cells.iter().any(|c| c.instructions.is_some());
    if counted {
        table
            .header
            .push("instructions / request (ratio)".to_owned());
    }
    let mut anchored: Vec<(&str, &str)> = Vec::new();
    for c in &results.cells {
        if c.steady.is_none() && c.error_kind.as_deref() == Some("unavailable") {
            continue;
        }
        let id = if anchored.contains(&(c.filter.as_str(), c.engine.as_str())) {
            String::new()
        } else {
            anchored.push((c.filter.as_str(), c.engine.as_str()));
            anchors::cell(&c.filter, &c.engine)
        };
        let Some(s) = &c.steady else {
            let why = match c.conformance {
                Conformance::Fail => format!("not conformant: {}", c.diff.join("; ")),
                _ => c.error.clone().unwrap_or_else(|| "not timed".to_owned()),
            };
            table.ids.push(id);
            table.rows.push(padded(
                vec![c.filter.clone(), c.workload.clone(), c.engine.clone(), why],
                table.header.len(),
            ));
            continue;
        };
        let est = |e: &Option<filterbench_results::stats::Estimate>| {
            e.as_ref().map_or("-".to_owned(), |e| format::ns(e.value))
        };
        let mut verdict = c
            .verdict_vs_native
            .map_or("baseline".to_owned(), |v| format::verdict(v).to_owned());
        if c.engine == analysis::FLOOR_ENGINE {
            verdict = "host floor (share of native)".to_owned();
        } else if c.engine == analysis::AA_ENGINE {
            verdict = "A/A precision".to_owned();
        }
        if c.noisy {
            verdict.push_str(", noisy");
        }
        if let Some(why) = &c.implausible {
            verdict.push_str(&format!(", IMPLAUSIBLE: {why}"));
        }
        if c.unreliable {
            verdict.push_str(", A/A unreliable");
        }
        if c.mixed_state {
            verdict.push_str(", mixed state");
        }
        table.ids.push(id);
        table.rows.push(vec![
            c.filter.clone(),
            c.workload.clone(),
            c.engine.clone(),
            s.median
                .as_ref()
                .map_or("-".to_owned(), format::ns_estimate),
            est(&s.p99),
            est(&s.p999),
            est(&s.cpu),
            c.ratio_to_native
                .as_ref()
                .map_or("1x".to_owned(), format::ratio_estimate),
            c.ratio_above_floor
                .as_ref()
                .map_or("-".to_owned(), format::ratio_estimate),
            verdict,
            format!("{:.1}%", s.round_cv * 100.0),
        ]);
        if counted && let Some(row) = table.rows.last_mut() {
            row.push(format::instructions(c));
        }
    }
    table.flags = Some(9);
    Section {
        title: "Every cell".to_owned(),
        intro: "Steady state after warm-up: the median over rounds of each round's median (and p99, p99.9), thread CPU time per lifecycle, and the ratio to native as the median of per-round paired ratios. `floor` is the host's own lifecycle with no guest (its ratio is its share of native time); `native-aa` is a second instance of native code (its ratio should be 1: the run's precision). Cells that were not conformant are listed with why and were not timed.".to_owned(),
        table,
    }
}

pub(crate) fn startup_section(results: &Results, view: &View) -> Section {
    let mut table = Table {
        header: strings([
            "filter",
            "engine",
            "compile",
            "cache load",
            "artifact",
            "instantiate",
            "first request",
            "RSS / instance",
            "linear memory",
        ]),
        rows: Vec::new(),
        ..Default::default()
    };
    let ms = |p: &Option<filterbench_results::results::PhaseTiming>| {
        p.as_ref()
            .map_or("-".to_owned(), |t| format::ns(t.median_ns))
    };
    for p in &results.phases {
        if let Some(error) = &p.error
            && p.compile.is_none()
        {
            table.rows.push(padded(
                vec![p.filter.clone(), p.engine.clone(), error.clone()],
                table.header.len(),
            ));
            continue;
        }
        table.rows.push(vec![
            p.filter.clone(),
            p.engine.clone(),
            ms(&p.compile),
            ms(&p.cache_load),
            p.serialized_bytes
                .map_or("-".to_owned(), |b| format::bytes(b as f64)),
            ms(&p.instantiate),
            ms(&p.first_request),
            p.memory
                .as_ref()
                .map_or("-".to_owned(), |m| format::bytes(m.rss_bytes_per_instance)),
            p.memory
                .as_ref()
                .and_then(|m| m.linear_memory_bytes)
                .map_or("-".to_owned(), |b| format::bytes(b as f64)),
        ]);
    }
    let engines = view::startup_rows(view).len();
    Section {
        title: "Start-up and memory".to_owned(),
        intro: format!(
            "Medians per filter and engine ({engines} engines with start-up data): compile (bytes to a ready module), load from the engine's serialized artifact, instantiate (+ vm_start + configure), the first request on a fresh instance, and memory per live instance."
        ),
        table,
    }
}

pub(crate) fn environment_section(results: &Results) -> Section {
    let env = &results.environment;
    let s = &results.settings;
    let mut rows = vec![
        ["CPU", env.cpu_model.as_str()].map(str::to_owned).to_vec(),
        vec!["logical cores".to_owned(), env.cores.to_string()],
        vec!["OS".to_owned(), env.os.clone()],
        vec!["kernel".to_owned(), env.kernel.clone()],
        vec!["clock source".to_owned(), env.clocksource.clone()],
        vec![
            "CPU frequency governor".to_owned(),
            env.governor
                .clone()
                .unwrap_or_else(|| "not exposed by the kernel".to_owned()),
        ],
        vec![
            "timer overhead (subtracted)".to_owned(),
            format!("{} ns", env.timer_overhead_ns),
        ],
        vec!["rustc".to_owned(), env.rustc.clone()],
        vec![
            "GLIBC_TUNABLES".to_owned(),
            env.glibc_tunables
                .clone()
                .unwrap_or_else(|| "unset (glibc defaults)".to_owned()),
        ],
        vec![
            "git commit".to_owned(),
            match (&env.git_commit, env.git_dirty) {
                (Some(c), Some(true)) => format!("{c} (with uncommitted changes)"),
                (Some(c), _) => c.clone(),
                (None, _) => "unknown".to_owned(),
            },
        ],
        vec!["started".to_owned(), env.started_at.clone()],
        vec![
            "settings".to_owned(),
            format!(
                "{}; warm-up {} ms, {} rounds x {} ms per cell in each of {} measuring process(es), merged, {} instances per start-up phase, {}",
                if s.quick { "--quick" } else { "standard" },
                s.warmup_ms,
                s.rounds,
                s.slice_ms,
                s.runs,
                s.phase_samples,
                s.pinned_cpu
                    .map_or("not pinned to a CPU".to_owned(), |c| format!(
                        "pinned to CPU {c}"
                    ))
            ),
        ],
    ];
    let timed: Vec<_> = timed_cells(results).collect();
    let lifecycles: u64 = timed
        .iter()
        .filter_map(|c| c.steady.as_ref())
        .map(|s| s.wall.samples)
        .sum();
    rows.push(vec![
        "samples".to_owned(),
        format!(
            "{lifecycles} timed lifecycles in {} cells; {} start-up records",
            timed.len(),
            results.phases.len()
        ),
    ]);
    for (name, version) in &env.engines {
        rows.push(vec![format!("engine {name}"), version.clone()]);
    }
    for tool in ["envoy", "wrk", "oha"] {
        rows.push(vec![
            tool.to_owned(),
            env.tools
                .get(tool)
                .cloned()
                .unwrap_or_else(|| "not installed (no Envoy runs in this report)".to_owned()),
        ]);
    }
    Section {
        title: "Environment".to_owned(),
        intro: "Where and with what these numbers were measured.".to_owned(),
        table: Table {
            header: strings(["what", "value"]),
            rows,
            ..Default::default()
        },
    }
}
