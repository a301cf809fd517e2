//! Derived statistics of a run: every estimate, interval, ratio, verdict, flag and aggregate in
//! `results.json` is computed here from the stored rounds, so a single run, a `--repeat` merge
//! and a re-analysis of an old file all give the same numbers for the same data.
//!
//! **One estimator.** A comparison of cell `a` with its baseline `b` is a series of per-round
//! paired ratios `a_r / b_r` (the two slices ran back to back); its estimate is the *median* of
//! that series, its interval a hierarchical bootstrap (processes, blocks, then rounds) of the
//! same median.
//! The median, not the geometric mean, because a pair that straddles a change of the machine's
//! speed state gives one wild ratio, and the median ignores a few of them where a mean does
//! not. A filter's ratio is the geometric mean over its workloads (sweeps excluded) of those
//! medians; an engine's headline is the geometric mean over filters (each weighing the same) of
//! the filters' ratios, its interval resampling every series in the same bootstrap. Table,
//! headline, findings and charts all read these fields.

use crate::catalog::{self, Language};
use crate::results::{AaSummary, Cell, EngineSummary, FilterSummary, Results, Steady, Summary};
pub use crate::rounds::{FAST_STATE_FACTOR, MIN_FAST_ROUNDS};
use crate::rounds::{aligned, fast_state_rounds, kept, timed};
use crate::stats::{self, PairedSeries, Tested, Verdict};
use crate::workloads;
use filterbench_catalog::price;
pub use filterbench_host::FLOOR_ENGINE;
use std::collections::BTreeMap;

pub use crate::results::AA_ENGINE;

/// Smallest noise threshold: a ratio interval narrower than ±2% is never flagged noisy.
pub const MIN_NOISE_THRESHOLD: f64 = 0.02;

/// An A/A interval that excludes 1 by more than this marks its group unreliable.
pub const AA_TOLERANCE: f64 = 0.02;

/// Whether `engine` is a calibration cell (host floor or A/A), not an engine under test.
pub fn is_calibration(engine: &str) -> bool {
    engine == FLOOR_ENGINE || engine == AA_ENGINE
}

/// Names of the native engines of the run (the baselines).
fn native_engines(results: &Results) -> Vec<String> {
    results
        .engines
        .iter()
        .filter(|e| e.family == "native" && e.name != AA_ENGINE)
        .map(|e| e.name.clone())
        .collect()
}

