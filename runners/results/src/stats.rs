//! Statistics of timing samples.
//!
//! Two levels. Within one cell, every lifecycle is a sample: the pooled samples go into an
//! HdrHistogram for the full percentile spectrum ([`summarize`]). Across the run, the unit of
//! evidence is the *round*: cells are measured in interleaved rounds, so samples within a round
//! are correlated (same machine state) while rounds are close to independent. Confidence
//! intervals are therefore bootstrapped over rounds, not over samples: treating a million
//! correlated samples as independent gives intervals that are far too narrow on a shared machine.
//! Rounds are themselves grouped — by block (a fresh module load) and by process (the run is
//! split over several processes, each with its own code placement and heap) — and the bootstrap
//! resamples processes, then blocks, then rounds, so intervals cover what changes between
//! processes and not only what changes from round to round.
//! Ratios between two cells pair their rounds (round *r* of both ran back to back), which
//! cancels the drift of the machine between rounds.
//! What all processes of one run share — a state of the machine that lasts the whole run —
//! cannot be resampled from inside the run. Ratio intervals therefore also carry a run-level
//! term: each bootstrap draw multiplies the statistic by `exp(sd · z)`, `z` standard normal,
//! with `sd` the between-run standard deviation measured on the machine by two back-to-back
//! runs (`filterbench precision` estimates it).

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Summary of a set of per-lifecycle timings, in nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SampleSummary {
    /// Number of samples (one per lifecycle).
    pub samples: u64,
    /// Median, ns.
    pub median_ns: f64,
    /// 90th percentile, ns.
    pub p90_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: f64,
    /// 99.9th percentile, ns.
    pub p999_ns: f64,
    /// Arithmetic mean, ns.
    pub mean_ns: f64,
    /// Smallest sample, ns.
    pub min_ns: f64,
    /// Largest sample, ns.
    pub max_ns: f64,
    /// Standard deviation, ns.
    pub stddev_ns: f64,
    /// Coefficient of variation of the samples (stddev / mean).
    pub cv: f64,
    /// Percentile spectrum: `[percentile, ns]` pairs from p0 to p100, denser in the tail.
    #[serde(default)]
    pub spectrum: Vec<[f64; 2]>,
}

/// Percentiles at which the spectrum is sampled (denser towards the tail, for log-scaled
/// percentile axes).
pub const SPECTRUM_PERCENTILES: [f64; 14] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// Highest value the histograms track: 60 s in ns (longer samples are clamped).
const HIGHEST_NS: u64 = 60_000_000_000;

/// A histogram of per-lifecycle times, ns (3 significant digits, 1 ns to 60 s).
pub type TimeHistogram = Histogram<u32>;

/// An empty [`TimeHistogram`].
pub fn new_histogram() -> TimeHistogram {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("valid histogram bounds")
}

/// Encodes a histogram as HdrHistogram V2 + DEFLATE, base64 (standard alphabet).
pub fn encode_histogram(hist: &TimeHistogram) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut bytes = Vec::new();
    match hdrhistogram::serialization::V2DeflateSerializer::new().serialize(hist, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Decodes [`encode_histogram`]'s output; `None` when it is not a valid histogram.
pub fn decode_histogram(text: &str) -> Option<TimeHistogram> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

/// Summarizes samples (ns); `None` when there are none.
pub fn summarize(samples: &[u64]) -> Option<SampleSummary> {
    let mut hist = new_histogram();
    for &s in samples {
        hist.saturating_record(s.max(1));
    }
    summarize_histogram(&hist)
}

/// Summarizes a histogram of samples (ns); `None` when it is empty. Mean and standard deviation
/// are the histogram's (within its 0.1% resolution).
pub fn summarize_histogram(hist: &TimeHistogram) -> Option<SampleSummary> {
    if hist.is_empty() {
        return None;
    }
    let q = |quantile: f64| hist.value_at_quantile(quantile) as f64;
    let (min, max) = (hist.min() as f64, hist.max() as f64);
    let spectrum = SPECTRUM_PERCENTILES
        .iter()
        .map(|&p| {
            let ns = match p {
                0.0 => min,
                100.0 => max,
                _ => q(p / 100.0),
            };
            [p, ns]
        })
        .collect();
    let (mean, stddev) = (hist.mean(), hist.stdev());
    Some(SampleSummary {
        samples: hist.len(),
        median_ns: q(0.5),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        mean_ns: round_to(mean, 1),
        min_ns: min,
        max_ns: max,
        stddev_ns: round_to(stddev, 1),
        cv: round_to(cv(mean, stddev), 4),
        spectrum,
    })
}

/// Rounds `x` to `digits` decimal places (keeps results files readable).
pub fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

fn cv(mean: f64, stddev: f64) -> f64 {
    if mean > 0.0 { stddev / mean } else { 0.0 }
}

/// Coefficient of variation (sample standard deviation / mean) of `values`; 0 for fewer than
/// two values.
pub fn coefficient_of_variation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    cv(mean, variance.sqrt())
}

