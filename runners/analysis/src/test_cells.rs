//! Cells and results files for the unit tests of the analysis and the comparison.

use crate::results::{Cell, Results, RoundSeries, Steady};

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