/// Fills the per-round estimates of one steady-state measurement.
pub fn analyze_steady(steady: &mut Steady, seed: u64) {
    let r = &steady.rounds;
    let origins = r.origins();
    let estimate = |values: &[f64], salt: u64| {
        stats::median_of_series(
            &PairedSeries::new(values.iter().copied(), &origins),
            0.0,
            seed ^ salt,
            0.0,
        )
        .map(|t| t.estimate.rounded(1))
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
    let series = paired_series(&results.cells, &native);
    let between_run_sd = results.settings.between_run_sd;
    fill_cells(&mut results.cells, &series, between_run_sd);
    let precision = flag_cells(&mut results.cells, &native, between_run_sd);
    fill_instruction_ratios(&mut results.cells, &native);
    results.summary = summarize(&results.cells, &series, &native, between_run_sd);
    results.summary.noise_threshold = precision.1;
    results.summary.precision = precision.0;
    results.summary.speed = speed_states(&results.cells, &native);
    results.price = crate::price::price_list(&results.cells, fast_canary(&results.cells, &native));
    crate::price::fill_instructions(&mut results.price, &results.cells);
}

/// A round is in the slow state when its canary took more than this times the fast state.
pub const SLOW_STATE_FACTOR: f64 = 1.3;

/// The fast canary of `results` (see [`aligned_ratios`]), ns; `None` without canary readings.
pub fn run_fast_canary(results: &Results) -> Option<f64> {
    fast_canary(&results.cells, &native_engines(results))
}

/// The run's fast canary: the 10th percentile of the native cells' canary readings.
fn fast_canary(cells: &[Cell], native: &[String]) -> Option<f64> {
    let mut values: Vec<f64> = cells
        .iter()
        .filter(|c| native.contains(&c.engine))
        .filter_map(timed)
        .flat_map(|s| s.rounds.canary_ns.iter().copied())
        .filter(|v| *v > 0.0)
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(stats::quantile_of_sorted(&values, 0.1))
}

/// The speed states of the run from the canary readings of the native cells (one per round of
/// each filter group).
fn speed_states(cells: &[Cell], native: &[String]) -> Option<crate::results::SpeedStates> {
    let readings = |pick: fn(&Steady) -> &Vec<f64>| -> Option<(f64, f64, f64, usize)> {
        let mut values: Vec<f64> = cells
            .iter()
            .filter(|c| native.contains(&c.engine))
            .filter_map(timed)
            .flat_map(|s| pick(s).iter().copied())
            .filter(|v| *v > 0.0)
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let fast = stats::quantile_of_sorted(&values, 0.1);
        let slow = values
            .iter()
            .filter(|v| **v > SLOW_STATE_FACTOR * fast)
            .count();
        Some((
            stats::round_to(fast, 2),
            stats::round_to(stats::quantile_of_sorted(&values, 0.5), 2),
            stats::round_to(slow as f64 / values.len() as f64, 4),
            values.len(),
        ))
    };
    let (fast, median, slow_share, rounds) = readings(|s| &s.rounds.canary_ns)?;
    let memory = readings(|s| &s.rounds.memory_canary_ns);
    let fast_rounds = cells
        .iter()
        .filter(|c| native.contains(&c.engine))
        .filter_map(timed)
        .flat_map(|s| s.rounds.canary_ns.iter())
        .filter(|v| **v > 0.0 && **v <= FAST_STATE_FACTOR * fast)
        .count();
    Some(crate::results::SpeedStates {
        rounds,
        fast_canary_ns: fast,
        median_canary_ns: median,
        slow_share,
        fast_memory_ns: memory.map(|m| m.0),
        median_memory_ns: memory.map(|m| m.1),
        memory_slow_share: memory.map(|m| m.2),
        fast_share: Some(stats::round_to(
            fast_rounds as f64 / rounds.max(1) as f64,
            4,
        )),
    })
}

/// The comparisons of one cell with its baseline, one value per round.
#[derive(Default)]
struct CellSeries {
    /// Wall-time ratio to native.
    ratio: Option<PairedSeries>,
    /// Thread-CPU-time ratio to native.
    cpu: Option<PairedSeries>,
    /// Ratio above the host floor.
    above_floor: Option<PairedSeries>,
    /// Wall time above the host floor, ns.
    time_above_floor: Option<PairedSeries>,
    /// The baseline ran at other times (no pairing possible): the old ratio of medians.
    unpaired: Option<Unpaired>,
    /// Rounds the series were estimated from, when only the fast-state ones.
    fast_rounds: Option<usize>,
    /// Too few fast-state rounds: all were used.
    mixed_state: bool,
}

/// Round series of a cell and of a baseline that did not run next to it.
struct Unpaired {
    wall: Vec<f64>,
    base_wall: Vec<f64>,
    cpu: Vec<f64>,
    base_cpu: Vec<f64>,
}

type Key = (String, String);

/// The baseline of a non-native cell: native code of the same source, or for a language with
/// no native build (AssemblyScript, Go), the Rust filter's native code.
fn baseline_of<'c>(cell: &Cell, natives: &BTreeMap<Key, &'c Cell>) -> Option<&'c Cell> {
    let key = (cell.filter.clone(), cell.workload.clone());
    natives.get(&key).copied().or_else(|| {
        let (base, language) = catalog::split_language(&cell.filter);
        (language != Language::Rust)
            .then(|| {
                natives
                    .get(&(base.to_owned(), cell.workload.clone()))
                    .copied()
            })
            .flatten()
    })
}

/// Per-round ratios `a / b` of two cells measured in the same rounds (aligned by block and
/// round id; the rounds of a filter's languages are shared), `None` when they share no round.
/// Not adjacent slices, so less tightly paired than a cell with its own baseline. Like every
/// comparison, from the fast-state rounds (`fast`: [`run_fast_canary`]) when `a` has enough.
pub fn aligned_ratios(fast: Option<f64>, a: &Cell, b: &Cell) -> Option<PairedSeries> {
    let (own, other) = (timed(a)?, timed(b)?);
    let (mask, _) = fast_state_rounds(&own.rounds.canary_ns, own.rounds.len(), fast);
    let keep = mask.as_deref();
    let base = kept(&aligned(own, other, &other.rounds.p50_ns), keep);
    let series = PairedSeries::ratios(
        &kept(&own.rounds.p50_ns, keep),
        &base,
        &kept(&own.rounds.origins(), keep),
    );
    (!series.is_empty()).then_some(series)
}