/// The `quantile` (0..=1) of `values` by linear interpolation between order statistics; NaN
/// when empty. `values` need not be sorted.
pub fn quantile(values: &[f64], quantile: f64) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_of_sorted(&sorted, quantile)
}

/// [`quantile`] of values already sorted ascending.
pub fn quantile_of_sorted(sorted: &[f64], quantile: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = quantile.clamp(0.0, 1.0) * (n - 1) as f64;
            let low = position.floor() as usize;
            let high = position.ceil() as usize;
            let weight = position - low as f64;
            sorted[low] * (1.0 - weight) + sorted[high] * weight
        }
    }
}

/// Median of `values` (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Exact percentiles of one round's samples (ns), sorted in place.
pub fn round_percentiles(samples: &mut [u64]) -> [f64; 4] {
    samples.sort_unstable();
    let sorted: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
    [0.5, 0.9, 0.99, 0.999].map(|q| quantile_of_sorted(&sorted, q))
}

/// A point estimate with its 95% confidence interval, in the unit of the quantity (ns for
/// latencies, a plain factor for ratios).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    /// Point estimate.
    pub value: f64,
    /// Lower bound of the 95% confidence interval.
    pub low: f64,
    /// Upper bound of the 95% confidence interval.
    pub high: f64,
}

impl Estimate {
    /// Relative half-width of the interval: (high - low) / 2 / value.
    pub fn relative_half_width(&self) -> f64 {
        if self.value > 0.0 {
            (self.high - self.low) / 2.0 / self.value
        } else {
            f64::INFINITY
        }
    }

    /// The same estimate with every field rounded to `digits` decimals.
    pub fn rounded(self, digits: i32) -> Self {
        Self {
            value: round_to(self.value, digits),
            low: round_to(self.low, digits),
            high: round_to(self.high, digits),
        }
    }
}

/// Bootstrap resamples per confidence interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// Two-sided confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// Percentile bootstrap: evaluates `statistic` on [`BOOTSTRAP_RESAMPLES`] resamples, each drawn
/// by the statistic itself from a generator seeded with `seed`, and returns the central
/// [`CONFIDENCE`] interval of the results. Non-finite statistics are skipped.
pub fn bootstrap_interval(seed: u64, statistic: impl FnMut(&mut StdRng) -> f64) -> (f64, f64) {
    central_interval(&bootstrap_distribution(seed, statistic))
}

/// The finite values of `statistic` over [`BOOTSTRAP_RESAMPLES`] resamples, sorted.
fn bootstrap_distribution(seed: u64, mut statistic: impl FnMut(&mut StdRng) -> f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| statistic(&mut rng))
        .filter(|v| v.is_finite())
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

/// The central [`CONFIDENCE`] interval of sorted values.
fn central_interval(sorted: &[f64]) -> (f64, f64) {
    let tail = (1.0 - CONFIDENCE) / 2.0;
    (
        quantile_of_sorted(sorted, tail),
        quantile_of_sorted(sorted, 1.0 - tail),
    )
}

/// Draws `n` indices below `n` with replacement into `indices`.
fn draw(rng: &mut StdRng, n: usize, indices: &mut Vec<usize>) {
    indices.clear();
    indices.extend((0..n).map(|_| rng.random_range(0..n)));
}

/// Ratio of medians `median(a) / median(b)` with `a` and `b` resampled independently: only for
/// series that were not measured side by side (two results files, old files without pairs);
/// every comparison within a run uses [`median_of_series`] of per-round paired ratios.
pub fn ratio_estimate_independent(a: &[f64], b: &[f64], seed: u64) -> Option<Estimate> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let value = median(a) / median(b);
    if !value.is_finite() {
        return None;
    }
    let (mut idx_a, mut idx_b, mut buf_a, mut buf_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (low, high) = bootstrap_interval(seed, |rng| {
        draw(rng, a.len(), &mut idx_a);
        draw(rng, b.len(), &mut idx_b);
        median_at(a, &idx_a, &mut buf_a) / median_at(b, &idx_b, &mut buf_b)
    });
    Some(Estimate { value, low, high })
}

