//! How well two runs of the same matrix agree (`filterbench precision A B`, used by
//! `scripts/precision.sh`): per-cell change of the ratio to native, the share of cells whose
//! intervals overlap, the A/A outcomes, WebAssembly cells below native, and the host floor and
//! native noop times. The suite's precision targets are stated against these figures.

use crate::analysis::is_calibration;
use crate::results::{Cell, Results};
use crate::stats::{self, Estimate};
use filterbench_host::FLOOR_ENGINE;
use serde::Serialize;

/// Agreement of two runs.
#[derive(Clone, Debug, Serialize)]
pub struct Precision {
    /// Engine cells (not native, not calibration) with a ratio to native in both runs.
    pub cells: usize,
    /// Median over cells of |ratio_B / ratio_A − 1|.
    pub change_median: f64,
    /// 90th percentile of the same.
    pub change_p90: f64,
    /// Largest change.
    pub change_max: f64,
    /// The cell with the largest change, `filter / engine / workload`.
    pub change_max_cell: String,
    /// Share of cells whose two 95% intervals overlap.
    pub overlapping: f64,
    /// The same share with each interval's run-level term taken out (what the intervals alone
    /// of the run's processes and rounds give).
    pub overlapping_within_run: f64,
    /// Per run: the run-level term its intervals carry (`settings.between_run_sd`).
    pub between_run_sd: [f64; 2],
    /// The run-level term these two runs show: the spread of per-cell log-ratio changes beyond
    /// what the within-run intervals explain, per run (robust: 1.4826 × median absolute
    /// deviation). Pass it as `--between-run` (in %) on this machine.
    pub between_run_sd_estimate: f64,
    /// Per run: A/A cells, how many intervals contain 1, how many groups are unreliable.
    pub aa: [AaOutcome; 2],
    /// Per run: engine cells whose ratio is below 1, and those among them whose whole
    /// interval is below 1 (flagged implausible), with how many are large-body workloads.
    pub below_native: [BelowNative; 2],
    /// Per run: host floor and native noop on get-small, median ns.
    pub noop_get_small: [NoopTimes; 2],
}

/// A/A outcomes of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AaOutcome {
    /// A/A cells with a ratio.
    pub cells: usize,
    /// Of them, intervals containing 1.
    pub containing_one: usize,
    /// Of them, intervals excluding 1 by more than 2% (groups marked unreliable).
    pub unreliable: usize,
    /// Median relative half-width of the A/A intervals.
    pub median_half_width: f64,
}

/// Engine cells below native code in one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BelowNative {
    /// Engine cells with a ratio.
    pub cells: usize,
    /// Point estimate below 1.
    pub below_one: usize,
    /// Whole interval below 1 (implausible).
    pub implausible: usize,
    /// Of the implausible, on bodies of 256 KiB and more (the documented allocator effect).
    pub implausible_large_body: usize,
}

/// The lifecycle's fixed costs in one run, median ns (null when not measured).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NoopTimes {
    /// Host floor on get-small (noop's group).
    pub floor_ns: Option<f64>,
    /// Native noop on get-small.
    pub native_ns: Option<f64>,
    /// Floor's share of native noop (paired per round).
    pub floor_share: Option<Estimate>,
}

fn overlap(a: &Estimate, b: &Estimate) -> bool {
    a.low <= b.high && b.low <= a.high
}

/// 95% normal quantile: an interval's half-width in standard deviations.
const Z95: f64 = 1.96;

/// `ratio`'s interval with its run-level term `sd` taken out (on the log scale, half-widths
/// combine as squares).
fn within_run(ratio: &Estimate, sd: f64) -> Estimate {
    let shrink = |half: f64| half.powi(2) - (Z95 * sd).powi(2);
    let (low, high) = (
        (ratio.value / ratio.low).ln(),
        (ratio.high / ratio.value).ln(),
    );
    Estimate {
        value: ratio.value,
        low: ratio.value / shrink(low).max(0.0).sqrt().exp(),
        high: ratio.value * shrink(high).max(0.0).sqrt().exp(),
    }
}

/// The within-run standard deviation of a ratio's log, from its interval without the run-level term.
fn within_sd(ratio: &Estimate) -> f64 {
    (ratio.high / ratio.low).ln() / (2.0 * Z95)
}

