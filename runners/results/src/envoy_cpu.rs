//! Envoy's CPU time per request at a fixed rate, paired in time (`filterbench envoy --measure
//! cpu`): one Envoy per filter hosts every variant on its own listener, all served by its one
//! worker thread; each round sends one slice (a fixed number of requests at a fixed rate below
//! every variant's capacity) to every listener in a fresh random order, and reads the worker
//! thread's on-CPU time around each slice. A variant's cost is the per-round difference to the
//! no-filter slice of the same round — seconds apart, on the same process and machine state —
//! summarized as the median over rounds with a bootstrap interval.

use crate::envoy_variants::{BASELINE, variant_rank};
use crate::stats::{self, Estimate, Origin, PairedSeries};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A slice whose requests took more than this fraction longer than the schedule allows fell
/// behind the fixed rate: the variant could not keep up, and the slice is left out.
pub const BEHIND_TOLERANCE: f64 = 0.02;

/// The paired CPU measurement of one filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EnvoyCpu {
    /// Bench filter name.
    pub filter: String,
    /// Requests per second sent during a slice.
    pub rate_rps: f64,
    /// How the rate was chosen: `auto` (half the slowest variant's capacity, from the warm-up)
    /// or `fixed` (`--slice-rate`).
    pub rate_source: String,
    /// Requests per slice.
    pub requests_per_slice: u64,
    /// Rounds asked for (one slice per variant each).
    pub rounds: u32,
    /// Why the measurement stopped or never started (Envoy would not start, a listener was
    /// not conformant, a slice failed), if it did.
    pub error: Option<String>,
    /// What each variant is, in Envoy's terms (`variant`, description).
    pub descriptions: Vec<(String, String)>,
    /// Every slice, in the order it ran.
    pub slices: Vec<CpuSlice>,
    /// Per variant (baseline first): CPU per request and cost over no filter.
    pub costs: Vec<CpuCost>,
}

/// One slice: a fixed number of requests to one variant's listener.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuSlice {
    /// Round (0-based).
    pub round: u32,
    /// Variant name.
    pub variant: String,
    /// Requests answered.
    pub requests: u64,
    /// Of them, not 2xx.
    pub non_2xx: u64,
    /// From the first request sent to the last response, seconds.
    pub seconds: f64,
    /// On-CPU time of Envoy's worker thread over the slice, nanoseconds.
    pub worker_ns: u64,
    /// On-CPU time of all of Envoy's threads over the slice, nanoseconds.
    pub process_ns: u64,
}

impl CpuSlice {
    /// Worker CPU per request, µs.
    pub fn worker_us_per_request(&self) -> f64 {
        self.worker_ns as f64 / 1e3 / self.requests.max(1) as f64
    }

    /// Whole-process CPU per request, µs.
    pub fn process_us_per_request(&self) -> f64 {
        self.process_ns as f64 / 1e3 / self.requests.max(1) as f64
    }

    /// Whether the slice fell behind `rate_rps` by more than [`BEHIND_TOLERANCE`].
    pub fn is_behind(&self, rate_rps: f64) -> bool {
        rate_rps > 0.0 && self.seconds > self.requests as f64 / rate_rps * (1.0 + BEHIND_TOLERANCE)
    }

    fn kept(&self, rate_rps: f64) -> bool {
        self.requests > 0 && self.non_2xx == 0 && !self.is_behind(rate_rps)
    }
}

/// What the paired difference to no filter says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CostFinding {
    /// The baseline itself, or too few paired rounds to say anything.
    #[default]
    None,
    /// The interval of the difference lies above 0: the filter costs CPU.
    Costs,
    /// The interval contains 0: no cost could be shown.
    NotShown,
    /// The interval lies below 0: a filter cannot make Envoy do less, so this is a measurement
    /// failure, not a finding.
    NegativeFailure,
}

/// One variant's CPU per request and its paired cost over no filter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuCost {
    /// Variant name.
    pub variant: String,
    /// Slices kept (answered, all 2xx, on schedule).
    pub slices: usize,
    /// Slices left out because they fell behind the rate.
    pub behind: usize,
    /// Worker CPU per request, µs: median over slices, bootstrap interval.
    pub worker_us: Option<Estimate>,
    /// Whole-process CPU per request, µs: median over slices, bootstrap interval.
    pub process_us: Option<Estimate>,
    /// Rounds where this variant and no filter both have a kept slice.
    pub paired_rounds: usize,
    /// Worker CPU per request minus no filter's in the same round, µs: median over rounds,
    /// bootstrap interval.
    pub over_baseline_us: Option<Estimate>,
    /// Worker CPU per request ÷ no filter's in the same round: median over rounds, interval.
    pub ratio_to_baseline: Option<Estimate>,
    /// Bootstrap two-sided p-value of "the difference is 0".
    pub p_value: Option<f64>,
    /// What the difference's interval says.
    pub finding: CostFinding,
}