/// Where a round was measured: the process (one of the run's measuring processes) and the
/// block inside it (a fresh module load and instance). The two outer levels of every bootstrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The measuring process (0-based, in run order; a merged file numbers each file's anew).
    pub process: u32,
    /// The block (unique within the file).
    pub block: u32,
}

impl Origin {
    /// The origin of a round of block `block` in process `process`.
    pub fn new(process: u32, block: u32) -> Self {
        Self { process, block }
    }

    /// Origins for `blocks` all in process 0.
    pub fn of_blocks(blocks: &[u32]) -> Vec<Self> {
        blocks.iter().map(|&b| Self::new(0, b)).collect()
    }
}

/// One series of per-round observations of a comparison (a paired ratio, a ratio above the
/// floor, a time difference), with the process and block each round belongs to. Rounds whose
/// observation is undefined (a zero or missing baseline) are left out.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedSeries {
    /// One value per kept round.
    pub values: Vec<f64>,
    /// The process and block of each kept round (the outer levels of the bootstrap).
    pub origins: Vec<Origin>,
    /// How much a run-level relative change moves this series' statistic, in log terms: 1 for a
    /// ratio, `b / (b − f)` for a ratio above the floor (the floor amplifies a change of the
    /// baseline), 0 for absolute values and differences (no run-level term).
    pub between_run_gain: f64,
}

impl PairedSeries {
    /// Keeps the finite values of `values` with their origins.
    pub fn new(values: impl IntoIterator<Item = f64>, origins: &[Origin]) -> Self {
        let (values, origins) = values
            .into_iter()
            .zip(origins.iter().copied())
            .filter(|(v, _)| v.is_finite())
            .unzip();
        Self {
            values,
            origins,
            between_run_gain: 0.0,
        }
    }

    /// The same series with `gain` as its [`PairedSeries::between_run_gain`].
    pub fn with_between_run_gain(self, gain: f64) -> Self {
        Self {
            between_run_gain: if gain.is_finite() { gain } else { 0.0 },
            ..self
        }
    }

    /// Per-round ratios `a[r] / b[r]` (rounds with `b[r] <= 0` left out); run-level gain 1.
    pub fn ratios(a: &[f64], b: &[f64], origins: &[Origin]) -> Self {
        Self::new(
            a.iter()
                .zip(b)
                .map(|(a, b)| if *b > 0.0 { a / b } else { f64::NAN }),
            origins,
        )
        .with_between_run_gain(1.0)
    }

    /// Per-round ratios above the floor, `(a[r] - f[r]) / (b[r] - f[r])` (rounds where the
    /// baseline is not above the floor left out); run-level gain `median(b) / median(b − f)`.
    pub fn ratios_above(a: &[f64], b: &[f64], floor: &[f64], origins: &[Origin]) -> Self {
        let above: Vec<f64> = b.iter().zip(floor).map(|(b, f)| b - f).collect();
        let gain = median(b) / median(&above);
        Self::new(
            a.iter().zip(b).zip(floor).map(|((a, b), f)| {
                if b - f > 0.0 {
                    (a - f) / (b - f)
                } else {
                    f64::NAN
                }
            }),
            origins,
        )
        .with_between_run_gain(if gain > 1.0 { gain } else { 1.0 })
    }

    /// Per-round differences `a[r] - b[r]`.
    pub fn differences(a: &[f64], b: &[f64], origins: &[Origin]) -> Self {
        Self::new(a.iter().zip(b).map(|(a, b)| a - b), origins)
    }

    /// Number of kept rounds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no round was kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The rounds of a series grouped by process and block, for a three-level bootstrap: draw
/// processes with replacement, then blocks with replacement inside each drawn process, then
/// rounds with replacement inside each drawn block. With one process this is the two-level
/// bootstrap over blocks and rounds.
#[derive(Clone, Debug, PartialEq)]
struct Clusters {
    /// Per process, per block, the indices of its rounds.
    processes: Vec<Vec<Vec<usize>>>,
}

impl Clusters {
    fn of(origins: &[Origin]) -> Self {
        let mut grouped: BTreeMap<u32, BTreeMap<u32, Vec<usize>>> = BTreeMap::new();
        for (i, o) in origins.iter().enumerate() {
            grouped
                .entry(o.process)
                .or_default()
                .entry(o.block)
                .or_default()
                .push(i);
        }
        Self {
            processes: grouped
                .into_values()
                .map(|blocks| blocks.into_values().collect())
                .collect(),
        }
    }