/// The run-level standard deviation two runs show: the robust spread of the per-cell changes of
/// log ratios, less the median within-run variance of the two, per run.
fn between_run_estimate(pairs: &[(Estimate, Estimate)]) -> f64 {
    let changes: Vec<f64> = pairs
        .iter()
        .map(|(a, b)| (b.value / a.value).ln())
        .collect();
    let centre = stats::median(&changes);
    let deviations: Vec<f64> = changes.iter().map(|d| (d - centre).abs()).collect();
    let spread = 1.4826 * stats::median(&deviations);
    let within: Vec<f64> = pairs
        .iter()
        .map(|(a, b)| within_sd(a).powi(2) + within_sd(b).powi(2))
        .collect();
    ((spread.powi(2) - stats::median(&within)).max(0.0) / 2.0).sqrt()
}

fn engine_cell(c: &Cell, run: &Results) -> bool {
    let native = run
        .engines
        .iter()
        .any(|e| e.name == c.engine && e.family == "native");
    !native && !is_calibration(&c.engine) && c.ratio_to_native.is_some()
}

fn aa_outcome(run: &Results) -> AaOutcome {
    let mut widths: Vec<f64> = run
        .summary
        .precision
        .iter()
        .map(|a| a.ratio.relative_half_width())
        .collect();
    widths.sort_by(f64::total_cmp);
    AaOutcome {
        cells: run.summary.precision.len(),
        containing_one: run
            .summary
            .precision
            .iter()
            .filter(|a| a.ratio.low <= 1.0 && a.ratio.high >= 1.0)
            .count(),
        unreliable: run
            .summary
            .precision
            .iter()
            .filter(|a| a.unreliable)
            .count(),
        median_half_width: stats::round_to(stats::quantile_of_sorted(&widths, 0.5), 4),
    }
}

fn below_native(run: &Results) -> BelowNative {
    let cells: Vec<&Cell> = run.cells.iter().filter(|c| engine_cell(c, run)).collect();
    let implausible: Vec<&&Cell> = cells.iter().filter(|c| c.implausible.is_some()).collect();
    BelowNative {
        cells: cells.len(),
        below_one: cells
            .iter()
            .filter(|c| c.ratio_to_native.is_some_and(|r| r.value < 1.0))
            .count(),
        implausible: implausible.len(),
        implausible_large_body: implausible
            .iter()
            .filter(|c| crate::workloads::LARGE_BODY_WORKLOADS.contains(&c.workload.as_str()))
            .count(),
    }
}

fn noop_times(run: &Results) -> NoopTimes {
    let find = |engine: &str| {
        run.cells
            .iter()
            .find(|c| c.filter == "noop" && c.workload == "get-small" && c.engine == engine)
    };
    let median = |c: Option<&Cell>| c.and_then(|c| c.steady.as_ref()?.median.map(|m| m.value));
    NoopTimes {
        floor_ns: median(find(FLOOR_ENGINE)),
        native_ns: median(find("native")),
        floor_share: find(FLOOR_ENGINE).and_then(|c| c.ratio_to_native),
    }
}

/// Compares two runs of the same matrix; `None` when they share no engine cell.
pub fn precision(a: &Results, b: &Results) -> Option<Precision> {
    let mut changes: Vec<(f64, String)> = Vec::new();
    let mut overlapping = 0;
    let mut overlapping_within_run = 0;
    let sd = [a.settings.between_run_sd, b.settings.between_run_sd];
    let mut pairs = Vec::new();
    for ca in a.cells.iter().filter(|c| engine_cell(c, a)) {
        let Some(cb) = b.cells.iter().find(|c| {
            c.filter == ca.filter
                && c.engine == ca.engine
                && c.workload == ca.workload
                && engine_cell(c, b)
        }) else {
            continue;
        };
        let (Some(ra), Some(rb)) = (ca.ratio_to_native, cb.ratio_to_native) else {
            continue;
        };
        changes.push((
            (rb.value / ra.value - 1.0).abs(),
            format!("{} / {} / {}", ca.filter, ca.engine, ca.workload),
        ));
        if overlap(&ra, &rb) {
            overlapping += 1;
        }
        let (wa, wb) = (within_run(&ra, sd[0]), within_run(&rb, sd[1]));
        if overlap(&wa, &wb) {
            overlapping_within_run += 1;
        }
        pairs.push((wa, wb));
    }
    if changes.is_empty() {
        return None;
    }
    changes.sort_by(|x, y| x.0.total_cmp(&y.0));
    let values: Vec<f64> = changes.iter().map(|c| c.0).collect();
    let (max, max_cell) = changes.last().cloned().unwrap_or_default();
    Some(Precision {
        cells: changes.len(),
        change_median: stats::round_to(stats::quantile_of_sorted(&values, 0.5), 4),
        change_p90: stats::round_to(stats::quantile_of_sorted(&values, 0.9), 4),
        change_max: stats::round_to(max, 4),
        change_max_cell: max_cell,
        overlapping: stats::round_to(overlapping as f64 / changes.len() as f64, 4),
        overlapping_within_run: stats::round_to(
            overlapping_within_run as f64 / changes.len() as f64,
            4,
        ),
        between_run_sd: sd,
        between_run_sd_estimate: stats::round_to(between_run_estimate(&pairs), 4),
        aa: [aa_outcome(a), aa_outcome(b)],
        below_native: [below_native(a), below_native(b)],
        noop_get_small: [noop_times(a), noop_times(b)],
    })
}

