//! The paired CPU part of an Envoy report (`--measure cpu`): a table of every variant's worker
//! CPU per request and its paired cost over no filter with 95% intervals, one finding per
//! filter that states a difference only where its interval excludes 0, and a chart of the
//! costs with their intervals as whiskers.

use crate::charts::{Chart, ChartError};
use crate::document::{Section, Table};
use crate::envoy::{Bars, bar_chart};
use filterbench_analysis::format;
use filterbench_results::envoy::{BASELINE, EnvoyResults, Spread};
use filterbench_results::envoy_cpu::{self, CostFinding, EnvoyCpu};
use filterbench_results::stats::Estimate;
use std::path::Path;

/// The table: per filter and variant, rate, slices, worker CPU per request, and the paired
/// difference and ratio to no filter.
pub fn section(envoy: &EnvoyResults) -> Option<Section> {
    if envoy.cpu.is_empty() {
        return None;
    }
    let mut header = vec!["filter", "variant", "what runs"];
    header.extend(format::CPU_COLUMNS);
    let mut rows = Vec::new();
    let mut ids = Vec::new();
    for cpu in &envoy.cpu {
        if let Some(error) = &cpu.error {
            ids.push(String::new());
            rows.push(vec![
                cpu.filter.clone(),
                "-".to_owned(),
                format!("stopped: {error}"),
            ]);
        }
        for cost in &cpu.costs {
            ids.push(crate::anchors::envoy_cpu(&cpu.filter, &cost.variant));
            let mut row = vec![
                cpu.filter.clone(),
                cost.variant.clone(),
                description(cpu, &cost.variant),
            ];
            row.extend(format::cpu_columns(cpu, cost));
            rows.push(row);
        }
    }
    let rounds = envoy.cpu.iter().map(|c| c.rounds).max().unwrap_or(0);
    Some(Section {
        title: crate::anchors::ENVOY_CPU_TITLE.to_owned(),
        intro: format!(
            "Envoy {} with one worker thread, one Envoy per filter hosting every variant on its own listener (so they share the process, the worker and the machine's state). In each of {rounds} rounds every listener gets one slice — a fixed number of requests on one keep-alive connection, paced at the filter's fixed rate (half of its slowest variant's capacity, measured in the warm-up, at most 10,000 req/s, so no slice queues) — in a fresh random order, and the worker thread's on-CPU time is read from /proc/PID/task/TID/schedstat (nanoseconds) around each slice. A variant's cost is its worker CPU per request minus no filter's in the same round, seconds apart: the machine's speed changes cancel in the difference. Values are medians over rounds with 95% bootstrap intervals (resampling rounds); a slice that fell more than 2% behind its schedule or had a non-2xx answer is left out. Absolute µs move with this machine's speed state; the differences and ratios are the figures to compare. CPU per request also depends on the rate: at a lower rate fewer requests share each wake-up of the worker (and of a filter's callouts), so the same filter costs more per request — compare the variants of one filter, not filters measured at different rates.",
            envoy.settings.envoy_version
        ) + &crate::envoy::tcp_note(
            envoy
                .cpu
                .iter()
                .flat_map(|c| c.descriptions.iter().map(|(_, d)| d)),
        ),
        table: Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            ids,
            flags: None,
        },
    })
}

fn description(cpu: &EnvoyCpu, variant: &str) -> String {
    cpu.descriptions
        .iter()
        .find(|(v, _)| v == variant)
        .map(|(_, d)| d.clone())
        .unwrap_or_default()
}

fn interval(e: &Estimate) -> String {
    format!("[{:.1}, {:.1}]", e.low, e.high)
}

/// One sentence per filter: each variant's paired cost over no filter where its interval lies
/// above 0 (otherwise "no cost shown", or a measurement failure when it lies below 0), then the
/// native − V8 difference where both ran; and a caveat when the filters' rates differ.
pub fn findings(envoy: &EnvoyResults) -> Vec<String> {
    let mut findings = per_filter_findings(envoy);
    findings.extend(rate_caveat(&envoy.cpu));
    findings
}

