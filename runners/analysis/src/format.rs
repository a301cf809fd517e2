//! Human-readable numbers shared by the terminal table and the reports.

use crate::stats::{Estimate, Verdict};

/// Formats nanoseconds with a unit that keeps 3 significant digits.
pub fn ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".to_owned()
    } else if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} s", ns / 1_000_000_000.0)
    }
}

/// A latency estimate with its interval: `1.23 µs ±2.1%`.
pub fn ns_estimate(e: &Estimate) -> String {
    format!("{} ±{:.1}%", ns(e.value), e.relative_half_width() * 100.0)
}

/// A ratio: `1.40x`.
pub fn ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}x")
    } else if r >= 10.0 {
        format!("{r:.1}x")
    } else {
        format!("{r:.2}x")
    }
}

/// A ratio with its interval: `1.40x [1.37–1.43]`.
pub fn ratio_estimate(e: &Estimate) -> String {
    format!("{} [{:.2}–{:.2}]", ratio(e.value), e.low, e.high)
}

/// A verdict as a word.
pub fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Faster => "faster",
        Verdict::Slower => "slower",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Equivalent => "within ±5%",
    }
}

/// Instructions per lifecycle of a cell and its ratio to native: `9,482 (1.25x)`; the error
/// kind when counting failed; `-` when not counted.
pub fn instructions(cell: &crate::results::Cell) -> String {
    match (&cell.instructions, &cell.instructions_error) {
        (Some(count), _) => {
            let n = format!("{:.0}", count.per_lifecycle);
            match count.ratio_to_native {
                Some(r) => format!("{n} ({})", ratio(r)),
                None => n,
            }
        }
        (None, Some(_)) => "not counted (see results)".to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// Bytes with a binary unit: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(b: f64) -> String {
    if b < 1024.0 {
        format!("{b:.0} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    }
}

/// `median [min–max]` of a spread over rounds, scaled by `scale`, with `digits` decimals; just
/// the median for a single round; `-` when absent.
pub fn spread(s: Option<crate::envoy::Spread>, scale: f64, digits: usize) -> String {
    match s {
        None => "-".to_owned(),
        Some(s) if s.n <= 1 => format!("{:.*}", digits, s.median * scale),
        Some(s) => format!(
            "{:.*} [{:.*}–{:.*}]",
            digits,
            s.median * scale,
            digits,
            s.min * scale,
            digits,
            s.max * scale
        ),
    }
}

/// Column names of [`instruction_columns`].
pub const INSTRUCTION_COLUMNS: [&str; 6] = [
    "instructions/request",
    "bursts",
    "spread",
    "over no filter",
    "ratio",
    "in filter code",
];

/// The figures of one Envoy instruction count, in table order: instructions per request,
/// bursts × requests, spread, difference to no filter, ratio to no filter, share in the
/// filter's own code (`-` or empty where there is none).
pub fn instruction_columns(e: &crate::envoy::EnvoyInstructions) -> [String; 6] {
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_owned(), f);
    [
        opt(e.median, &|m| format!("{m:.0}")),
        format!(
            "{} × {}",
            e.per_request.len(),
            e.requests.first().copied().unwrap_or(0)
        ),
        opt(e.spread, &|s| format!("{:.2}%", s * 100.0)),
        opt(e.over_baseline, &|d| format!("{d:+.0}")),
        opt(e.ratio_to_baseline, &|r| format!("{r:.3}x")),
        e.filter_code_share.map_or(String::new(), |s| {
            format!(
                "{:.1}% ({})",
                s * 100.0,
                e.filter_code.as_deref().unwrap_or("")
            )
        }),
    ]
}

/// `value [low, high]` with `digits` decimals, `-` for none.
pub fn estimate(e: Option<crate::stats::Estimate>, digits: usize, suffix: &str) -> String {
    e.map_or("-".to_owned(), |e| {
        format!(
            "{:.*}{suffix} [{:.*}, {:.*}]",
            digits, e.value, digits, e.low, digits, e.high
        )
    })
}

/// Column names of [`cpu_columns`].
pub const CPU_COLUMNS: [&str; 6] = [
    "rate req/s",
    "slices",
    "worker µs/request",
    "over no filter µs",
    "ratio to no filter",
    "note",
];

/// The figures of one variant's paired CPU slices, in table order: rate, slices kept, worker
/// CPU per request, paired difference and ratio to no filter (each with its 95% interval), and
/// what a reader must know.
pub fn cpu_columns(
    cpu: &crate::envoy_cpu::EnvoyCpu,
    cost: &crate::envoy_cpu::CpuCost,
) -> [String; 6] {
    [
        format!("{:.0}", cpu.rate_rps),
        format!("{} × {}", cost.slices, cpu.requests_per_slice),
        estimate(cost.worker_us, 1, ""),
        estimate(cost.over_baseline_us, 1, ""),
        estimate(cost.ratio_to_baseline, 2, "x"),
        crate::envoy_cpu::cost_note(cost),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_three_significant_digits() {
        assert_eq!(ns(512.4), "512 ns");
        assert_eq!(ns(1_234.0), "1.23 µs");
        assert_eq!(ns(2_500_000.0), "2.50 ms");
        assert_eq!(ratio(1.4), "1.40x");
        assert_eq!(ratio(12.34), "12.3x");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        let e = Estimate {
            value: 2.0,
            low: 1.9,
            high: 2.1,
        };
        assert_eq!(ratio_estimate(&e), "2.00x [1.90–2.10]");
        assert_eq!(ns_estimate(&e), "2 ns ±5.0%");
    }
}