    fn draw(&self, rng: &mut StdRng, out: &mut Vec<usize>) {
        out.clear();
        let n = self.processes.len();
        for _ in 0..n {
            let blocks = &self.processes[rng.random_range(0..n)];
            for _ in 0..blocks.len() {
                let block = &blocks[rng.random_range(0..blocks.len())];
                out.extend((0..block.len()).map(|_| block[rng.random_range(0..block.len())]));
            }
        }
    }
}

/// Median of `values` at `indices` in O(n); `buffer` is scratch space.
fn median_at(values: &[f64], indices: &[usize], buffer: &mut Vec<f64>) -> f64 {
    buffer.clear();
    buffer.extend(indices.iter().map(|&i| values[i]));
    fast_median(buffer)
}

/// Median of `values` in O(n) (reorders them); NaN when empty.
fn fast_median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        upper
    } else {
        let lower = values[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// An estimate of a ratio with its interval and the bootstrap's two-sided p-value for "the
/// ratio is 1".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tested {
    /// The estimate and its 95% interval.
    pub estimate: Estimate,
    /// Share of bootstrap statistics on the far side of 1, doubled (at least 1/resamples).
    pub p_value: f64,
}

/// Percentile bootstrap that also returns the two-sided p-value against `null`.
fn bootstrap_tested(
    seed: u64,
    null: f64,
    statistic: impl FnMut(&mut StdRng) -> f64,
) -> (f64, f64, f64) {
    let values = bootstrap_distribution(seed, statistic);
    let n = values.len().max(1) as f64;
    let below = values.iter().filter(|v| **v <= null).count() as f64;
    let above = values.iter().filter(|v| **v >= null).count() as f64;
    let p = (2.0 * below.min(above) / n).clamp(1.0 / n, 1.0);
    let (low, high) = central_interval(&values);
    (low, high, p)
}

/// One draw of the run-level factor `exp(sd · gain · z)`.
fn run_level_factor(rng: &mut StdRng, sd: f64, gain: f64) -> f64 {
    if sd * gain == 0.0 {
        return 1.0;
    }
    let z: f64 = rng.sample(StandardNormal);
    (sd * gain * z).exp()
}

/// The median of one series' per-round values, with an interval from the hierarchical
/// bootstrap (processes, blocks, then rounds, times the run-level factor of `between_run_sd`
/// scaled by the series' gain) and the p-value against `null`. This is the estimator of every
/// cell-level comparison: the median of per-round paired ratios.
pub fn median_of_series(
    series: &PairedSeries,
    null: f64,
    seed: u64,
    between_run_sd: f64,
) -> Option<Tested> {
    if series.is_empty() {
        return None;
    }
    let clusters = Clusters::of(&series.origins);
    let value = fast_median(&mut series.values.clone());
    let (mut idx, mut buffer) = (Vec::new(), Vec::new());
    let (low, high, p_value) = bootstrap_tested(seed, null, |rng| {
        clusters.draw(rng, &mut idx);
        median_at(&series.values, &idx, &mut buffer)
            * run_level_factor(rng, between_run_sd, series.between_run_gain)
    });
    Some(Tested {
        estimate: Estimate { value, low, high },
        p_value,
    })
}

/// Geometric mean over groups of the geometric mean over each group's series of the series'
/// median: a filter's ratio (one group, its workloads as series) or an engine's headline (one
/// group per filter, each filter weighing the same). The interval resamples every series with
/// the hierarchical bootstrap; series with the same origins (cells measured in the same rounds) are
/// resampled jointly, others independently. The run-level term (`between_run_sd`) is drawn once
/// per group: what moves between runs moves a whole filter (its native code), so a geomean over
/// filters averages independent run-level changes.
pub fn nested_geomean(
    groups: &[Vec<&PairedSeries>],
    seed: u64,
    between_run_sd: f64,
) -> Option<Tested> {
    let groups: Vec<Vec<&PairedSeries>> = groups
        .iter()
        .map(|g| g.iter().copied().filter(|s| !s.is_empty()).collect())
        .filter(|g: &Vec<&PairedSeries>| !g.is_empty())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let combine = |medians: &mut dyn FnMut(usize, usize) -> f64| {
        let mut outer = 0.0;
        for (g, group) in groups.iter().enumerate() {
            let inner: f64 = (0..group.len()).map(|s| medians(g, s).ln()).sum();
            outer += inner / group.len() as f64;
        }
        (outer / groups.len() as f64).exp()
    };
    let value = combine(&mut |g, s| fast_median(&mut groups[g][s].values.clone()));
    // One draw per distinct layout of processes and blocks per resample.
    let mut designs: Vec<(&[Origin], Clusters)> = Vec::new();
    let design_of: Vec<Vec<usize>> = groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(
                    |s| match designs.iter().position(|(o, _)| *o == s.origins) {
                        Some(i) => i,
                        None => {
                            designs.push((&s.origins, Clusters::of(&s.origins)));
                            designs.len() - 1
                        }
                    },
                )
                .collect()
        })
        .collect();
    let mut draws: Vec<Vec<usize>> = vec![Vec::new(); designs.len()];
    let mut buffer = Vec::new();
    let (low, high, p_value) = bootstrap_tested(seed, 1.0, |rng| {
        for (d, (_, clusters)) in designs.iter().enumerate() {
            clusters.draw(rng, &mut draws[d]);
        }
        let shifts: Vec<f64> = groups
            .iter()
            .map(|group| {
                let gain =
                    group.iter().map(|s| s.between_run_gain).sum::<f64>() / group.len() as f64;
                run_level_factor(rng, between_run_sd, gain)
            })
            .collect();
        combine(&mut |g, s| {
            median_at(&groups[g][s].values, &draws[design_of[g][s]], &mut buffer) * shifts[g]
        })
    });
    value.is_finite().then_some(Tested {
        estimate: Estimate { value, low, high },
        p_value,
    })
}

