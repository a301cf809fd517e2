//! results.json from a real run matches the documented JSON Schema and reads back unchanged.

mod common;

use filterbench_harness::catalog;
use filterbench_harness::paths;
use filterbench_harness::results::{self, Conformance};
use filterbench_harness::run::{self, Subject};

fn schema() -> jsonschema::Validator {
    let path = paths::repo_root().join("docs/results.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap())
        .expect("the schema is a valid JSON Schema")
}

#[test]
fn a_real_run_writes_schema_valid_results() {
    let mut wrong = catalog::filter("headers").unwrap();
    wrong.expect = |w| {
        Some(catalog::Expected {
            local_response: Some(403),
            ..(catalog::filter("headers").unwrap().expect)(w)?
        })
    };
    let subjects = vec![
        Subject {
            filter: catalog::filter("noop").unwrap(),
            source: common::built("noop"),
        },
        Subject {
            filter: catalog::filter("headers").unwrap(),
            source: common::built("headers"),
        },
        // A non-conformant cell, so the schema is exercised on `fail` too.
        Subject {
            filter: wrong,
            source: common::built("headers"),
        },
    ];
    let results = run::run(
        &subjects,
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    let per_engine: usize = subjects.iter().map(|s| s.filter.workloads.len()).sum();
    // Every engine, plus the host floor and native code's A/A twin.
    assert_eq!(
        results.cells.len(),
        per_engine * (common::engines().len() + 2)
    );
    assert!(
        results
            .cells
            .iter()
            .any(|c| c.conformance == Conformance::Fail)
    );
    for cell in results
        .cells
        .iter()
        .filter(|c| c.conformance == Conformance::Pass)
    {
        let steady = cell.steady.as_ref().expect("conformant cells are measured");
        assert!(
            steady.wall.samples > 0 && steady.wall.median_ns > 0.0,
            "{cell:?}"
        );
        assert!(steady.wall.median_ns <= steady.wall.p99_ns, "{cell:?}");
        assert_eq!(steady.rounds.p50_ns.len(), 3, "one entry per round");
        let median = steady.median.expect("an interval for every timed cell");
        assert!(median.low <= median.value && median.value <= median.high);
        assert!(steady.cpu.is_some_and(|c| c.value > 0.0));
        assert_eq!(
            cell.ratio_to_native.is_some(),
            cell.engine != "native",
            "{cell:?}"
        );
    }
    assert!(
        results
            .environment
            .engines
            .contains_key("wasmtime-cranelift")
    );
    assert!(results.environment.cores >= 1);
    for subject in &subjects[..2] {
        for engine in common::engines() {
            let phase = results
                .phases
                .iter()
                .find(|p| p.filter == subject.filter.name && p.engine == engine.name)
                .expect("start-up phases for every filter and engine");
            assert!(phase.compile.as_ref().is_some_and(|c| c.median_ns > 0.0));
            assert_eq!(phase.instantiate.as_ref().unwrap().samples_ns.len(), 2);
            assert!(
                phase.first_request.is_some() && phase.memory.is_some(),
                "{phase:?}"
            );
        }
    }
    assert!(!results.summary.engines.is_empty());

    // Merging a run with itself pools the rounds and keeps every cell.
    let merged = filterbench_harness::merge::merge(vec![results.clone(), results.clone()]).unwrap();
    assert_eq!(merged.cells.len(), results.cells.len());
    assert_eq!(merged.settings.runs, 2);
    let doubled = merged.cells.iter().find_map(|c| c.steady.as_ref()).unwrap();
    assert_eq!(doubled.rounds.p50_ns.len(), 6);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/results.json");
    results::write_atomic(&path, &results).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let validator = schema();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results.json does not match docs/results.schema.json:\n{}",
        errors.join("\n")
    );
    assert_eq!(results::read(&path).unwrap(), results);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files are left behind");
}

#[test]
fn the_schema_rejects_a_renamed_field() {
    let json = serde_json::json!({
        "schema_version": 2,
        "tool": {"name": "filterbench", "version": "0"},
        "environment": {},
        "settings": {"quick": true, "warmup_ms": 1, "rounds": 1, "slice_ms": 1},
        "cells": [{"filter": "noop", "engine": "native", "workload": "get-small", "conformance": "pass",
                   "error": null, "steady": null, "ratio": null}]
    });
    assert!(!schema().is_valid(&json));
}

#[test]
fn the_committed_schema_is_the_one_generated_from_the_types() {
    let path = paths::repo_root().join("docs/results.schema.json");
    let generated = serde_json::to_string_pretty(&results::json_schema()).unwrap() + "\n";
    if std::env::var_os("FILTERBENCH_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is not the schema generated from the results types (runners/harness/src/results.rs \
         and the types it uses): regenerate it with \
         FILTERBENCH_WRITE_SCHEMA=1 cargo test -p filterbench-engines --test results_schema",
        path.display()
    );
}
