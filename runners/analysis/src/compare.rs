//! `compare OLD NEW`: per cell, the change of the median with a 95% interval (rounds of the two
//! runs resampled independently) and a verdict against a threshold; instructions per lifecycle
//! are compared too when both files have them (deterministic: no interval needed). And, cell by
//! cell, whether behaviour changed: the set of cells, conformance outcomes, error kinds, effect
//! differences and observed effects must be identical in two runs of the same filters (what a
//! refactoring or an engine upgrade must keep).

use crate::results::{Cell, Results};
use crate::stats::{self, Estimate};
use serde::Serialize;
use std::collections::HashMap;

/// What a change says, given the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The whole interval is below 1 - threshold.
    Improved,
    /// The whole interval is above 1 + threshold.
    Regressed,
    /// The whole interval is within 1 ± threshold.
    Unchanged,
    /// The interval straddles a threshold: more data needed.
    Inconclusive,
}

impl Change {
    /// Judges a new/old time ratio.
    pub fn of(ratio: &Estimate, threshold: f64) -> Self {
        if ratio.low > 1.0 + threshold {
            Self::Regressed
        } else if ratio.high < 1.0 - threshold {
            Self::Improved
        } else if ratio.low >= 1.0 - threshold && ratio.high <= 1.0 + threshold {
            Self::Unchanged
        } else {
            Self::Inconclusive
        }
    }

    /// Judges a deterministic new/old ratio (instruction counts).
    pub fn of_exact(ratio: f64, threshold: f64) -> Self {
        Self::of(
            &Estimate {
                value: ratio,
                low: ratio,
                high: ratio,
            },
            threshold,
        )
    }
}

/// One cell present in both files.
#[derive(Clone, Debug, Serialize)]
pub struct CellChange {
    /// Filter name.
    pub filter: String,
    /// Engine name.
    pub engine: String,
    /// Workload name.
    pub workload: String,
    /// Old median, ns.
    pub old_ns: f64,
    /// New median, ns.
    pub new_ns: f64,
    /// New / old median with its 95% interval.
    pub ratio: Estimate,
    /// Verdict on time.
    pub change: Change,
    /// New / old instructions per lifecycle, when both were counted.
    pub instructions_ratio: Option<f64>,
    /// Verdict on instructions.
    pub instructions_change: Option<Change>,
}

/// Compares every cell timed in both files. `threshold` is relative (0.05 = 5%).
pub fn compare(old: &Results, new: &Results, threshold: f64) -> Vec<CellChange> {
    let mut out = Vec::new();
    for n in &new.cells {
        let Some(o) = old
            .cells
            .iter()
            .find(|o| o.filter == n.filter && o.engine == n.engine && o.workload == n.workload)
        else {
            continue;
        };
        let (Some(os), Some(ns)) = (&o.steady, &n.steady) else {
            continue;
        };
        let seed = stats::seed_for(&["compare", &n.filter, &n.engine, &n.workload]);
        // Independent resampling: the runs' rounds are not paired in time.
        let (a, b) = (&ns.rounds.p50_ns, &os.rounds.p50_ns);
        let ratio = stats::ratio_estimate_independent(a, b, seed);
        let Some(ratio) = ratio.map(|r| r.rounded(4)) else {
            continue;
        };
        let instructions_ratio = match (&o.instructions, &n.instructions) {
            (Some(oi), Some(ni)) if oi.per_lifecycle > 0.0 => {
                Some(stats::round_to(ni.per_lifecycle / oi.per_lifecycle, 4))
            }
            _ => None,
        };
        out.push(CellChange {
            filter: n.filter.clone(),
            engine: n.engine.clone(),
            workload: n.workload.clone(),
            old_ns: stats::median(b),
            new_ns: stats::median(a),
            change: Change::of(&ratio, threshold),
            ratio,
            instructions_ratio,
            instructions_change: instructions_ratio.map(|r| Change::of_exact(r, threshold)),
        });
    }
    out
}

/// Whether any cell regressed (on time, or on instructions where counted — instructions win,
/// being deterministic).
pub fn any_regression(changes: &[CellChange]) -> bool {
    changes.iter().any(|c| match c.instructions_change {
        Some(change) => change == Change::Regressed,
        None => c.change == Change::Regressed,
    })
}

/// How one cell's behaviour differs between two runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BehaviourChange {
    /// Filter name.
    pub filter: String,
    /// Engine name.
    pub engine: String,
    /// Workload name.
    pub workload: String,
    /// What differs, one line each (`conformance: pass → fail`, `only in the old run`, …).
    pub differences: Vec<String>,
}

/// Cells present in both runs and how many of them behave identically.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BehaviourComparison {
    /// Cells present in both runs.
    pub cells_in_both: usize,
    /// Cells whose behaviour differs, or that only one run has.
    pub changes: Vec<BehaviourChange>,
}

/// The behaviour of a cell as a list of `(field, value)` pairs: conformance outcome, error
/// kind, effect differences, observed effects, and whether it trapped while timed.
fn behaviour(cell: &Cell) -> Vec<(&'static str, String)> {
    vec![
        (
            "conformance",
            format!("{:?}", cell.conformance).to_lowercase(),
        ),
        ("error kind", cell.error_kind.clone().unwrap_or_default()),
        (
            "differences from the expected effects",
            cell.diff.join("; "),
        ),
        ("observed effects", cell.observed.join("; ")),
        ("trapped while timed", (cell.traps > 0).to_string()),
    ]
}