/// The report printed by `filterbench precision`, with the suite's targets next to each figure.
pub fn render(p: &Precision) -> String {
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut out = String::new();
    out.push_str(&format!(
        "cells compared: {} (engine cells with a ratio to native in both runs)\n",
        p.cells
    ));
    out.push_str(&format!(
        "ratio change between runs: median {} (target <= 3%: {}), p90 {} (target <= 10%: {}), max {} ({})\n",
        pct(p.change_median),
        mark(p.change_median <= 0.03),
        pct(p.change_p90),
        mark(p.change_p90 <= 0.10),
        pct(p.change_max),
        p.change_max_cell
    ));
    out.push_str(&format!(
        "intervals overlapping between runs: {} (target >= 90%: {}); {} without their run-level term\n",
        pct(p.overlapping),
        mark(p.overlapping >= 0.90),
        pct(p.overlapping_within_run),
    ));
    let assumed = p.between_run_sd[0].max(p.between_run_sd[1]);
    out.push_str(&format!(
        "run-level term: these two runs show {}; their intervals carry {}{}\n",
        pct(p.between_run_sd_estimate),
        pct(assumed),
        if p.between_run_sd_estimate > assumed {
            format!(
                " (too small for this machine: run with --between-run {:.1})",
                p.between_run_sd_estimate * 100.0
            )
        } else {
            String::new()
        }
    ));
    for (i, (aa, below)) in p.aa.iter().zip(&p.below_native).enumerate() {
        let run = ["A", "B"][i];
        out.push_str(&format!(
            "run {run}: A/A intervals containing 1: {} of {} ({} unreliable, median half-width {}); \
             engine cells below native: {} of {} ({} implausible, {} of them on bodies >= 256 KiB)\n",
            aa.containing_one,
            aa.cells,
            aa.unreliable,
            pct(aa.median_half_width),
            below.below_one,
            below.cells,
            below.implausible,
            below.implausible_large_body,
        ));
    }
    for (i, t) in p.noop_get_small.iter().enumerate() {
        let run = ["A", "B"][i];
        let ns = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.0} ns"));
        out.push_str(&format!(
            "run {run}: host floor on get-small {} (target <= 100 ns), native noop {} (target <= 200 ns), floor share of native {}\n",
            ns(t.floor_ns),
            ns(t.native_ns),
            t.floor_share.map_or("-".to_owned(), |e| format!(
                "{:.2} [{:.2}-{:.2}]",
                e.value, e.low, e.high
            )),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_intervals() {
        let e = |low, high| Estimate {
            value: (low + high) / 2.0,
            low,
            high,
        };
        assert!(overlap(&e(1.0, 1.2), &e(1.1, 1.3)));
        assert!(!overlap(&e(1.0, 1.05), &e(1.06, 1.3)));
    }

    #[test]
    fn the_run_level_term_comes_out_of_an_interval_and_is_estimated_from_the_changes() {
        // An interval of ±2% in logs that carries a 1% run-level term: what is left is
        // sqrt(0.0392² - 0.0196²) ≈ 0.034.
        let wide = Estimate {
            value: 2.0,
            low: 2.0 / 0.0392f64.exp(),
            high: 2.0 * 0.0392f64.exp(),
        };
        let narrow = within_run(&wide, 0.01);
        assert!(
            ((narrow.high / 2.0).ln() - 0.03395).abs() < 1e-4,
            "{narrow:?}"
        );
        assert_eq!(within_run(&wide, 0.0), wide);
        // Cells whose within-run intervals are tiny and whose changes spread with a standard
        // deviation of 2% (a run-level term of 2% / sqrt 2 per run).
        let tight = |value: f64| Estimate {
            value,
            low: value * 0.9999,
            high: value * 1.0001,
        };
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let pairs: Vec<(Estimate, Estimate)> = (0..4000)
            .map(|_| {
                let z: f64 = rng.sample(rand_distr::StandardNormal);
                (tight(1.0), tight((0.02 * z).exp()))
            })
            .collect();
        let estimate = between_run_estimate(&pairs);
        assert!((estimate - 0.02 / 2f64.sqrt()).abs() < 0.001, "{estimate}");
    }
}
