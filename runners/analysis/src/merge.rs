//! Merging runs of the same matrix (`--repeat`, or several files given to `report`): cells
//! and phases with the same key pool their rounds and samples; everything derived is then
//! recomputed from the pooled data.

use crate::analysis;
use crate::results::{PhaseTiming, Results};
use crate::stats;

/// Adds a sweep point, or joins it with the point of the same sweep, N, filter and variant from
/// another file: memory from the run without callgrind (valgrind inflates a process's resident
/// set), instruction counts from the run that counted them.
fn join_sweep_point(points: &mut Vec<crate::envoy::SweepPoint>, point: crate::envoy::SweepPoint) {
    let same = points.iter_mut().find(|p| {
        p.sweep == point.sweep
            && p.n == point.n
            && p.filter == point.filter
            && p.variant == point.variant
            && p.instructions_per_request.is_empty() != point.instructions_per_request.is_empty()
    });
    let Some(into) = same else {
        points.push(point);
        return;
    };
    let (counted, measured) = if into.instructions_per_request.is_empty() {
        (point, into.clone())
    } else {
        (into.clone(), point)
    };
    *into = crate::envoy::SweepPoint {
        instructions_per_request: counted.instructions_per_request,
        instructions_median: counted.instructions_median,
        instructions_spread: counted.instructions_spread,
        instructions_error: counted.instructions_error,
        ..measured
    };
}