/// A cell's identity: (filter, engine, workload).
fn key(c: &Cell) -> (&str, &str, &str) {
    (&c.filter, &c.engine, &c.workload)
}

/// Compares the behaviour of every cell of `old` and `new`, cell by cell.
pub fn compare_behaviour(old: &Results, new: &Results) -> BehaviourComparison {
    let old_by_key: HashMap<_, &Cell> = old.cells.iter().map(|c| (key(c), c)).collect();
    let new_by_key: HashMap<_, &Cell> = new.cells.iter().map(|c| (key(c), c)).collect();
    let change = |c: &Cell, differences: Vec<String>| BehaviourChange {
        filter: c.filter.clone(),
        engine: c.engine.clone(),
        workload: c.workload.clone(),
        differences,
    };
    let mut cells_in_both = 0;
    let mut changes = Vec::new();
    for o in &old.cells {
        let Some(n) = new_by_key.get(&key(o)) else {
            changes.push(change(o, vec!["only in the old run".to_owned()]));
            continue;
        };
        cells_in_both += 1;
        let differences: Vec<String> = behaviour(o)
            .into_iter()
            .zip(behaviour(n))
            .filter(|((_, a), (_, b))| a != b)
            .map(|((field, a), (_, b))| format!("{field}: {a:?} → {b:?}"))
            .collect();
        if !differences.is_empty() {
            changes.push(change(o, differences));
        }
    }
    for n in &new.cells {
        if !old_by_key.contains_key(&key(n)) {
            changes.push(change(n, vec!["only in the new run".to_owned()]));
        }
    }
    BehaviourComparison {
        cells_in_both,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Cell, Conformance, RoundSeries};

    use crate::test_cells::results_with;

    fn cell(engine: &str, rounds: Vec<f64>) -> Cell {
        let c = crate::test_cells::timed(
            engine,
            RoundSeries {
                p50_ns: rounds,
                ..RoundSeries::default()
            },
        );
        assert_eq!(c.conformance, Conformance::Pass);
        c
    }

    /// Rounds around 1000 ns with ±1% deterministic jitter.
    fn rounds(scale: f64, phase: usize) -> Vec<f64> {
        (0..20)
            .map(|i| scale * 1000.0 * (1.0 + (((i + phase) * 7) % 5) as f64 * 0.005 - 0.01))
            .collect()
    }

    #[test]
    fn a_2x_regression_is_detected_and_identical_runs_are_unchanged() {
        let old = results_with(vec![cell("wasmtime-cranelift", rounds(1.0, 0))]);
        let same = compare(&old, &old, 0.05);
        assert_eq!(same.len(), 1);
        assert_eq!(same[0].change, Change::Unchanged, "{:?}", same[0]);
        assert!(!any_regression(&same));

        let slower = results_with(vec![cell("wasmtime-cranelift", rounds(2.0, 3))]);
        let changes = compare(&old, &slower, 0.05);
        assert_eq!(changes[0].change, Change::Regressed, "{:?}", changes[0]);
        assert!((changes[0].ratio.value - 2.0).abs() < 0.05);
        assert!(any_regression(&changes));

        let back = compare(&slower, &old, 0.05);
        assert_eq!(back[0].change, Change::Improved);
    }

    #[test]
    fn thresholds_decide_between_unchanged_and_inconclusive() {
        let e = |low, high| Estimate {
            value: (low + high) / 2.0,
            low,
            high,
        };
        assert_eq!(Change::of(&e(0.98, 1.03), 0.05), Change::Unchanged);
        assert_eq!(Change::of(&e(0.98, 1.08), 0.05), Change::Inconclusive);
        assert_eq!(Change::of(&e(1.06, 1.08), 0.05), Change::Regressed);
        assert_eq!(Change::of_exact(1.2, 0.05), Change::Regressed);
    }

    #[test]
    fn behaviour_is_compared_cell_by_cell() {
        let old = results_with(vec![
            cell("wasmi-eager", vec![1.0; 8]),
            cell("native", vec![1.0; 8]),
        ]);
        let same = compare_behaviour(&old, &old);
        assert_eq!(same.cells_in_both, 2);
        assert!(same.changes.is_empty());

        let mut failing = cell("wasmi-eager", vec![1.0; 8]);
        failing.conformance = Conformance::Fail;
        failing.diff = vec!["missing header x-added".to_owned()];
        let new = results_with(vec![failing, cell("wamr-fast-interp", vec![1.0; 8])]);
        let changed = compare_behaviour(&old, &new);
        assert_eq!(changed.cells_in_both, 1);
        let lines: Vec<String> = changed
            .changes
            .iter()
            .map(|c| format!("{}: {}", c.engine, c.differences.join(" | ")))
            .collect();
        assert_eq!(
            lines,
            [
                "wasmi-eager: conformance: \"pass\" → \"fail\" | differences from the expected effects: \"\" → \"missing header x-added\"",
                "native: only in the old run",
                "wamr-fast-interp: only in the new run",
            ]
        );
    }
}