fn paired_series(cells: &[Cell], native: &[String]) -> Vec<CellSeries> {
    let fast = fast_canary(cells, native);
    let natives: BTreeMap<Key, &Cell> = cells
        .iter()
        .filter(|c| native.contains(&c.engine) && timed(c).is_some())
        .map(|c| ((c.filter.clone(), c.workload.clone()), c))
        .collect();
    let floors: BTreeMap<Key, &Cell> = cells
        .iter()
        .filter(|c| c.engine == FLOOR_ENGINE && timed(c).is_some())
        .map(|c| ((c.filter.clone(), c.workload.clone()), c))
        .collect();
    cells
        .iter()
        .map(|cell| {
            let mut out = CellSeries::default();
            // The price-list probes are compared with the baseline probe ([`crate::price`]).
            if price::is_probe(&cell.filter) {
                return out;
            }
            let (Some(own), false) = (timed(cell), native.contains(&cell.engine)) else {
                return out;
            };
            let Some(base_cell) = baseline_of(cell, &natives) else {
                return out;
            };
            let Some(base) = timed(base_cell) else {
                return out;
            };
            let r = &own.rounds;
            let origins = r.origins();
            let (base_p50, base_cpu) = if r.is_paired() {
                // Adjacent slices of this round.
                let cpu = if r.baseline_cpu_ns.len() == r.len() {
                    r.baseline_cpu_ns.clone()
                } else {
                    vec![f64::NAN; r.len()]
                };
                (r.baseline_p50_ns.clone(), cpu)
            } else if r.keys() == base.rounds.keys() && base_cell.filter == cell.filter {
                // Files from before adjacent pairs: the same round of an interleaved run.
                (base.rounds.p50_ns.clone(), base.rounds.cpu_ns.clone())
            } else {
                out.unpaired = Some(Unpaired {
                    wall: r.p50_ns.clone(),
                    base_wall: base.rounds.p50_ns.clone(),
                    cpu: r.cpu_ns.clone(),
                    base_cpu: base.rounds.cpu_ns.clone(),
                });
                return out;
            };
            let (mask, mixed) = fast_state_rounds(&r.canary_ns, r.len(), fast);
            out.mixed_state = mixed;
            out.fast_rounds = mask.as_ref().map(|m| m.iter().filter(|k| **k).count());
            let keep = mask.as_deref();
            let origins = kept(&origins, keep);
            let own_p50 = kept(&r.p50_ns, keep);
            let base_p50 = kept(&base_p50, keep);
            out.ratio = Some(PairedSeries::ratios(&own_p50, &base_p50, &origins));
            out.cpu = Some(PairedSeries::ratios(
                &kept(&r.cpu_ns, keep),
                &kept(&base_cpu, keep),
                &origins,
            ));
            let floor = floors
                .get(&(base_cell.filter.clone(), cell.workload.clone()))
                .and_then(|f| timed(f));
            if let Some(floor) = floor
                && cell.engine != FLOOR_ENGINE
            {
                let floor_p50 = kept(&aligned(own, floor, &floor.rounds.p50_ns), keep);
                out.above_floor = Some(PairedSeries::ratios_above(
                    &own_p50, &base_p50, &floor_p50, &origins,
                ));
                out.time_above_floor =
                    Some(PairedSeries::differences(&own_p50, &floor_p50, &origins));
            }
            out
        })
        .collect()
}

/// The run-level term of `engine`'s ratios: none for the A/A cell (native against native: a
/// change of the machine's state over the run moves both alike), `between_run_sd` otherwise.
fn run_level_sd(engine: &str, between_run_sd: f64) -> f64 {
    if engine == AA_ENGINE {
        0.0
    } else {
        between_run_sd
    }
}

