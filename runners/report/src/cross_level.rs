//! The two levels side by side, for each filter measured at both: in-process, native code
//! against the best Wasm engine; in Envoy, the native bridge against V8 — and one sentence on
//! whether they agree in order and in size.

use crate::document::{Finding, Section, Table};
use filterbench_analysis::{analysis, format};
use filterbench_results::envoy::EnvoyResults;
use filterbench_results::envoy_cpu;
use filterbench_results::results::{FilterSummary, Results};

/// The section's title.
pub const TITLE: &str = "In-process and in Envoy, side by side";

/// Two figures of the same size agree "in size" when within this factor of each other.
const SAME_SIZE: f64 = 1.5;

/// One filter at both levels.
struct Row {
    filter: String,
    /// The fastest Wasm engine in-process and its filter summary.
    best: FilterSummary,
    /// V8's cost over no filter ÷ the native bridge's, worker CPU (point value of the medians).
    cpu_ratio: Option<f64>,
    /// V8 − native worker CPU per request, µs, with its paired 95% interval.
    cpu_difference: Option<filterbench_results::stats::Estimate>,
    /// V8's instructions over no filter ÷ the native bridge's.
    instructions_ratio: Option<f64>,
}

impl Row {
    /// Wasm over native in-process: above the host floor where measured, else the total.
    fn in_process(&self) -> &filterbench_results::stats::Estimate {
        self.best
            .ratio_above_floor
            .as_ref()
            .unwrap_or(&self.best.ratio_to_native)
    }

    /// Whether in-process the interval puts Wasm above native (`Some(true)`), below
    /// (`Some(false)`), or does not tell (`None`).
    fn in_process_order(&self) -> Option<bool> {
        let e = self.in_process();
        (e.low > 1.0)
            .then_some(true)
            .or((e.high < 1.0).then_some(false))
    }

    /// The same in Envoy: instructions when counted (deterministic), else the paired CPU
    /// difference's interval.
    fn envoy_order(&self) -> Option<bool> {
        if let Some(r) = self.instructions_ratio {
            return Some(r > 1.0);
        }
        let d = self.cpu_difference?;
        (d.low > 0.0)
            .then_some(true)
            .or((d.high < 0.0).then_some(false))
    }

    /// V8 over native in Envoy: instructions when counted, else CPU.
    fn envoy_size(&self) -> Option<f64> {
        self.instructions_ratio.or(self.cpu_ratio)
    }
}

fn over(envoy: &EnvoyResults, filter: &str, variant: &str) -> Option<f64> {
    envoy
        .instructions
        .iter()
        .find(|i| i.filter == filter && i.variant == variant)
        .and_then(|i| i.over_baseline)
}

fn rows(results: &Results, envoy: &EnvoyResults) -> Vec<Row> {
    let native = results.native_engines();
    let mut filters: Vec<&str> = Vec::new();
    for s in &envoy.summary {
        if !filters.contains(&s.filter.as_str()) {
            filters.push(&s.filter);
        }
    }
    for c in &envoy.cpu {
        if !filters.contains(&c.filter.as_str()) {
            filters.push(&c.filter);
        }
    }
    for i in &envoy.instructions {
        if !filters.contains(&i.filter.as_str()) {
            filters.push(&i.filter);
        }
    }
    filters
        .into_iter()
        .filter_map(|filter| {
            let best = results
                .summary
                .filters
                .iter()
                .filter(|f| f.filter == filter)
                .filter(|f| !analysis::is_calibration(&f.engine))
                .filter(|f| !native.contains(&f.engine.as_str()))
                .min_by(|a, b| {
                    let v = |f: &FilterSummary| {
                        f.ratio_above_floor
                            .as_ref()
                            .unwrap_or(&f.ratio_to_native)
                            .value
                    };
                    v(a).total_cmp(&v(b))
                })?
                .clone();
            let cpu = envoy.cpu.iter().find(|c| c.filter == filter);
            let cost = |variant: &str| {
                cpu?.costs
                    .iter()
                    .find(|c| c.variant == variant)?
                    .over_baseline_us
                    .map(|e| e.value)
            };
            let cpu_ratio = match (cost("v8"), cost("native")) {
                (Some(v8), Some(native)) if native > 0.0 && v8 > 0.0 => Some(v8 / native),
                _ => None,
            };
            let cpu_difference = cpu
                .and_then(|c| envoy_cpu::paired_difference(c, "v8", "native"))
                .map(|t| t.estimate);
            let instructions_ratio =
                match (over(envoy, filter, "v8"), over(envoy, filter, "native")) {
                    (Some(v8), Some(native)) if native > 0.0 && v8 > 0.0 => Some(v8 / native),
                    _ => None,
                };
            (cpu_ratio.is_some() || instructions_ratio.is_some() || cpu_difference.is_some()).then(
                || Row {
                    filter: filter.to_owned(),
                    best,
                    cpu_ratio,
                    cpu_difference,
                    instructions_ratio,
                },
            )
        })
        .collect()
}