/// Fewest paired rounds for an interval on the difference.
pub const MIN_PAIRED_ROUNDS: usize = 5;

/// Fills `cpu.costs` from its slices: every variant in the order given, baseline included.
pub fn summarize(cpu: &mut EnvoyCpu) {
    let mut variants: Vec<String> = Vec::new();
    for s in &cpu.slices {
        if !variants.contains(&s.variant) {
            variants.push(s.variant.clone());
        }
    }
    variants.sort_by_key(|v| variant_rank(v));
    let rate = cpu.rate_rps;
    let kept = |variant: &str| -> Vec<&CpuSlice> {
        cpu.slices
            .iter()
            .filter(|s| s.variant == variant && s.kept(rate))
            .collect()
    };
    let baseline = kept(BASELINE);
    cpu.costs = variants
        .iter()
        .map(|variant| {
            let mine = kept(variant);
            let seed = stats::seed_for(&[&cpu.filter, variant, "envoy-cpu"]);
            let estimate = |values: Vec<f64>, origins: &[Origin]| {
                stats::median_of_series(&PairedSeries::new(values, origins), 0.0, seed, 0.0)
                    .map(|t| t.estimate)
            };
            let origins: Vec<Origin> = mine.iter().map(|s| Origin::new(0, s.round)).collect();
            let mut cost = CpuCost {
                variant: variant.clone(),
                slices: mine.len(),
                behind: cpu
                    .slices
                    .iter()
                    .filter(|s| &s.variant == variant && s.is_behind(rate))
                    .count(),
                worker_us: estimate(
                    mine.iter().map(|s| s.worker_us_per_request()).collect(),
                    &origins,
                ),
                process_us: estimate(
                    mine.iter().map(|s| s.process_us_per_request()).collect(),
                    &origins,
                ),
                ..CpuCost::default()
            };
            if variant != BASELINE {
                pair_with_baseline(&mut cost, &mine, &baseline, seed);
            }
            cost
        })
        .collect();
}

/// Worker CPU per request of variant `a` minus variant `b`, paired round by round (µs: median
/// over rounds where both have a kept slice, bootstrap interval and p-value against 0); `None`
/// with fewer than [`MIN_PAIRED_ROUNDS`] such rounds.
pub fn paired_difference(cpu: &EnvoyCpu, a: &str, b: &str) -> Option<stats::Tested> {
    let kept = |variant: &str| -> Vec<&CpuSlice> {
        cpu.slices
            .iter()
            .filter(|s| s.variant == variant && s.kept(cpu.rate_rps))
            .collect()
    };
    let (a_slices, b_slices) = (kept(a), kept(b));
    let pairs = pairs(&a_slices, &b_slices);
    if pairs.len() < MIN_PAIRED_ROUNDS {
        return None;
    }
    let (x, y, origins) = unzip(&pairs);
    stats::median_of_series(
        &PairedSeries::differences(&x, &y, &origins),
        0.0,
        stats::seed_for(&[&cpu.filter, a, b, "envoy-cpu-pair"]),
        0.0,
    )
}

/// (a's, b's worker µs per request, round) of the rounds where both have a slice.
fn pairs(a: &[&CpuSlice], b: &[&CpuSlice]) -> Vec<(f64, f64, u32)> {
    a.iter()
        .filter_map(|s| {
            let other = b.iter().find(|o| o.round == s.round)?;
            Some((
                s.worker_us_per_request(),
                other.worker_us_per_request(),
                s.round,
            ))
        })
        .collect()
}

fn unzip(pairs: &[(f64, f64, u32)]) -> (Vec<f64>, Vec<f64>, Vec<Origin>) {
    (
        pairs.iter().map(|p| p.0).collect(),
        pairs.iter().map(|p| p.1).collect(),
        pairs.iter().map(|p| Origin::new(0, p.2)).collect(),
    )
}

fn pair_with_baseline(cost: &mut CpuCost, mine: &[&CpuSlice], baseline: &[&CpuSlice], seed: u64) {
    let pairs = pairs(mine, baseline);
    cost.paired_rounds = pairs.len();
    if pairs.len() < MIN_PAIRED_ROUNDS {
        return;
    }
    let (a, b, origins) = unzip(&pairs);
    let difference =
        stats::median_of_series(&PairedSeries::differences(&a, &b, &origins), 0.0, seed, 0.0);
    let ratio = stats::median_of_series(&PairedSeries::ratios(&a, &b, &origins), 1.0, seed, 0.0);
    cost.over_baseline_us = difference.map(|t| t.estimate);
    cost.p_value = difference.map(|t| t.p_value);
    cost.ratio_to_baseline = ratio.map(|t| t.estimate);
    cost.finding = match cost.over_baseline_us {
        Some(d) if d.low > 0.0 => CostFinding::Costs,
        Some(d) if d.high < 0.0 => CostFinding::NegativeFailure,
        Some(_) => CostFinding::NotShown,
        None => CostFinding::None,
    };
}