/// Benjamini–Hochberg: which of `p_values` are discoveries at false-discovery rate `q`.
pub fn benjamini_hochberg(p_values: &[f64], q: f64) -> Vec<bool> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let cutoff = order
        .iter()
        .enumerate()
        .filter(|(rank, i)| p_values[**i] <= q * (rank + 1) as f64 / m as f64)
        .map(|(rank, _)| rank + 1)
        .max()
        .unwrap_or(0);
    let mut discovered = vec![false; m];
    for &i in &order[..cutoff] {
        discovered[i] = true;
    }
    discovered
}

/// Ratios within this relative margin of 1 are called equivalent (±5%: [1/1.05, 1.05]).
pub const EQUIVALENCE_MARGIN: f64 = 0.05;

/// False-discovery rate at which faster/slower verdicts are called across a run.
pub const FALSE_DISCOVERY_RATE: f64 = 0.05;

/// What a ratio's confidence interval says about `a` compared with `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The whole interval is below 1: `a` takes less time.
    Faster,
    /// The whole interval is above 1: `a` takes more time.
    Slower,
    /// The interval contains 1: the data cannot tell them apart.
    Inconclusive,
    /// The whole interval lies within the equivalence margin around 1 (±5%): the same cost as
    /// far as this run can tell.
    Equivalent,
}

impl Verdict {
    /// The verdict of a ratio tested among many: `equivalent` when its whole interval lies
    /// within [`EQUIVALENCE_MARGIN`] of 1; `faster`/`slower` when its interval excludes 1 and
    /// it is a discovery after the multiplicity correction (`discovery`); else `inconclusive`.
    pub fn judge(ratio: &Estimate, discovery: bool) -> Self {
        let margin = 1.0 + EQUIVALENCE_MARGIN;
        if ratio.low >= 1.0 / margin && ratio.high <= margin {
            Self::Equivalent
        } else if discovery && ratio.high < 1.0 {
            Self::Faster
        } else if discovery && ratio.low > 1.0 {
            Self::Slower
        } else {
            Self::Inconclusive
        }
    }

    /// The verdict of a time ratio `a / b` from its interval alone (no margin, no correction).
    pub fn of_ratio(ratio: &Estimate) -> Self {
        if ratio.high < 1.0 {
            Self::Faster
        } else if ratio.low > 1.0 {
            Self::Slower
        } else {
            Self::Inconclusive
        }
    }
}

