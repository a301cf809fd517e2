//! What modules did while they were timed, beyond their first request: ticks fired on a
//! virtual clock, and paths that changed (a module answering differently after a while, e.g.
//! a rate limiter starting to refuse) — each cell's timing mixes what its requests did.

use crate::document::{Section, Table};
use filterbench_results::results::{Cell, Results};

fn noteworthy(results: &Results) -> impl Iterator<Item = &Cell> {
    results
        .cells
        .iter()
        .filter(|c| c.ticks.is_some() || c.path_changed.is_some())
}

/// The "Behaviour while timed" section, when some cell fired ticks or changed path.
pub fn section(results: &Results) -> Option<Section> {
    let rows: Vec<Vec<String>> = noteworthy(results)
        .map(|c| {
            vec![
                c.filter.clone(),
                c.workload.clone(),
                c.engine.clone(),
                c.ticks.map_or("-".to_owned(), |t| {
                    format!("{} in {} requests", t.fired, t.requests)
                }),
                c.path_changed.as_ref().map_or("-".to_owned(), |p| {
                    format!("after request {}: {}", p.after_requests, p.diff.join("; "))
                }),
            ]
        })
        .collect();
    (!rows.is_empty()).then(|| Section {
        title: "Behaviour while timed".to_owned(),
        intro: "What the modules did beyond their first request, which alone is checked before \
                timing: ticks fired on the spec's virtual clock (each timed with the request it \
                preceded), and a path that changed — a later request answered locally, with \
                other headers, or paused where the first did not. A cell whose path changed \
                times a mix of both paths."
            .to_owned(),
        table: Table {
            header: [
                "filter",
                "workload",
                "engine",
                "ticks fired",
                "path changed",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            ..Default::default()
        },
    })
}

/// A finding when some cell changed path while timed.
pub fn findings(results: &Results) -> Vec<String> {
    let changed: Vec<String> = results
        .cells
        .iter()
        .filter_map(|c| {
            let p = c.path_changed.as_ref()?;
            Some(format!(
                "{} on {} ({}) after request {}",
                c.filter, c.engine, c.workload, p.after_requests
            ))
        })
        .collect();
    if changed.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} cell(s) took another path while timed than on their checked first request — {}: \
         their timings mix both paths (see Behaviour while timed).",
        changed.len(),
        changed.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::results::{PathChange, TickCount};

    fn cell(engine: &str) -> Cell {
        serde_json::from_value(serde_json::json!({
            "filter": "tokens", "engine": engine, "workload": "get-small",
            "conformance": "observed", "error": null, "error_kind": null, "diff": [],
            "steady": null, "ratio_to_native": null, "verdict_vs_native": null
        }))
        .expect("a minimal cell")
    }

    #[test]
    fn ticks_and_path_changes_are_listed_and_a_change_is_a_finding() {
        let mut results: Results = serde_json::from_str(include_str!(
            "../../analysis/tests/data/minimal-results.json"
        ))
        .unwrap();
        let mut ticked = cell("wasmi-eager");
        ticked.ticks = Some(TickCount {
            fired: 12,
            requests: 120,
        });
        let mut changed = cell("native");
        changed.path_changed = Some(PathChange {
            after_requests: 4,
            diff: vec!["later: local response: 429".into()],
        });
        results.cells = vec![cell("wasmtime-cranelift"), ticked, changed];
        let s = section(&results).unwrap();
        assert_eq!(s.table.rows.len(), 2);
        assert_eq!(s.table.rows[0][3], "12 in 120 requests");
        assert_eq!(
            s.table.rows[1][4],
            "after request 4: later: local response: 429"
        );
        let f = findings(&results);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].contains("tokens on native (get-small) after request 4"),
            "{f:?}"
        );
        results.cells.truncate(1);
        assert!(section(&results).is_none() && findings(&results).is_empty());
    }
}
