//! Derived statistics of a run: every estimate, interval, ratio, verdict, noise flag and
//! aggregate in `results.json` is computed here from the stored rounds, so a single run, a
//! `--repeat` merge and a re-analysis of an old file all give the same numbers for the same data.

use crate::catalog::{self, Language};
use crate::results::{Cell, EngineSummary, FilterSummary, Results, Steady, Summary};
use crate::stats::{self, Estimate, Verdict};
use std::collections::BTreeMap;

/// Round-to-round variation (CV of round medians) above which a cell is flagged noisy.
pub const NOISY_ROUND_CV: f64 = 0.05;

/// Relative half-width of a ratio's interval above which a cell is flagged noisy (the suite's
/// target: back-to-back runs agree within 3% on every ratio).
pub const NOISY_RATIO_HALF_WIDTH: f64 = 0.03;

/// Whether an engine record is the native baseline.
fn native_engines(results: &Results) -> Vec<String> {
    results
        .engines
        .iter()
        .filter(|e| e.family == "native")
        .map(|e| e.name.clone())
        .collect()
}

/// Fills the per-round estimates of one steady-state measurement.
pub fn analyze_steady(steady: &mut Steady, seed: u64) {
    let r = &steady.rounds;
    let estimate = |values: &[f64], salt: u64| {
        stats::median_estimate(values, seed ^ salt).map(|e| e.rounded(1))
    };
    steady.median = estimate(&r.p50_ns, 1);
    steady.p90 = estimate(&r.p90_ns, 2);
    steady.p99 = estimate(&r.p99_ns, 3);
    steady.p999 = estimate(&r.p999_ns, 4);
    steady.cpu = estimate(&r.cpu_ns, 5);
    steady.round_cv = stats::round_to(stats::coefficient_of_variation(&r.p50_ns), 4);
}

fn cell_seed(cell: &Cell) -> u64 {
    stats::seed_for(&[&cell.filter, &cell.engine, &cell.workload])
}

/// Recomputes every derived field of `results` from the stored rounds.
pub fn analyze(results: &mut Results) {
    let native = native_engines(results);
    for cell in results.cells.iter_mut() {
        let seed = cell_seed(cell);
        if let Some(steady) = cell.steady.as_mut() {
            analyze_steady(steady, seed);
        }
    }
    fill_ratios(&mut results.cells, &native);
    results.summary = summarize(&results.cells, &native);
}

type Key = (String, String);

fn fill_ratios(cells: &mut [Cell], native: &[String]) {
    let is_native = |c: &Cell| native.contains(&c.engine);
    // Baseline rounds (native) and fastest wasm engine per (filter, workload).
    let mut baselines: BTreeMap<Key, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut fastest: BTreeMap<Key, (f64, Vec<f64>)> = BTreeMap::new();
    for cell in cells.iter() {
        let (Some(steady), Some(median)) = (
            cell.steady.as_ref(),
            cell.steady.as_ref().and_then(|s| s.median),
        ) else {
            continue;
        };
        let key = (cell.filter.clone(), cell.workload.clone());
        if is_native(cell) {
            baselines.insert(
                key,
                (steady.rounds.p50_ns.clone(), steady.rounds.cpu_ns.clone()),
            );
        } else if fastest
            .get(&key)
            .is_none_or(|(best, _)| median.value < *best)
        {
            fastest.insert(key, (median.value, steady.rounds.p50_ns.clone()));
        }
    }
    for cell in cells.iter_mut() {
        cell.ratio_to_native = None;
        cell.verdict_vs_native = None;
        cell.cpu_ratio_to_native = None;
        cell.ratio_to_fastest = None;
        cell.noisy = false;
        let seed = cell_seed(cell);
        let key = (cell.filter.clone(), cell.workload.clone());
        let native_cell = native.contains(&cell.engine);
        let Some(steady) = cell.steady.as_ref() else {
            continue;
        };
        if !native_cell {
            // Native code of the same source; a filter in a language without a native build
            // (AssemblyScript) is compared with the Rust filter's native code instead, which ran
            // at another time (its rounds are resampled independently).
            let (base, language) = catalog::split_language(&cell.filter);
            let baseline = match baselines.get(&key) {
                Some(b) => Some((b, true)),
                None if language != Language::Rust => baselines
                    .get(&(base.to_owned(), cell.workload.clone()))
                    .map(|b| (b, false)),
                None => None,
            };
            if let Some(((wall, cpu), paired)) = baseline {
                let ratio = if paired {
                    stats::ratio_estimate
                } else {
                    stats::ratio_estimate_independent
                };
                cell.ratio_to_native =
                    ratio(&steady.rounds.p50_ns, wall, seed).map(|e| e.rounded(4));
                cell.cpu_ratio_to_native =
                    ratio(&steady.rounds.cpu_ns, cpu, seed ^ 7).map(|e| e.rounded(4));
            }
            if let Some((_, best)) = fastest.get(&key) {
                cell.ratio_to_fastest =
                    stats::ratio_estimate(&steady.rounds.p50_ns, best, seed).map(|e| e.rounded(4));
            }
        }
        cell.verdict_vs_native = cell.ratio_to_native.as_ref().map(Verdict::of_ratio);
        let wide = |e: &Option<Estimate>| {
            e.as_ref()
                .is_some_and(|e| e.relative_half_width() > NOISY_RATIO_HALF_WIDTH)
        };
        cell.noisy = steady.round_cv > NOISY_ROUND_CV || wide(&cell.ratio_to_native);
    }
    fill_instruction_ratios(cells, native);
}