/// A seed derived from a cell's identity, so intervals are reproducible run to run.
pub fn seed_for(parts: &[&str]) -> u64 {
    // FNV-1a: stable across platforms and Rust versions, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_the_samples() {
        let samples: Vec<u64> = (1..=1000).collect();
        let s = summarize(&samples).unwrap();
        assert_eq!(s.samples, 1000);
        assert!((s.median_ns - 500.0).abs() <= 1.0, "{}", s.median_ns);
        assert!((s.p90_ns - 900.0).abs() <= 1.0);
        assert!((s.p99_ns - 990.0).abs() <= 1.0);
        assert_eq!((s.min_ns, s.max_ns), (1.0, 1000.0));
        assert!((s.mean_ns - 500.5).abs() < 1.0, "{}", s.mean_ns);
        assert!(s.cv > 0.5 && s.cv < 0.6, "{}", s.cv);
        assert_eq!(s.spectrum.first(), Some(&[0.0, 1.0]));
        assert_eq!(s.spectrum.last(), Some(&[100.0, 1000.0]));
        assert!(s.spectrum.windows(2).all(|w| w[0][1] <= w[1][1]));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn histograms_survive_encoding() {
        let mut hist = new_histogram();
        for v in [10u64, 20, 30, 1_000_000] {
            hist.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&hist)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.max(), hist.max());
        assert!(decode_histogram("not a histogram").is_none());
    }

    #[test]
    fn constant_samples_have_no_spread() {
        let s = summarize(&[250; 100]).unwrap();
        assert_eq!(
            (s.median_ns, s.p999_ns, s.stddev_ns, s.cv),
            (250.0, 250.0, 0.0, 0.0)
        );
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(quantile(&[10.0, 20.0], 0.9), 19.0);
        assert!(median(&[]).is_nan());
        let mut round = vec![5, 1, 4, 2, 3];
        assert_eq!(round_percentiles(&mut round)[0], 3.0);
    }

    /// One synthetic round: the median of `n` draws from a log-normal distribution with median
    /// `true_median` and shape `sigma`, scaled by a per-round drift factor.
    fn synthetic_round(rng: &mut StdRng, true_median: f64, sigma: f64, drift: f64) -> f64 {
        let mut samples: Vec<f64> = (0..201)
            .map(|_| {
                // Box-Muller: one standard normal draw.
                let (u1, u2): (f64, f64) = (rng.random(), rng.random());
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                true_median * (sigma * z).exp()
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[100] * drift
    }

    #[test]
    fn median_interval_covers_the_true_median_in_at_least_90_percent_of_trials() {
        let true_median = 1_000.0;
        let trials = 300;
        let mut covered = 0;
        let mut rng = StdRng::seed_from_u64(7);
        for trial in 0..trials {
            let rounds: Vec<f64> = (0..20)
                .map(|_| synthetic_round(&mut rng, true_median, 0.5, 1.0))
                .collect();
            let estimate = median_of_series(
                &PairedSeries::new(rounds, &[Origin::default(); 20]),
                0.0,
                trial,
                0.0,
            )
            .unwrap()
            .estimate;
            assert!(estimate.low <= estimate.value && estimate.value <= estimate.high);
            if estimate.low <= true_median && true_median <= estimate.high {
                covered += 1;
            }
        }
        let coverage = covered as f64 / trials as f64;
        assert!(coverage >= 0.90, "coverage {coverage}");
        assert!(
            coverage < 1.0,
            "intervals too wide to mean anything: {coverage}"
        );
    }

    #[test]
    fn identical_samplers_are_inconclusive_and_a_2x_difference_is_not() {
        let mut rng = StdRng::seed_from_u64(11);
        let drifts: Vec<f64> = (0..20).map(|_| 1.0 + rng.random::<f64>() * 0.3).collect();
        let a: Vec<f64> = drifts
            .iter()
            .map(|&d| synthetic_round(&mut rng, 500.0, 0.3, d))
            .collect();
        let b: Vec<f64> = drifts
            .iter()
            .map(|&d| synthetic_round(&mut rng, 500.0, 0.3, d))
            .collect();
        let blocks = Origin::of_blocks(&[0u32; 20]);
        let same = median_of_series(&PairedSeries::ratios(&a, &b, &blocks), 1.0, 1, 0.0).unwrap();
        assert_eq!(
            Verdict::of_ratio(&same.estimate),
            Verdict::Inconclusive,
            "{same:?}"
        );
        assert!((same.estimate.value - 1.0).abs() < 0.05, "{same:?}");
        assert!(same.p_value > 0.05, "{same:?}");

        let slower: Vec<f64> = a.iter().map(|x| x * 2.0).collect();
        let twice = median_of_series(&PairedSeries::ratios(&slower, &b, &blocks), 1.0, 1, 0.0)
            .unwrap()
            .estimate;
        assert_eq!(Verdict::of_ratio(&twice), Verdict::Slower, "{twice:?}");
        assert!(twice.low > 1.8 && twice.high < 2.2, "{twice:?}");
        let faster = median_of_series(&PairedSeries::ratios(&b, &slower, &blocks), 1.0, 1, 0.0)
            .unwrap()
            .estimate;
        assert_eq!(Verdict::of_ratio(&faster), Verdict::Faster, "{faster:?}");
    }

    #[test]
    fn paired_ratios_cancel_a_speed_state_that_switches_between_pairs() {
        // The machine switches between two speeds 1.8x apart from pair to pair; each pair
        // shares its state. The median of per-round ratios is exact; the ratio of medians
        // is not.
        let speed: Vec<f64> = (0..60)
            .map(|i| if (i / 7) % 2 == 0 { 1.0 } else { 1.8 })
            .collect();
        let a: Vec<f64> = speed.iter().map(|s| 300.0 * s).collect();
        let b: Vec<f64> = speed.iter().map(|s| 100.0 * s).collect();
        let blocks = Origin::of_blocks(&(0..60).map(|i| i / 15).collect::<Vec<u32>>());
        let t = median_of_series(&PairedSeries::ratios(&a, &b, &blocks), 1.0, 1, 0.0).unwrap();
        assert!((t.estimate.value - 3.0).abs() < 1e-9, "{t:?}");
        assert!(t.estimate.high - t.estimate.low < 1e-9, "{t:?}");
        assert!(t.p_value < 0.01);
        // The same baseline measured at other times (another state pattern): the ratio of
        // medians is far off.
        let unpaired: Vec<f64> = (0..60)
            .map(|i| 100.0 * if (i / 5) % 3 == 0 { 1.0 } else { 1.8 })
            .collect();
        assert!((median(&a) / median(&unpaired) - 3.0).abs() > 0.5);
    }

    #[test]
    fn the_two_level_bootstrap_widens_intervals_when_blocks_differ() {
        let mut rng = StdRng::seed_from_u64(5);
        // Four blocks whose levels differ by a few percent (as processes do), noise inside.
        let level = [1.00, 1.04, 0.97, 1.02];
        let values: Vec<f64> = (0..100)
            .map(|i| level[i / 25] * (1.0 + 0.002 * (rng.random::<f64>() - 0.5)))
            .collect();
        let blocks = Origin::of_blocks(&(0..100).map(|i| (i / 25) as u32).collect::<Vec<u32>>());
        let clustered = median_of_series(&PairedSeries::new(values.clone(), &blocks), 1.0, 3, 0.0)
            .unwrap()
            .estimate;
        let flat = median_of_series(
            &PairedSeries::new(values, &[Origin::default(); 100]),
            1.0,
            3,
            0.0,
        )
        .unwrap()
        .estimate;
        assert!(
            clustered.high - clustered.low > 3.0 * (flat.high - flat.low),
            "{clustered:?} vs {flat:?}"
        );
    }

    #[test]
    fn the_process_level_widens_intervals_when_processes_differ_but_their_blocks_agree() {
        let mut rng = StdRng::seed_from_u64(8);
        // Three processes of ten blocks each. Blocks inside a process agree; processes do not
        // (as native code of one filter ran at 410 ns in every block of one process and at
        // 464 ns in every block of the next). Thirty blocks taken as independent see little
        // spread; three processes are only three draws of what a process does.
        let level = [1.00, 1.06, 0.97];
        let values: Vec<f64> = (0..300)
            .map(|i| level[i / 100] * (1.0 + 0.002 * (rng.random::<f64>() - 0.5)))
            .collect();
        let nested: Vec<Origin> = (0..300)
            .map(|i| Origin::new((i / 100) as u32, (i / 10) as u32))
            .collect();
        let flat: Vec<Origin> = (0..300).map(|i| Origin::new(0, (i / 10) as u32)).collect();
        let interval = |origins: &[Origin]| {
            median_of_series(&PairedSeries::new(values.clone(), origins), 1.0, 4, 0.0)
                .unwrap()
                .estimate
        };
        let (nested, flat) = (interval(&nested), interval(&flat));
        assert!(
            nested.high - nested.low > 1.5 * (flat.high - flat.low),
            "{nested:?} vs {flat:?}"
        );
        // Resampling processes reaches the outer levels.
        assert!(nested.low < 0.985 && nested.high > 1.05, "{nested:?}");
    }

    #[test]
    fn the_run_level_term_widens_ratios_only_and_averages_out_over_filters() {
        let origins = [Origin::default(); 40];
        let ratio = PairedSeries::ratios(&[2.0; 40], &[1.0; 40], &origins);
        let alone = median_of_series(&ratio, 1.0, 3, 0.0).unwrap().estimate;
        assert_eq!((alone.low, alone.high), (2.0, 2.0));
        // 95% of exp(0.01 z) lies within exp(±0.0196).
        let with = median_of_series(&ratio, 1.0, 3, 0.01).unwrap().estimate;
        assert_eq!(with.value, 2.0);
        assert!(((with.high / 2.0).ln() - 0.0196).abs() < 0.002, "{with:?}");
        assert!(((2.0 / with.low).ln() - 0.0196).abs() < 0.002, "{with:?}");
        // Absolute differences carry none.
        let difference = PairedSeries::differences(&[2.0; 40], &[1.0; 40], &origins);
        let difference = median_of_series(&difference, 0.0, 3, 0.01)
            .unwrap()
            .estimate;
        assert_eq!((difference.low, difference.high), (1.0, 1.0));
        // Above a floor of half the baseline, a run-level change of the baseline counts twice.
        let above = PairedSeries::ratios_above(&[3.0; 40], &[2.0; 40], &[1.0; 40], &origins);
        assert_eq!(above.between_run_gain, 2.0);
        let above = median_of_series(&above, 1.0, 3, 0.01).unwrap().estimate;
        assert!(
            ((above.high / 2.0).ln() - 0.0392).abs() < 0.004,
            "{above:?}"
        );
        // Drawn once per filter: the geomean of four filters moves half as much.
        let groups: Vec<Vec<&PairedSeries>> = (0..4).map(|_| vec![&ratio]).collect();
        let four = nested_geomean(&groups, 3, 0.01).unwrap().estimate;
        assert!(((four.high / 2.0).ln() - 0.0098).abs() < 0.0015, "{four:?}");
        let one = nested_geomean(&groups[..1], 3, 0.01).unwrap().estimate;
        assert!(((one.high / 2.0).ln() - 0.0196).abs() < 0.002, "{one:?}");
    }

    #[test]
    fn nested_geomean_weighs_groups_equally() {
        let blocks = [Origin::default(); 5];
        let two = PairedSeries::new([2.0; 5], &blocks);
        let eight = PairedSeries::new([8.0; 5], &blocks);
        let one = PairedSeries::new([1.0; 5], &blocks);
        // Group 1: geomean(2, 8) = 4; group 2: 1 → overall 2.
        let t = nested_geomean(&[vec![&two, &eight], vec![&one]], 9, 0.0).unwrap();
        assert!((t.estimate.value - 2.0).abs() < 1e-9, "{t:?}");
        assert!(nested_geomean(&[], 9, 0.0).is_none());
    }

    #[test]
    fn benjamini_hochberg_controls_discoveries() {
        // Sorted: 0.001 <= 0.01, 0.012 <= 0.02, 0.031 > 0.03: two discoveries.
        let p = [0.001, 0.2, 0.012, 0.031, 0.9];
        assert_eq!(
            benjamini_hochberg(&p, 0.05),
            [true, false, true, false, false]
        );
        assert!(benjamini_hochberg(&[], 0.05).is_empty());
    }

    #[test]
    fn verdicts_use_the_equivalence_margin() {
        let e = |value, low, high| Estimate { value, low, high };
        assert_eq!(
            Verdict::judge(&e(1.01, 0.99, 1.03), false),
            Verdict::Equivalent
        );
        assert_eq!(
            Verdict::judge(&e(1.01, 0.99, 1.03), true),
            Verdict::Equivalent
        );
        assert_eq!(Verdict::judge(&e(1.5, 1.4, 1.6), true), Verdict::Slower);
        assert_eq!(
            Verdict::judge(&e(1.5, 1.4, 1.6), false),
            Verdict::Inconclusive
        );
        assert_eq!(Verdict::judge(&e(0.8, 0.7, 0.9), true), Verdict::Faster);
        assert_eq!(
            Verdict::judge(&e(1.0, 0.9, 1.1), true),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn cv_and_seeds() {
        assert_eq!(coefficient_of_variation(&[5.0, 5.0, 5.0]), 0.0);
        assert!(
            (coefficient_of_variation(&[1.0, 3.0]) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9
        );
        assert_eq!(seed_for(&["a", "b"]), seed_for(&["a", "b"]));
        assert_ne!(seed_for(&["a", "b"]), seed_for(&["ab"]));
    }
}
