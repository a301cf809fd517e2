//! The report's first screen: the summary figures (engines × filters in-process, variants ×
//! filters in Envoy) and the headline findings, each generated from the data and linked to the
//! table rows behind it.

use crate::anchors;
use crate::document::Finding;
use crate::grid::{Grid, GridCell};
use filterbench_analysis::{analysis, format};
use filterbench_catalog::catalog::{Language, split_language};
use filterbench_results::envoy::{BASELINE, EnvoyInstructions, EnvoyResults};
use filterbench_results::envoy_cpu::{CostFinding, CpuCost, EnvoyCpu};
use filterbench_results::results::Results;
use filterbench_results::stats::Estimate;

/// The largest ratio a scale needs: the next 1-2-5 step above `max`, at least `least`.
fn scale_max(max: f64, least: f64) -> f64 {
    let mut step: f64 = 1.0;
    loop {
        for m in [2.0, 5.0, 10.0] {
            let v = step * m;
            if v >= max.max(least) {
                return v;
            }
        }
        step *= 10.0;
    }
}

fn interval(e: &Estimate) -> String {
    format!("[{:.2}–{:.2}]", e.low, e.high)
}

/// The engines that ran Wasm (not native code, not calibration), fastest first.
fn wasm_engines(results: &Results) -> Vec<String> {
    results
        .summary
        .engines_fastest_first()
        .into_iter()
        .map(|e| e.engine)
        .filter(|e| !analysis::is_calibration(e))
        .filter(|e| {
            !results
                .engines
                .iter()
                .any(|r| &r.name == e && r.family == "native")
        })
        .collect()
}

/// Engines × filters: colour and large figure the cost over native above the host floor, the
/// small one the total; the last column the engine's geometric mean over filters.
pub fn in_process_grid(results: &Results) -> Option<Grid> {
    let engines = wasm_engines(results);
    let mut filters: Vec<String> = Vec::new();
    for f in &results.summary.filters {
        // A filter in another language is compared in the languages section, not here.
        let other_language = split_language(&f.filter).1 != Language::Rust;
        if !analysis::is_calibration(&f.engine) && !other_language && !filters.contains(&f.filter) {
            filters.push(f.filter.clone());
        }
    }
    if engines.is_empty() || filters.is_empty() {
        return None;
    }
    let mut max: f64 = 1.0;
    let mut cell = |above: Option<&Estimate>, total: &Estimate, what: String, href: String| {
        let shown = above.unwrap_or(total);
        max = max.max(shown.value);
        Some(GridCell {
            ratio: shown.value,
            main: format::ratio(shown.value),
            second: above.map(|_| format!("total {}", format::ratio(total.value))),
            title: match above {
                Some(a) => format!(
                    "{what}: {} {} above the host floor, {} {} in all (95% intervals)",
                    format::ratio(a.value),
                    interval(a),
                    format::ratio(total.value),
                    interval(total)
                ),
                None => format!(
                    "{what}: {} {} (95% interval)",
                    format::ratio(total.value),
                    interval(total)
                ),
            },
            href: Some(format!("#{href}")),
        })
    };
    let mut cells = Vec::new();
    for engine in &engines {
        let mut row = Vec::new();
        for filter in &filters {
            let summary = results
                .summary
                .filters
                .iter()
                .find(|f| &f.filter == filter && &f.engine == engine);
            row.push(summary.and_then(|s| {
                cell(
                    s.ratio_above_floor.as_ref(),
                    &s.ratio_to_native,
                    format!(
                        "{engine} on {filter}, geometric mean over {} workload(s)",
                        s.workloads
                    ),
                    anchors::cell(filter, engine),
                )
            }));
        }
        let overall = results.summary.engines.iter().find(|e| &e.engine == engine);
        row.push(overall.and_then(|e| {
            cell(
                e.geomean_ratio_above_floor.as_ref(),
                &e.geomean_ratio_to_native,
                format!("{engine}, geometric mean over {} filters", e.filters),
                anchors::engine(engine),
            )
        }));
        cells.push(row);
    }
    let mut columns = filters;
    columns.push("all filters".to_owned());
    Some(Grid {
        rows: engines,
        columns,
        cells,
        scale_max: scale_max(max, 10.0),
        scale_label: "time over native code, above the host floor".to_owned(),
        last_is_total: true,
    })
}

