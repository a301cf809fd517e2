//! Cells and results files for the unit tests of the analysis and the comparison.

use crate::results::{Cell, Results, RoundSeries, Steady};

/// Rounds with these medians (every percentile and the CPU time the same), paired with
/// `baseline` (empty: unpaired), with `canary` readings (empty: none).
pub fn rounds(p50: Vec<f64>, baseline: Vec<f64>, canary: Vec<f64>) -> RoundSeries {
    let n = p50.len();
    RoundSeries {
        lifecycles: vec![1; n],
        cpu_ns: p50.clone(),
        p90_ns: p50.clone(),
        p99_ns: p50.clone(),
        p999_ns: p50.clone(),
        round: (0..n as u32).collect(),
        canary_ns: canary,
        baseline_cpu_ns: baseline.clone(),
        baseline_p50_ns: baseline,
        p50_ns: p50,
        ..RoundSeries::default()
    }
}

/// A conformant noop/get-small cell of `engine` measured in `rounds`.
pub fn timed(engine: &str, rounds: RoundSeries) -> Cell {
    let mut c: Cell = serde_json::from_value(serde_json::json!({
        "filter": "noop", "engine": engine, "workload": "get-small",
        "conformance": "pass", "error": null, "error_kind": null, "diff": [],
        "steady": null, "ratio_to_native": null, "verdict_vs_native": null
    }))
    .expect("a minimal cell");
    let wall = crate::stats::summarize(&[1]).expect("one sample");
    c.steady = Some(Steady::unanalysed(wall, String::new(), rounds));
    c
}

/// The minimal results file with `cells`.
pub fn results_with(cells: Vec<Cell>) -> Results {
    let mut r: Results = serde_json::from_str(include_str!("../tests/data/minimal-results.json"))
        .expect("the minimal results file reads");
    r.cells = cells;
    r
}