fn fill_instruction_ratios(cells: &mut [Cell], native: &[String]) {
    let baselines: BTreeMap<Key, f64> = cells
        .iter()
        .filter(|c| native.contains(&c.engine))
        .filter_map(|c| {
            let count = c.instructions.as_ref()?.per_lifecycle;
            Some(((c.filter.clone(), c.workload.clone()), count))
        })
        .collect();
    for cell in cells.iter_mut() {
        let key = (cell.filter.clone(), cell.workload.clone());
        let native_cell = native.contains(&cell.engine);
        if let Some(count) = cell.instructions.as_mut() {
            count.ratio_to_native = baselines
                .get(&key)
                .filter(|base| **base > 0.0 && !native_cell)
                .map(|base| stats::round_to(count.per_lifecycle / base, 4));
        }
    }
}

/// Per (filter, engine) and per engine geometric means of the ratio to native, each with an
/// interval that resamples the rounds of all its cells together.
fn summarize(cells: &[Cell], native: &[String]) -> Summary {
    let timed = |c: &Cell| {
        c.steady
            .as_ref()
            .is_some_and(|s| !s.rounds.p50_ns.is_empty())
    };
    let baseline = |filter: &str, workload: &str| {
        cells
            .iter()
            .find(|c| {
                native.contains(&c.engine)
                    && c.filter == filter
                    && c.workload == workload
                    && timed(c)
            })
            .and_then(|c| c.steady.as_ref())
    };
    let mut engines: Vec<&str> = Vec::new();
    let mut filters: Vec<&str> = Vec::new();
    for c in cells {
        if !engines.contains(&c.engine.as_str()) {
            engines.push(&c.engine);
        }
        if !filters.contains(&c.filter.as_str()) {
            filters.push(&c.filter);
        }
    }
    let pairs_of = |engine: &str, filter: Option<&str>| -> Vec<(&[f64], &[f64])> {
        cells
            .iter()
            .filter(|c| c.engine == engine && filter.is_none_or(|f| c.filter == f) && timed(c))
            .filter_map(|c| {
                let own = c.steady.as_ref()?;
                let base = baseline(&c.filter, &c.workload)?;
                Some((own.rounds.p50_ns.as_slice(), base.rounds.p50_ns.as_slice()))
            })
            .collect()
    };
    let mut summary = Summary::default();
    for &engine in engines.iter().filter(|e| !native.iter().any(|n| n == *e)) {
        let mut per_filter: Vec<(Vec<f64>, Vec<f64>)> = Vec::new();
        for &filter in &filters {
            let pairs = pairs_of(engine, Some(filter));
            let seed = stats::seed_for(&["filter-geomean", filter, engine]);
            let Some(ratio) = stats::geomean_ratio_estimate(&pairs, seed) else {
                continue;
            };
            summary.filters.push(FilterSummary {
                filter: filter.to_owned(),
                engine: engine.to_owned(),
                ratio_to_native: ratio.rounded(4),
                verdict: Verdict::of_ratio(&ratio),
                workloads: pairs.len(),
            });
            // The filter's geometric mean per round, as one series, so each filter weighs the
            // same in the engine's aggregate whatever its number of workloads. The engine's
            // aggregate is over the Rust filters only: the versions in other languages would
            // count noop and headers several times (they have their own comparison).
            if catalog::split_language(filter).1 == Language::Rust {
                per_filter.push(per_round_geomean(&pairs));
            }
        }
        let pairs: Vec<(&[f64], &[f64])> = per_filter
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        let seed = stats::seed_for(&["engine-geomean", engine]);
        if let Some(ratio) = stats::geomean_ratio_estimate(&pairs, seed) {
            summary.engines.push(EngineSummary {
                engine: engine.to_owned(),
                geomean_ratio_to_native: ratio.rounded(4),
                verdict: Verdict::of_ratio(&ratio),
                filters: pairs.len(),
                noisy_cells: cells
                    .iter()
                    .filter(|c| c.engine == engine && c.noisy)
                    .count(),
            });
        }
    }
    summary
}

/// Collapses several (cell, baseline) round series into one pair of series whose per-round
/// ratio is the geometric mean of the cells' per-round ratios (baseline normalized to 1).
fn per_round_geomean(pairs: &[(&[f64], &[f64])]) -> (Vec<f64>, Vec<f64>) {
    let rounds = pairs
        .iter()
        .map(|(a, b)| a.len().min(b.len()))
        .min()
        .unwrap_or(0);
    let series = (0..rounds)
        .map(|r| {
            let log_sum: f64 = pairs.iter().map(|(a, b)| (a[r] / b[r]).ln()).sum();
            (log_sum / pairs.len() as f64).exp()
        })
        .collect();
    (series, vec![1.0; rounds])
}