fn cost<'a>(cpu: &'a EnvoyCpu, variant: &str) -> Option<&'a CpuCost> {
    cpu.costs.iter().find(|c| c.variant == variant)
}

fn instructions<'a>(
    envoy: &'a EnvoyResults,
    filter: &str,
    variant: &str,
) -> Option<&'a EnvoyInstructions> {
    envoy
        .instructions
        .iter()
        .find(|i| i.filter == filter && i.variant == variant && i.median.is_some())
}

/// The Envoy filters and variants (baseline left out) that have paired CPU or instructions.
fn envoy_axes(envoy: &EnvoyResults) -> (Vec<String>, Vec<String>) {
    let mut filters: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    let mut add = |filter: &str, variant: &str| {
        if variant == BASELINE {
            return;
        }
        if !filters.iter().any(|f| f == filter) {
            filters.push(filter.to_owned());
        }
        if !variants.iter().any(|v| v == variant) {
            variants.push(variant.to_owned());
        }
    };
    for cpu in &envoy.cpu {
        for c in &cpu.costs {
            if c.ratio_to_baseline.is_some() {
                add(&cpu.filter, &c.variant);
            }
        }
    }
    for i in &envoy.instructions {
        if i.ratio_to_baseline.is_some() {
            add(&i.filter, &i.variant);
        }
    }
    variants.sort_by_key(|v| filterbench_results::envoy::variant_rank(v));
    (filters, variants)
}

/// Variants × filters in Envoy: colour and large figure the worker CPU per request over no
/// filter (paired), the small one the instructions per request over no filter (callgrind).
pub fn envoy_grid(envoy: &EnvoyResults) -> Option<Grid> {
    let (filters, variants) = envoy_axes(envoy);
    if filters.is_empty() {
        return None;
    }
    let mut max: f64 = 1.0;
    let mut cells = Vec::new();
    for variant in &variants {
        let mut row = Vec::new();
        for filter in &filters {
            let cpu = envoy
                .cpu
                .iter()
                .find(|c| &c.filter == filter)
                .and_then(|c| Some((c, cost(c, variant)?)))
                .filter(|(_, c)| c.ratio_to_baseline.is_some());
            let counted =
                instructions(envoy, filter, variant).filter(|i| i.ratio_to_baseline.is_some());
            let mut parts = Vec::new();
            if let Some((c, k)) = cpu
                && let (Some(r), Some(d)) = (k.ratio_to_baseline, k.over_baseline_us)
            {
                parts.push(format!(
                    "worker CPU per request {:+.1} µs [{:.1}–{:.1}] over no filter, {} {}, paired over {} rounds at {:.0} req/s{}",
                    d.value,
                    d.low,
                    d.high,
                    format::ratio(r.value),
                    interval(&r),
                    k.paired_rounds,
                    c.rate_rps,
                    match k.finding {
                        CostFinding::NotShown => " (no cost shown: the interval contains 0)",
                        CostFinding::NegativeFailure => " (negative: a measurement failure)",
                        _ => "",
                    }
                ));
            }
            if let Some(i) = counted
                && let (Some(m), Some(r)) = (i.median, i.ratio_to_baseline)
            {
                parts.push(format!(
                    "{m:.0} instructions per request under callgrind, {} of no filter (spread {:.2}%)",
                    format::ratio(r),
                    i.spread.unwrap_or(0.0) * 100.0
                ));
            }
            let cpu_ratio = cpu.and_then(|(_, k)| k.ratio_to_baseline).map(|r| r.value);
            let instr_ratio = counted.and_then(|i| i.ratio_to_baseline);
            let Some(shown) = cpu_ratio.or(instr_ratio) else {
                row.push(None);
                continue;
            };
            max = max.max(shown);
            let href = if cpu_ratio.is_some() {
                anchors::envoy_cpu(filter, variant)
            } else {
                anchors::envoy_instructions(filter, variant)
            };
            row.push(Some(GridCell {
                ratio: shown,
                main: if cpu_ratio.is_some() {
                    format::ratio(shown)
                } else {
                    format!("{} instr", format::ratio(shown))
                },
                second: match (cpu_ratio, instr_ratio) {
                    (Some(_), Some(i)) => Some(format!("instr {}", format::ratio(i))),
                    _ => None,
                },
                title: format!("{variant} on {filter} in Envoy: {}", parts.join("; ")),
                href: Some(format!("#{href}")),
            }));
        }
        cells.push(row);
    }
    Some(Grid {
        rows: variants,
        columns: filters,
        cells,
        scale_max: scale_max(max, 2.0),
        scale_label: "Envoy's cost over no filter".to_owned(),
        last_is_total: false,
    })
}

