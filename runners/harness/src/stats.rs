//! Summaries of timing samples: HdrHistogram percentiles plus exact mean and spread.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Summary of a set of per-lifecycle timings, in nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Coefficient of variation (stddev / mean).
    pub cv: f64,
}

/// Highest value the histograms track: 60 s in ns (longer samples are clamped).
const HIGHEST_NS: u64 = 60_000_000_000;

/// Summarizes samples (ns); `None` when there are none.
pub fn summarize(samples: &[u64]) -> Option<SampleSummary> {
    if samples.is_empty() {
        return None;
    }
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, HIGHEST_NS, 3).expect("valid histogram bounds");
    let (mut sum, mut min, mut max) = (0f64, u64::MAX, 0u64);
    for &s in samples {
        hist.saturating_record(s.max(1));
        sum += s as f64;
        min = min.min(s);
        max = max.max(s);
    }
    let n = samples.len() as f64;
    let mean = sum / n;
    let variance = samples
        .iter()
        .map(|&s| (s as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    let stddev = variance.sqrt();
    let q = |quantile: f64| hist.value_at_quantile(quantile) as f64;
    Some(SampleSummary {
        samples: samples.len() as u64,
        median_ns: q(0.5),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        mean_ns: round1(mean),
        min_ns: min as f64,
        max_ns: max as f64,
        stddev_ns: round1(stddev),
        cv: if mean > 0.0 {
            (stddev / mean * 1e4).round() / 1e4
        } else {
            0.0
        },
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
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
        assert!((s.mean_ns - 500.5).abs() < 1e-9);
        assert!(s.cv > 0.5 && s.cv < 0.6, "{}", s.cv);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn constant_samples_have_no_spread() {
        let s = summarize(&[250; 100]).unwrap();
        assert_eq!(
            (s.median_ns, s.p999_ns, s.stddev_ns, s.cv),
            (250.0, 250.0, 0.0, 0.0)
        );
    }
}