fn fill_cells(cells: &mut [Cell], series: &[CellSeries], between_run_sd: f64) {
    // Ratios to the fastest WebAssembly engine: per round, the cell's paired ratio over the
    // fastest cell's paired ratio (both against native in the same round).
    let mut fastest: BTreeMap<Key, usize> = BTreeMap::new();
    for (i, cell) in cells.iter().enumerate() {
        let Some(ratio) = series[i].ratio.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        if is_calibration(&cell.engine) {
            continue;
        }
        let key = (cell.filter.clone(), cell.workload.clone());
        let median = stats::median(&ratio.values);
        let better = fastest.get(&key).is_none_or(|&j| {
            series[j]
                .ratio
                .as_ref()
                .is_some_and(|s| median < stats::median(&s.values))
        });
        if better {
            fastest.insert(key, i);
        }
    }
    for (i, cell) in cells.iter_mut().enumerate() {
        let sd = run_level_sd(&cell.engine, between_run_sd);
        let tested = |s: &Option<PairedSeries>, null: f64, seed: u64| {
            s.as_ref()
                .and_then(|s| stats::median_of_series(s, null, seed, sd))
        };
        let seed = cell_seed(cell);
        let s = &series[i];
        let ratio: Option<Tested> = match &s.unpaired {
            Some(u) => {
                stats::ratio_estimate_independent(&u.wall, &u.base_wall, seed).map(|estimate| {
                    Tested {
                        estimate,
                        p_value: 1.0,
                    }
                })
            }
            None => tested(&s.ratio, 1.0, seed),
        };
        cell.fast_rounds = s.fast_rounds;
        cell.mixed_state = s.mixed_state;
        cell.ratio_to_native = ratio.map(|t| t.estimate.rounded(4));
        cell.ratio_p_value = ratio.map(|t| stats::round_to(t.p_value, 5));
        cell.cpu_ratio_to_native = match &s.unpaired {
            Some(u) => stats::ratio_estimate_independent(&u.cpu, &u.base_cpu, seed ^ 7),
            None => tested(&s.cpu, 1.0, seed ^ 7).map(|t| t.estimate),
        }
        .map(|e| e.rounded(4));
        cell.ratio_above_floor =
            tested(&s.above_floor, 1.0, seed ^ 11).map(|t| t.estimate.rounded(4));
        cell.time_above_floor_ns =
            tested(&s.time_above_floor, 0.0, seed ^ 13).map(|t| t.estimate.rounded(1));
        let key = (cell.filter.clone(), cell.workload.clone());
        cell.ratio_to_fastest = fastest.get(&key).and_then(|&j| {
            let (own, best) = (s.ratio.as_ref()?, series[j].ratio.as_ref()?);
            if own.origins != best.origins {
                return None;
            }
            let relative = PairedSeries::ratios(&own.values, &best.values, &own.origins);
            stats::median_of_series(&relative, 1.0, seed ^ 17, sd).map(|t| t.estimate.rounded(4))
        });
    }
}