/// The Envoy headline: over the filters, what V8 and the native bridge add to Envoy's worker
/// CPU per request (range of medians), and how often native costs less than V8 by its interval.
pub fn envoy_finding(envoy: &EnvoyResults) -> Option<Finding> {
    let range = |variant: &str| -> Option<(f64, f64, f64, f64, usize)> {
        let mut d = Vec::new();
        let mut r = Vec::new();
        for cpu in &envoy.cpu {
            if let Some(c) = cost(cpu, variant)
                && let (Some(over), Some(ratio)) = (c.over_baseline_us, c.ratio_to_baseline)
            {
                d.push(over.value);
                r.push(ratio.value);
            }
        }
        let lo = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!d.is_empty()).then(|| (lo(&d), hi(&d), lo(&r), hi(&r), d.len()))
    };
    let describe = |name: &str, variant: &str| {
        range(variant).map(|(dl, dh, rl, rh, n)| {
            format!(
                "{name} adds {dl:.1}–{dh:.1} µs ({}–{}) over {n} filter(s)",
                format::ratio(rl),
                format::ratio(rh)
            )
        })
    };
    let parts: Vec<String> = [
        describe("V8", "v8"),
        describe("the native bridge", "native"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        return None;
    }
    let (mut less, mut more, mut apart, mut compared) = (0, 0, 0, 0);
    for cpu in &envoy.cpu {
        if let Some(t) = filterbench_results::envoy_cpu::paired_difference(cpu, "native", "v8") {
            compared += 1;
            match (t.estimate.high < 0.0, t.estimate.low > 0.0) {
                (true, _) => less += 1,
                (_, true) => more += 1,
                _ => apart += 1,
            }
        }
    }
    let order = if compared == 0 {
        String::new()
    } else {
        let mut s = format!(
            "; by the paired difference's 95% interval, native costs less than V8 on {less} of {compared} filters"
        );
        if more > 0 {
            s.push_str(&format!(", more on {more}"));
        }
        if apart > 0 {
            s.push_str(&format!(", and the two are not told apart on {apart}"));
        }
        s
    };
    Some(Finding::at(
        format!(
            "In Envoy {}, over no filter's worker CPU per request at a fixed rate (paired in rounds): {}{order}.",
            envoy.settings.envoy_version,
            parts.join("; ")
        ),
        &anchors::section_href(anchors::ENVOY_CPU_TITLE),
    ))
}

/// The instructions headline: the range of instructions per request over no filter, per variant.
pub fn instructions_finding(envoy: &EnvoyResults) -> Option<Finding> {
    let (_, variants) = envoy_axes(envoy);
    let parts: Vec<String> = variants
        .iter()
        .filter_map(|variant| {
            let ratios: Vec<f64> = envoy
                .instructions
                .iter()
                .filter(|i| &i.variant == variant)
                .filter_map(|i| i.ratio_to_baseline)
                .collect();
            let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (!ratios.is_empty()).then(|| {
                format!(
                    "{variant} {}–{} ({} filter(s))",
                    format::ratio(lo),
                    format::ratio(hi),
                    ratios.len()
                )
            })
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    let spread = envoy
        .instructions
        .iter()
        .filter_map(|i| i.spread)
        .fold(0.0, f64::max);
    Some(Finding::at(
        format!(
            "Counted instructions per request (callgrind, deterministic: bursts repeat within {:.2}%), as a multiple of Envoy with no filter: {}.",
            spread * 100.0,
            parts.join(", ")
        ),
        &anchors::section_href(anchors::ENVOY_INSTRUCTIONS_TITLE),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_a_round_step() {
        assert_eq!(scale_max(1.3, 2.0), 2.0);
        assert_eq!(scale_max(3.0, 2.0), 5.0);
        assert_eq!(scale_max(37.0, 10.0), 50.0);
        assert_eq!(scale_max(120.0, 10.0), 200.0);
    }
}