fn range(values: &[f64]) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if (hi - lo).abs() < 0.005 {
        format::ratio(lo)
    } else {
        format!("{}–{}", format::ratio(lo), format::ratio(hi))
    }
}

fn sentence(rows: &[Row]) -> String {
    let n = rows.len();
    let agree = rows
        .iter()
        .filter(|r| matches!((r.in_process_order(), r.envoy_order()), (Some(a), Some(b)) if a == b))
        .count();
    let disagree = rows
        .iter()
        .filter(|r| matches!((r.in_process_order(), r.envoy_order()), (Some(a), Some(b)) if a != b))
        .count();
    let untold = n - agree - disagree;
    let inproc: Vec<f64> = rows.iter().map(|r| r.in_process().value).collect();
    let envoy: Vec<f64> = rows.iter().filter_map(Row::envoy_size).collect();
    let sized: Vec<&Row> = rows.iter().filter(|r| r.envoy_size().is_some()).collect();
    let similar = sized
        .iter()
        .filter(|r| {
            let a = r.in_process().value;
            let b = r.envoy_size().unwrap_or(f64::NAN);
            a > 0.0 && b > 0.0 && (a / b).max(b / a) <= SAME_SIZE
        })
        .count();
    let what = if rows.iter().any(|r| r.instructions_ratio.is_some()) {
        "instructions where counted, else worker CPU"
    } else {
        "worker CPU"
    };
    let mut s = format!(
        "The levels agree in order on {agree} of {n} filters (Wasm costs more than native code at both, by the intervals)"
    );
    if disagree > 0 {
        s.push_str(&format!(", disagree on {disagree}"));
    }
    if untold > 0 {
        s.push_str(&format!(
            ", and one level does not tell the two apart on {untold}"
        ));
    }
    s.push_str(&format!(
        ". In size, the Wasm filter's own cost over native code's is {} in-process (fastest engine, above the host floor) and {} in Envoy (V8's cost over no filter ÷ the native bridge's, {what}): within a factor of {SAME_SIZE} of each other on {similar} of {}.",
        range(&inproc),
        if envoy.is_empty() { "not measured".to_owned() } else { range(&envoy) },
        sized.len()
    ));
    s
}

/// The cross-level finding, when a filter was measured at both levels.
pub fn finding(results: &Results) -> Option<Finding> {
    let envoy = results.envoy.as_ref()?;
    let rows = rows(results, envoy);
    (!rows.is_empty()).then(|| Finding::at(sentence(&rows), &crate::anchors::section_href(TITLE)))
}

/// The cross-level table, when a filter was measured at both levels.
pub fn section(results: &Results) -> Option<Section> {
    let envoy = results.envoy.as_ref()?;
    let rows = rows(results, envoy);
    if rows.is_empty() {
        return None;
    }
    let header = [
        "filter",
        "in-process: fastest Wasm engine",
        "its time over native, above the host floor",
        "in all",
        "Envoy: V8 − native, worker CPU per request",
        "Envoy: V8 ÷ native, CPU over no filter",
        "Envoy: V8 ÷ native, instructions over no filter",
    ];
    let table_rows = rows
        .iter()
        .map(|r| {
            vec![
                r.filter.clone(),
                r.best.engine.clone(),
                r.best
                    .ratio_above_floor
                    .as_ref()
                    .map_or("-".to_owned(), format::ratio_estimate),
                format::ratio_estimate(&r.best.ratio_to_native),
                r.cpu_difference.map_or("-".to_owned(), |d| {
                    format!("{:+.1} µs [{:.1}–{:.1}]", d.value, d.low, d.high)
                }),
                r.cpu_ratio.map_or("-".to_owned(), format::ratio),
                r.instructions_ratio.map_or("-".to_owned(), format::ratio),
            ]
        })
        .collect();
    let ids = rows
        .iter()
        .map(|r| crate::document::anchor(&["cross", &r.filter]))
        .collect();
    Some(Section {
        title: TITLE.to_owned(),
        intro: format!(
            "{} Intervals are 95%. In-process, each engine's time is paired with native code of the same source in the same rounds; in Envoy, V8 and the native bridge (the same filter source built as an Envoy dynamic module) are each paired with Envoy without the filter, so their costs over no filter are the filter's own work plus what the way of hosting it costs. The two ratios answer the same question — how much more the filter costs as Wasm than as native code — at two levels; they need not be equal (Envoy's V8 is not an in-process engine here, and Envoy adds its own per-request work around the filter).",
            sentence(&rows)
        ),
        table: Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: table_rows,
            ids,
            flags: None,
        },
    })
}