/// Verdicts (equivalence margin, Benjamini–Hochberg over the run's engine cells), the noise
/// threshold from the A/A cells, A/A precision per group, `noisy`, `implausible` and
/// `unreliable`. Returns the precision table and the noise threshold.
fn flag_cells(cells: &mut [Cell], native: &[String], between_run_sd: f64) -> (Vec<AaSummary>, f64) {
    let precision: Vec<AaSummary> = cells
        .iter()
        .filter(|c| c.engine == AA_ENGINE)
        .filter_map(|c| {
            let ratio = c.ratio_to_native?;
            Some(AaSummary {
                filter: c.filter.clone(),
                workload: c.workload.clone(),
                ratio,
                unreliable: ratio.low > 1.0 + AA_TOLERANCE || ratio.high < 1.0 - AA_TOLERANCE,
            })
        })
        .collect();
    let mut half_widths: Vec<f64> = precision
        .iter()
        .map(|a| a.ratio.relative_half_width())
        .collect();
    half_widths.sort_by(f64::total_cmp);
    // The half-width a cell measured as precisely as the A/A cell would have once the
    // run-level term (which the A/A cell does not carry) is added; twice that is noisy.
    let run_level = 1.96 * between_run_sd;
    let threshold = if half_widths.is_empty() {
        MIN_NOISE_THRESHOLD.max(2.0 * run_level)
    } else {
        let aa = stats::quantile_of_sorted(&half_widths, 0.5);
        (2.0 * aa.hypot(run_level)).max(MIN_NOISE_THRESHOLD)
    };
    let threshold = stats::round_to(threshold, 4);
    let under_test = |c: &Cell| !native.contains(&c.engine) && !is_calibration(&c.engine);
    let tested: Vec<usize> = (0..cells.len())
        .filter(|&i| under_test(&cells[i]) && cells[i].ratio_p_value.is_some())
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .filter_map(|&i| cells[i].ratio_p_value)
        .collect();
    let discoveries = stats::benjamini_hochberg(&p, stats::FALSE_DISCOVERY_RATE);
    let mut discovery = vec![false; cells.len()];
    for (k, &i) in tested.iter().enumerate() {
        discovery[i] = discoveries[k];
    }
    for (i, cell) in cells.iter_mut().enumerate() {
        let calibration = is_calibration(&cell.engine);
        cell.verdict_vs_native = cell.ratio_to_native.as_ref().map(|r| {
            if calibration {
                Verdict::of_ratio(r)
            } else {
                Verdict::judge(r, discovery[i])
            }
        });
        cell.noisy = !calibration
            && cell
                .ratio_to_native
                .is_some_and(|r| r.relative_half_width() > threshold);
        cell.implausible = match cell.ratio_to_native {
            Some(r) if under_test(cell) && r.high < 1.0 => Some(
                if workloads::LARGE_BODY_WORKLOADS.contains(&cell.workload.as_str()) {
                    "faster than native code of the same source: on bodies of 256 KiB and more, \
                     an allocator effect (a linear memory keeps its pages; native malloc takes \
                     other paths for blocks this large), not a faster engine"
                        .to_owned()
                } else {
                    "faster than native code of the same source, which an engine cannot be: \
                     treat this cell's figures as a measurement problem"
                        .to_owned()
                },
            ),
            _ => None,
        };
        cell.unreliable = precision
            .iter()
            .any(|a| a.unreliable && a.filter == cell.filter && a.workload == cell.workload);
    }
    (precision, threshold)
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

/// Per (filter, engine) and per engine geometric means of the ratio to native (and above the
/// floor), each with an interval from one bootstrap over all their series. Sweep points are
/// left out (they are scaling curves); an engine's headline counts the Rust filters only (the
/// other languages repeat noop and headers and have their own comparison).
fn summarize(
    cells: &[Cell],
    series: &[CellSeries],
    native: &[String],
    between_run_sd: f64,
) -> Summary {
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
    type Pick = fn(&CellSeries) -> Option<&PairedSeries>;
    let of = |engine: &str, filter: &str, pick: Pick| -> Vec<&PairedSeries> {
        cells
            .iter()
            .zip(series)
            .filter(|(c, _)| {
                c.engine == engine && c.filter == filter && !workloads::is_sweep_point(&c.workload)
            })
            .filter_map(|(_, s)| pick(s).filter(|s| !s.is_empty()))
            .collect()
    };
    let ratio: Pick = |s| s.ratio.as_ref();
    let above: Pick = |s| s.above_floor.as_ref();
    let mut summary = Summary::default();
    let mut filter_tests = Vec::new();
    for &engine in engines
        .iter()
        .filter(|e| !native.iter().any(|n| n == *e) && **e != FLOOR_ENGINE)
    {
        let mut per_filter = Vec::new();
        let mut per_filter_above = Vec::new();
        let sd = run_level_sd(engine, between_run_sd);
        for &filter in &filters {
            let pairs = of(engine, filter, ratio);
            let seed = stats::seed_for(&["filter-geomean", filter, engine]);
            let Some(tested) = stats::nested_geomean(std::slice::from_ref(&pairs), seed, sd) else {
                continue;
            };
            let pairs_above = of(engine, filter, above);
            let ratio_above =
                stats::nested_geomean(std::slice::from_ref(&pairs_above), seed ^ 1, sd)
                    .map(|t| t.estimate.rounded(4));
            filter_tests.push(tested.p_value);
            summary.filters.push(FilterSummary {
                filter: filter.to_owned(),
                engine: engine.to_owned(),
                ratio_to_native: tested.estimate.rounded(4),
                ratio_above_floor: ratio_above,
                verdict: Verdict::Inconclusive,
                workloads: pairs.len(),
            });
            if catalog::split_language(filter).1 == Language::Rust && engine != AA_ENGINE {
                per_filter.push(pairs);
                per_filter_above.push(pairs_above);
            }
        }
        if engine == AA_ENGINE {
            continue;
        }
        let seed = stats::seed_for(&["engine-geomean", engine]);
        if let Some(tested) = stats::nested_geomean(&per_filter, seed, sd) {
            summary.engines.push(EngineSummary {
                engine: engine.to_owned(),
                geomean_ratio_to_native: tested.estimate.rounded(4),
                geomean_ratio_above_floor: stats::nested_geomean(&per_filter_above, seed ^ 1, sd)
                    .map(|t| t.estimate.rounded(4)),
                verdict: Verdict::judge(&tested.estimate, tested.p_value <= 0.05),
                filters: per_filter.len(),
                noisy_cells: cells
                    .iter()
                    .filter(|c| c.engine == engine && c.noisy)
                    .count(),
            });
        }
    }
    // Filter verdicts are many: the same false-discovery control as the cells'.
    let discoveries = stats::benjamini_hochberg(&filter_tests, stats::FALSE_DISCOVERY_RATE);
    for (f, discovery) in summary.filters.iter_mut().zip(discoveries) {
        f.verdict = if f.engine == AA_ENGINE {
            Verdict::of_ratio(&f.ratio_to_native)
        } else {
            Verdict::judge(&f.ratio_to_native, discovery)
        };
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cells;
    use crate::test_cells::{results_with, timed as cell};

    #[test]
    fn fast_state_rounds_need_a_canary_and_enough_of_them() {
        let canary: Vec<f64> = (0..20)
            .map(|i| if i < 12 { 100.0 } else { 120.0 })
            .collect();
        let (mask, mixed) = fast_state_rounds(&canary, 20, Some(100.0));
        assert_eq!(mask.unwrap().iter().filter(|k| **k).count(), 12);
        assert!(!mixed);
        let mostly_slow: Vec<f64> = (0..20).map(|i| if i < 5 { 100.0 } else { 120.0 }).collect();
        assert_eq!(
            fast_state_rounds(&mostly_slow, 20, Some(100.0)),
            (None, true)
        );
        assert_eq!(fast_state_rounds(&[], 20, Some(100.0)), (None, false));
        assert_eq!(fast_state_rounds(&canary, 20, None), (None, false));
    }

    #[test]
    fn ratios_come_from_the_fast_state_rounds() {
        // 40 rounds: in the 24 fast ones (canary 100 ns) the engine takes 3x native; in the 16
        // slow ones (canary 112 ns, a noisy neighbour) native slows down 2x and the engine
        // hardly at all, so the ratio there is 1.6x. All rounds would give a median near 3x
        // but an interval reaching towards 1.6x; the fast state gives 3x.
        let n = 40;
        let slow = |i: usize| i % 5 >= 3;
        let canary: Vec<f64> = (0..n)
            .map(|i| if slow(i) { 112.0 } else { 100.0 })
            .collect();
        let native: Vec<f64> = (0..n)
            .map(|i| if slow(i) { 200.0 } else { 100.0 })
            .collect();
        let engine: Vec<f64> = (0..n)
            .map(|i| if slow(i) { 320.0 } else { 300.0 })
            .collect();
        let rounds =
            |p50: Vec<f64>, baseline: Vec<f64>| test_cells::rounds(p50, baseline, canary.clone());
        let mut results = results_with(vec![
            cell("native", rounds(native.clone(), Vec::new())),
            cell("wasmtime-cranelift", rounds(engine, native)),
        ]);
        analyze(&mut results);
        let c = &results.cells[1];
        assert_eq!(c.fast_rounds, Some(24));
        assert!(!c.mixed_state);
        let ratio = c.ratio_to_native.unwrap();
        assert_eq!((ratio.value, ratio.low, ratio.high), (3.0, 3.0, 3.0));
        let speed = results.summary.speed.unwrap();
        assert_eq!(speed.fast_share, Some(0.6));
    }
}