fn per_filter_findings(envoy: &EnvoyResults) -> Vec<String> {
    envoy
        .cpu
        .iter()
        .filter_map(|cpu| {
            let base = cpu
                .costs
                .iter()
                .find(|c| c.variant == BASELINE)?
                .worker_us?;
            let parts: Vec<String> = cpu
                .costs
                .iter()
                .filter(|c| c.variant != BASELINE)
                .filter_map(|c| {
                    let d = c.over_baseline_us?;
                    Some(match c.finding {
                        CostFinding::Costs => format!(
                            "{} {:+.1} µs {} ({:.2}x)",
                            c.variant,
                            d.value,
                            interval(&d),
                            c.ratio_to_baseline.map_or(f64::NAN, |r| r.value)
                        ),
                        CostFinding::NotShown => format!(
                            "{} no cost shown ({:+.1} µs {})",
                            c.variant,
                            d.value,
                            interval(&d)
                        ),
                        CostFinding::NegativeFailure => format!(
                            "{} not measurable (negative {:+.1} µs {}: a measurement failure)",
                            c.variant,
                            d.value,
                            interval(&d)
                        ),
                        CostFinding::None => return None,
                    })
                })
                .collect();
            if parts.is_empty() {
                return None;
            }
            let versus = envoy_cpu::paired_difference(cpu, "native", "v8")
                .map(|t| {
                    let e = t.estimate;
                    let verdict = if e.high < 0.0 {
                        "native costs less than V8"
                    } else if e.low > 0.0 {
                        "native costs more than V8"
                    } else {
                        "native and V8 not told apart"
                    };
                    format!(
                        " Native − V8: {:+.1} µs {} ({verdict}).",
                        e.value,
                        interval(&e)
                    )
                })
                .unwrap_or_default();
            Some(format!(
                "Envoy, {}: worker CPU per request over no filter ({:.1} µs) at {:.0} req/s, paired over {} rounds: {}.{versus}",
                cpu.filter,
                base.value,
                cpu.rate_rps,
                cpu.costs.iter().map(|c| c.paired_rounds).max().unwrap_or(0),
                parts.join(", ")
            ))
        })
        .collect()
}

/// A caveat when filters were measured at different rates: worker CPU per request depends on
/// the rate, so filters are not comparable with one another, only their variants.
fn rate_caveat(cpus: &[EnvoyCpu]) -> Option<String> {
    let measured: Vec<&EnvoyCpu> = cpus.iter().filter(|c| !c.costs.is_empty()).collect();
    let first = measured.first()?.rate_rps;
    if measured.iter().all(|c| c.rate_rps == first) {
        return None;
    }
    let rates: Vec<String> = measured
        .iter()
        .map(|c| format!("{} at {:.0} req/s", c.filter, c.rate_rps))
        .collect();
    Some(format!(
        "Envoy's filters were measured at different rates ({}): worker CPU per request depends \
         on the rate (fewer requests share each wake-up at a lower rate), so compare the \
         variants of one filter, not the filters with one another.",
        rates.join(", ")
    ))
}

/// Paired cost over no filter per filter and variant, whiskers its 95% interval.
pub fn chart(envoy: &EnvoyResults, dir: &Path) -> Result<Option<Chart>, ChartError> {
    let mut filters: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    let mut values = Vec::new();
    for cpu in &envoy.cpu {
        for c in cpu.costs.iter().filter(|c| c.variant != BASELINE) {
            let Some(d) = c.over_baseline_us else {
                continue;
            };
            if !filters.contains(&cpu.filter) {
                filters.push(cpu.filter.clone());
            }
            if !variants.contains(&c.variant) {
                variants.push(c.variant.clone());
            }
            values.push((
                cpu.filter.clone(),
                c.variant.clone(),
                Spread {
                    median: d.value,
                    min: d.low,
                    max: d.high,
                    n: c.paired_rounds,
                },
            ));
        }
    }
    if values.is_empty() {
        return Ok(None);
    }
    variants.sort_by_key(|v| filterbench_results::envoy::variant_rank(v));
    bar_chart(
        dir,
        "envoy-cpu-paired",
        "Envoy: worker CPU per request over no filter, paired",
        "Envoy's worker-thread CPU time per request with the filter minus without it, in the same round seconds apart (one Envoy per filter, every variant on its own listener, slices at a fixed rate below every variant's capacity): median over rounds, whiskers the 95% bootstrap interval. Lower is better.",
        &Bars {
            caption: "Extra worker CPU per request (lower is better)".to_owned(),
            y_desc: "µs / request over no filter",
            filters,
            variants,
            values,
        },
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::envoy_cpu::CpuCost;

    fn measured(filter: &str, rate_rps: f64) -> EnvoyCpu {
        EnvoyCpu {
            filter: filter.to_owned(),
            rate_rps,
            costs: vec![CpuCost::default()],
            ..EnvoyCpu::default()
        }
    }

    #[test]
    fn filters_measured_at_different_rates_get_a_caveat() {
        assert_eq!(
            rate_caveat(&[measured("a", 6500.0), measured("b", 6500.0)]),
            None
        );
        let unmeasured = EnvoyCpu {
            rate_rps: 500.0,
            ..EnvoyCpu::default()
        };
        assert_eq!(rate_caveat(&[measured("a", 6500.0), unmeasured]), None);
        let caveat = rate_caveat(&[measured("a", 6500.0), measured("b", 1000.0)]).unwrap();
        assert!(
            caveat.contains("a at 6500 req/s, b at 1000 req/s"),
            "{caveat}"
        );
    }
}