/// Merges `runs` into one; `None` when there are none. Cells are matched by (filter, engine,
/// workload), phases by (filter, engine); cells only in later runs are appended.
pub fn merge(runs: Vec<Results>) -> Option<Results> {
    let mut runs = runs.into_iter();
    let mut merged = runs.next()?;
    for mut run in runs {
        // An Envoy file has no cells: the in-process run's settings and environment describe
        // the cells, whichever file came first.
        if merged.cells.is_empty() && !run.cells.is_empty() {
            std::mem::swap(&mut merged.settings, &mut run.settings);
            let tools = std::mem::take(&mut merged.environment.tools);
            std::mem::swap(&mut merged.environment, &mut run.environment);
            for (tool, version) in tools {
                merged.environment.tools.entry(tool).or_insert(version);
            }
        }
        // Merged results name one commit only if every file came from it, clean.
        let (mine, theirs) = (&merged.environment, &run.environment);
        if mine.git_commit != theirs.git_commit || theirs.git_dirty == Some(true) {
            merged.environment.git_dirty = Some(true);
        }
        // A file of other cells (e.g. a sweep run) extends the matrix; only repeats of the same
        // cells count as more runs.
        let repeats = run.cells.iter().any(|c| {
            c.steady.is_some()
                && merged.cells.iter().any(|m| {
                    m.filter == c.filter && m.engine == c.engine && m.workload == c.workload
                })
        });
        // Each file's blocks and processes get numbers of their own, the same for all its
        // cells (a file of one process is process `runs` of the merged file).
        let block_offset = merged.settings.runs * merged.settings.blocks.max(1);
        let process_offset = merged.settings.runs;
        if repeats {
            merged.settings.runs += run.settings.runs;
        }
        // Another shard of a plan already in the merge holds other units: its Envoy rounds are
        // the same rounds of other filters, not more of them.
        let other_shard = run.shards.iter().any(|r| {
            merged
                .shards
                .iter()
                .any(|m| m.plan == r.plan && m.index != r.index)
        });
        merged.shards.extend(run.shards.iter().cloned());
        for invocation in &run.invocations {
            if !merged.invocations.contains(invocation) {
                merged.invocations.push(invocation.clone());
            }
        }
        if !run.cells.is_empty() {
            // The wider run-level term of the two stands.
            merged.settings.between_run_sd = merged
                .settings
                .between_run_sd
                .max(run.settings.between_run_sd);
        }
        for engine in run.engines {
            if !merged.engines.iter().any(|e| e.name == engine.name) {
                merged.engines.push(engine);
            }
        }
        for module in run.modules {
            if !merged.modules.iter().any(|m| m.filter == module.filter) {
                merged.modules.push(module);
            }
        }
        for cell in run.cells {
            let existing = merged.cells.iter_mut().find(|c| {
                c.filter == cell.filter && c.engine == cell.engine && c.workload == cell.workload
            });
            match existing {
                None => merged.cells.push(cell),
                Some(into) => match (&mut into.steady, cell.steady) {
                    (Some(a), Some(b)) => {
                        a.rounds.extend(&b.rounds, block_offset, process_offset);
                        if let (Some(mut ha), Some(hb)) = (
                            stats::decode_histogram(&a.histogram),
                            stats::decode_histogram(&b.histogram),
                        ) && ha.add(&hb).is_ok()
                        {
                            a.histogram = stats::encode_histogram(&ha);
                            if let Some(wall) = stats::summarize_histogram(&ha) {
                                a.wall = wall;
                            }
                        }
                    }
                    (None, Some(b)) => into.steady = Some(b),
                    _ => {}
                },
            }
        }
        for phase in run.phases {
            match merged
                .phases
                .iter_mut()
                .find(|p| p.filter == phase.filter && p.engine == phase.engine)
            {
                None => merged.phases.push(phase),
                Some(into) => {
                    into.compile = PhaseTiming::merged(&into.compile, &phase.compile);
                    into.cache_load = PhaseTiming::merged(&into.cache_load, &phase.cache_load);
                    into.instantiate = PhaseTiming::merged(&into.instantiate, &phase.instantiate);
                    into.first_request =
                        PhaseTiming::merged(&into.first_request, &phase.first_request);
                }
            }
        }
        merged.envoy = match (merged.envoy.take(), run.envoy) {
            (Some(mut into), Some(more)) => {
                // A file without load runs (paired CPU, instructions or sweeps only) lends no
                // load settings.
                if into.runs.is_empty() {
                    into.settings = more.settings.clone();
                } else if !more.runs.is_empty() && !other_shard {
                    into.settings.rounds += more.settings.rounds;
                }
                // Rounds stay paired with their own baseline: later files get fresh round numbers.
                let offset = into.runs.iter().map(|r| r.round + 1).max().unwrap_or(0);
                into.runs.extend(more.runs.into_iter().map(|mut r| {
                    r.round += offset;
                    r
                }));
                into.instructions.extend(more.instructions);
                into.cpu.extend(more.cpu);
                for point in more.sweeps {
                    join_sweep_point(&mut into.sweeps, point);
                }
                Some(into)
            }
            (a, b) => a.or(b),
        };
        // One host conformance matrix: one with a live Envoy as the reference (it has every
        // in-process engine too) over one against the recorded answers, else the first.
        merged.host_conformance = match (merged.host_conformance.take(), run.host_conformance) {
            (Some(kept), Some(other))
                if kept.reference != "envoy" && other.reference == "envoy" =>
            {
                Some(other)
            }
            (a, b) => a.or(b),
        };
    }
    if let Some(envoy) = merged.envoy.as_mut() {
        envoy.summary = crate::envoy::summarize(&mut envoy.runs);
    }
    analysis::analyze(&mut merged);
    Some(merged)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_matrix_with_a_live_envoy_is_kept_over_one_against_the_recording() {
        use filterbench_results::host_conformance::{FORMAT, Matrix};
        let matrix = |reference: &str| Matrix {
            format: FORMAT,
            reference: reference.to_owned(),
            hosts: Vec::new(),
            rows: Vec::new(),
        };
        let file = |m: Option<Matrix>| {
            let mut f = minimal();
            f.host_conformance = m;
            f
        };
        for order in [false, true] {
            let mut files = vec![
                file(Some(matrix("recorded (Envoy 1.40)"))),
                file(Some(matrix("envoy"))),
                file(None),
            ];
            if order {
                files.reverse();
            }
            let merged = merge(files).unwrap();
            assert_eq!(merged.host_conformance.unwrap().reference, "envoy");
        }
    }

    use super::*;

    fn minimal() -> Results {
        serde_json::from_str(include_str!("../tests/data/minimal-results.json")).unwrap()
    }

    #[test]
    fn a_dirty_or_other_commit_file_marks_the_merge_dirty() {
        let mut clean = minimal();
        clean.environment.git_dirty = Some(false);
        let mut dirty = minimal();
        dirty.environment.git_dirty = Some(true);
        let merged = merge(vec![clean.clone(), dirty]).unwrap();
        assert_eq!(merged.environment.git_dirty, Some(true));
        let mut other = minimal();
        other.environment.git_commit = Some("another".to_owned());
        assert_eq!(
            merge(vec![clean.clone(), other])
                .unwrap()
                .environment
                .git_dirty,
            Some(true)
        );
        assert_eq!(
            merge(vec![clean.clone(), clean.clone()])
                .unwrap()
                .environment
                .git_dirty,
            clean.environment.git_dirty
        );
    }

    #[test]
    fn envoy_files_keep_their_paired_cpu_instructions_and_sweeps() {
        let file = |filter: &str, rounds: u32| {
            let mut f = minimal();
            f.cells.clear();
            let mut envoy = crate::envoy::EnvoyResults::default();
            envoy.settings.rounds = rounds;
            envoy.cpu.push(crate::envoy_cpu::EnvoyCpu {
                filter: filter.to_owned(),
                ..Default::default()
            });
            envoy.sweeps.push(crate::envoy::SweepPoint {
                filter: filter.to_owned(),
                ..Default::default()
            });
            envoy.instructions.push(crate::envoy::EnvoyInstructions {
                filter: filter.to_owned(),
                ..Default::default()
            });
            f.envoy = Some(envoy);
            f
        };
        let merged = merge(vec![file("noop", 0), file("headers", 5)]).unwrap();
        let envoy = merged.envoy.unwrap();
        let filters = |names: Vec<&str>| names.join(",");
        assert_eq!(
            filters(envoy.cpu.iter().map(|c| c.filter.as_str()).collect()),
            "noop,headers"
        );
        assert_eq!(envoy.sweeps.len(), 2);
        assert_eq!(envoy.instructions.len(), 2);
        // The first file made no load run: the second's settings stand.
        assert_eq!(envoy.settings.rounds, 5);
    }

    #[test]
    fn a_sweep_point_counted_under_callgrind_joins_the_same_point_measured_without() {
        let point = |rss: u64, counts: Vec<f64>| crate::envoy::SweepPoint {
            sweep: "concurrency".to_owned(),
            n: 2,
            filter: "headers".to_owned(),
            variant: "v8".to_owned(),
            rss_idle_bytes: Some(rss),
            instructions_median: counts.first().copied(),
            instructions_per_request: counts,
            ..Default::default()
        };
        let file = |p: crate::envoy::SweepPoint| {
            let mut f = minimal();
            f.cells.clear();
            let mut envoy = crate::envoy::EnvoyResults::default();
            envoy.sweeps.push(p);
            f.envoy = Some(envoy);
            f
        };
        // Counted first (valgrind's inflated memory), measured second: one point, each figure
        // from the run that measured it properly.
        let merged = merge(vec![
            file(point(900, vec![130_000.0, 131_000.0])),
            file(point(90, Vec::new())),
        ])
        .unwrap();
        let sweeps = merged.envoy.unwrap().sweeps;
        assert_eq!(sweeps.len(), 1, "{sweeps:?}");
        assert_eq!(sweeps[0].rss_idle_bytes, Some(90));
        assert_eq!(
            sweeps[0].instructions_per_request,
            vec![130_000.0, 131_000.0]
        );
        // Two memory-only measurements of one point stay two (repeats, not a join).
        let twice = merge(vec![
            file(point(90, Vec::new())),
            file(point(91, Vec::new())),
        ])
        .unwrap();
        assert_eq!(twice.envoy.unwrap().sweeps.len(), 2);
    }

    #[test]
    fn an_envoy_file_first_does_not_lend_its_settings_to_the_cells() {
        let mut cells = minimal();
        // One unmeasured (error) cell is enough: merging must keep it with its own settings.
        cells.cells.push(
            serde_json::from_value(serde_json::json!({
                "filter": "noop", "engine": "native", "workload": "get-small",
                "conformance": "error", "error": "x", "error_kind": "load", "diff": [],
                "steady": null, "ratio_to_native": null, "verdict_vs_native": null
            }))
            .unwrap(),
        );
        let mut envoy = minimal();
        envoy.cells.clear();
        envoy.settings.rounds = 3;
        envoy.settings.measure = vec!["envoy".to_owned()];
        envoy
            .environment
            .tools
            .insert("envoy".into(), "1.40.0".into());
        envoy.envoy = Some(crate::envoy::EnvoyResults::default());
        let merged = merge(vec![envoy, cells.clone()]).unwrap();
        assert_eq!(merged.settings, cells.settings);
        assert_eq!(merged.cells.len(), cells.cells.len());
        assert!(merged.envoy.is_some());
        assert_eq!(
            merged.environment.tools.get("envoy").map(String::as_str),
            Some("1.40.0")
        );
    }
}