/// What a reader must know about one variant's row: slices left out, a negative cost.
pub fn cost_note(cost: &CpuCost) -> String {
    let mut notes = Vec::new();
    if cost.finding == CostFinding::NegativeFailure {
        notes.push("negative cost over no filter: a measurement failure".to_owned());
    }
    if cost.variant != BASELINE && cost.paired_rounds < MIN_PAIRED_ROUNDS {
        notes.push(format!(
            "{} paired round(s): too few for an interval (need {MIN_PAIRED_ROUNDS})",
            cost.paired_rounds
        ));
    }
    if cost.behind > 0 {
        notes.push(format!(
            "{} slice(s) fell behind the rate by >2% and were left out",
            cost.behind
        ));
    }
    notes.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(round: u32, variant: &str, worker_us: f64) -> CpuSlice {
        CpuSlice {
            round,
            variant: variant.to_owned(),
            requests: 1000,
            non_2xx: 0,
            seconds: 0.999,
            worker_ns: (worker_us * 1000.0 * 1000.0) as u64,
            process_ns: (worker_us * 1000.0 * 1000.0) as u64 + 5_000_000,
        }
    }

    /// Rounds whose machine speed swings ±40% (the same for every variant of a round), a
    /// filter that costs 10 µs on a 50 µs baseline at speed 1.
    fn swinging(cost_us: f64, rounds: u32) -> EnvoyCpu {
        let mut cpu = EnvoyCpu {
            filter: "headers".to_owned(),
            rate_rps: 1000.0,
            requests_per_slice: 1000,
            rounds,
            ..EnvoyCpu::default()
        };
        for r in 0..rounds {
            let speed = if r % 2 == 0 { 1.0 } else { 1.4 } + 0.01 * r as f64;
            cpu.slices.push(slice(r, "v8", (50.0 + cost_us) * speed));
            cpu.slices.push(slice(r, BASELINE, 50.0 * speed));
        }
        summarize(&mut cpu);
        cpu
    }

    #[test]
    fn paired_difference_sees_a_cost_through_machine_speed_swings() {
        let cpu = swinging(10.0, 20);
        let v8 = &cpu.costs[1];
        assert_eq!(cpu.costs[0].variant, BASELINE);
        assert_eq!((v8.variant.as_str(), v8.paired_rounds), ("v8", 20));
        let d = v8.over_baseline_us.unwrap();
        // Per-round differences are 10 µs × speed (10–14.2): the interval excludes 0 though
        // unpaired per-slice values overlap (50–74 vs 60–89).
        assert!(d.low > 9.0 && d.high < 15.0, "{d:?}");
        assert_eq!(v8.finding, CostFinding::Costs);
        let ratio = v8.ratio_to_baseline.unwrap();
        assert!((ratio.value - 1.2).abs() < 1e-9, "{ratio:?}");
        let between = paired_difference(&cpu, "v8", BASELINE).unwrap();
        assert_eq!(between.estimate.value, d.value);
        assert!(paired_difference(&cpu, "v8", "lua").is_none());
        let w = v8.worker_us.unwrap();
        assert!(w.low < 70.0 && w.high > 70.0, "{w:?}");
        assert!(cost_note(v8).is_empty());
    }

    #[test]
    fn negative_cost_is_a_failure_and_zero_cost_is_not_shown() {
        let cpu = swinging(-5.0, 20);
        assert_eq!(cpu.costs[1].finding, CostFinding::NegativeFailure);
        assert!(cost_note(&cpu.costs[1]).contains("measurement failure"));
        let mut cpu = swinging(0.0, 20);
        // Break the exact equality with a little noise either way.
        for (i, s) in cpu.slices.iter_mut().enumerate() {
            if s.variant == "v8" {
                s.worker_ns = (s.worker_ns as f64 * if i % 4 == 0 { 1.01 } else { 0.99 }) as u64;
            }
        }
        summarize(&mut cpu);
        assert_eq!(cpu.costs[1].finding, CostFinding::NotShown);
    }

    #[test]
    fn slices_behind_the_rate_or_failing_are_left_out() {
        let mut cpu = swinging(10.0, 8);
        cpu.slices[0].seconds = 1.1;
        cpu.slices[2].non_2xx = 3;
        summarize(&mut cpu);
        let v8 = &cpu.costs[1];
        assert_eq!((v8.slices, v8.behind, v8.paired_rounds), (6, 1, 6));
        assert!(cost_note(v8).contains("1 slice(s) fell behind"));
        let few = swinging(10.0, 4);
        assert_eq!(few.costs[1].over_baseline_us, None);
        assert!(cost_note(&few.costs[1]).contains("too few"));
    }
}
