//! The Envoy part of a report: charts of throughput, Envoy CPU per request over the baseline,
//! latency under load and memory per variant, and the table behind them. Every variant keeps
//! its colour in every chart (baseline grey, V8 blue, native green, built-in orange, Lua purple).

use crate::charts::{self, Chart, ChartError, Draw, DrawPng, err, font, log_range, nines};
use crate::document::{Section, Table};
use crate::legend::{self, Keys};
use filterbench_analysis::format;
use filterbench_results::envoy::{
    BASELINE, EnvoyInstructions, EnvoyResults, EnvoySummary, Spread, TCP_UNIT,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The colour of a variant.
pub fn variant_colour(variant: &str) -> RGBColor {
    match variant {
        "none" => RGBColor(127, 127, 127),
        "v8" => RGBColor(31, 119, 180),
        "native" => RGBColor(44, 160, 44),
        "builtin" => RGBColor(255, 127, 14),
        "lua" => RGBColor(148, 103, 189),
        _ => RGBColor(140, 86, 75),
    }
}

fn filters(envoy: &EnvoyResults) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &envoy.summary {
        if !out.contains(&s.filter) {
            out.push(s.filter.clone());
        }
    }
    out
}

fn variants(envoy: &EnvoyResults, with_baseline: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &envoy.summary {
        if (with_baseline || s.variant != BASELINE) && !out.contains(&s.variant) {
            out.push(s.variant.clone());
        }
    }
    out.sort_by_key(|v| filterbench_results::envoy::variant_rank(v));
    out
}

/// One grouped bar chart: per filter, one bar per variant (median) with a whisker (min–max, or
/// an interval) where `n > 1`.
pub(crate) struct Bars<'a> {
    pub(crate) caption: String,
    pub(crate) y_desc: &'a str,
    pub(crate) filters: Vec<String>,
    pub(crate) variants: Vec<String>,
    /// (filter, variant, value) of every bar.
    pub(crate) values: Vec<(String, String, Spread)>,
}

/// The bars of `value` (times `scale`) for every summary row that has it.
fn summary_values(
    summary: &[EnvoySummary],
    value: &dyn Fn(&EnvoySummary) -> Option<Spread>,
    scale: f64,
) -> Vec<(String, String, Spread)> {
    summary
        .iter()
        .filter_map(|s| {
            let mut spread = value(s)?;
            spread.median *= scale;
            spread.min *= scale;
            spread.max *= scale;
            Some((s.filter.clone(), s.variant.clone(), spread))
        })
        .collect()
}

fn bars<DB: DrawingBackend>(b: &Bars, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let points: Vec<(usize, usize, Spread)> = b
        .values
        .iter()
        .filter_map(|(filter, variant, spread)| {
            let f = b.filters.iter().position(|x| x == filter)?;
            let v = b.variants.iter().position(|x| x == variant)?;
            Some((f, v, *spread))
        })
        .collect();
    let lo = points.iter().map(|p| p.2.min).fold(0.0, f64::min);
    let hi = points.iter().map(|p| p.2.max).fold(0.0, f64::max);
    // Headroom above the tallest whisker keeps the legend clear of the bars.
    let top = if hi > 0.0 { hi * 1.35 } else { 1.0 };
    let bottom = if lo < 0.0 { lo * 1.15 } else { 0.0 };
    let n = b.filters.len();
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(&b.caption, font(22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), bottom..top)
        .map_err(err)?;
    let names = &b.filters;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1))
        .x_label_formatter(&|x| charts::category_label(names, *x))
        .y_desc(b.y_desc)
        .y_label_formatter(&|v| compact(*v))
        .light_line_style(TRANSPARENT)
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    let width = 0.8 / b.variants.len().max(1) as f64;
    for (j, variant) in b.variants.iter().enumerate() {
        let c = variant_colour(variant);
        let mine: Vec<(f64, Spread)> = points
            .iter()
            .filter(|p| p.1 == j)
            .map(|p| (p.0 as f64 - 0.4 + width * j as f64, p.2))
            .collect();
        chart
            .draw_series(mine.iter().map(|(x, s)| {
                Rectangle::new(
                    [(*x + width * 0.08, 0.0), (*x + width * 0.92, s.median)],
                    c.filled(),
                )
            }))
            .map_err(err)?;
        keys.bar(variant, c);
        chart
            .draw_series(mine.iter().filter(|(_, s)| s.n > 1).map(|(x, s)| {
                let mid = *x + width / 2.0;
                PathElement::new(vec![(mid, s.min), (mid, s.max)], BLACK.stroke_width(1))
            }))
            .map_err(err)?;
    }
    keys.draw(&side)
}

/// `25k` for 25000, `12.5` for 12.5, `0` for 0.
fn compact(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let k = v / 1000.0;
        if (k - k.round()).abs() < 0.05 {
            format!("{k:.0}k")
        } else {
            format!("{k:.1}k")
        }
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn latency<DB: DrawingBackend>(
    envoy: &EnvoyResults,
    filter: &str,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = envoy
        .summary
        .iter()
        .filter(|s| s.filter == filter && !s.latency_ms.is_empty())
        .map(|s| {
            let mut pts: Vec<(f64, f64)> = s
                .latency_ms
                .iter()
                .filter(|(p, _)| *p < 100.0 && *p >= 10.0)
                .map(|(p, spread)| (nines(*p), spread.median))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (s.variant.as_str(), pts)
        })
        .collect();
    let y = log_range(lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)), 0.01);
    let x_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.0))
        .fold(2.0, f64::max);
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!(
                "{filter}: latency under load at {:.0} req/s",
                envoy.settings.rate_rps
            ),
            font(22),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max + 0.1, y.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| charts::percentile_label(*x))
        .x_desc("percentile (log scale towards the tail)")
        .y_desc("latency, ms (log scale)")
        .light_line_style(TRANSPARENT)
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (variant, points) in lines {
        let c = variant_colour(variant);
        chart
            .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
            .map_err(err)?;
        keys.line(variant, c);
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(err)?;
    }
    keys.draw(&side)
}

pub(crate) fn bar_chart(
    dir: &Path,
    name: &str,
    title: &str,
    caption: &str,
    b: &Bars,
) -> Result<Chart, ChartError> {
    let svg: &Draw = &|a| bars(b, a);
    let png: &DrawPng = &|a| bars(b, a);
    charts::render(dir, name, title, caption, svg, png)
}

/// Draws the charts of the Envoy load runs and instruction counts into `dir`.
pub fn draw(envoy: &EnvoyResults, dir: &Path) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    if let Some(chart) = instructions_chart(envoy, dir)? {
        out.push(chart);
    }
    // Runs that were only checked (a root-only plugin: nothing to load) have nothing to draw.
    if envoy
        .summary
        .iter()
        .all(|s| s.rounds == 0 || s.max_rps.is_none())
    {
        return Ok(out);
    }
    let filters = filters(envoy);
    let rate = envoy.settings.rate_rps;
    out.push(bar_chart(
        dir,
        "envoy-throughput",
        "Envoy: maximum throughput per variant",
        "Closed loop (wrk, one connection pool, Envoy on one worker pinned to its own CPU): requests per second, median over rounds, whiskers min–max. Higher is better; `none` is Envoy without the filter.",
        &Bars {
            caption: "Envoy max throughput (higher is better)".to_owned(),
            y_desc: "requests / second",
            filters: filters.clone(),
            variants: variants(envoy, true),
            values: summary_values(&envoy.summary, &|s| s.max_rps, 1.0),
        },
    )?);
    out.push(bar_chart(
        dir,
        "envoy-cpu",
        "Envoy: CPU per request over the baseline",
        "Envoy's CPU time (user + system, from /proc) per completed request at max throughput, minus the same round's no-filter baseline: what the filter costs Envoy. Median over rounds, whiskers min–max. Lower is better.",
        &Bars {
            caption: "Extra Envoy CPU per request (lower is better)".to_owned(),
            y_desc: "µs / request over no filter",
            filters: filters.clone(),
            variants: variants(envoy, false),
            values: summary_values(&envoy.summary, &|s| s.cpu_over_baseline_us, 1.0),
        },
    )?);
    out.push(bar_chart(
        dir,
        "envoy-rss",
        "Envoy: memory per variant",
        "Envoy's peak resident set (VmHWM) over the run, MiB: a V8 VM adds its heap and compiled code per worker. Median over rounds, whiskers min–max.",
        &Bars {
            caption: "Envoy peak RSS".to_owned(),
            y_desc: "MiB",
            filters: filters.clone(),
            variants: variants(envoy, true),
            values: summary_values(&envoy.summary, &|s| s.rss_peak_bytes, 1.0 / 1048576.0),
        },
    )?);
    for filter in &filters {
        let svg: &Draw = &|a| latency(envoy, filter, a);
        let png: &DrawPng = &|a| latency(envoy, filter, a);
        out.push(charts::render(
            dir,
            &format!("envoy-latency-{filter}"),
            &format!("Envoy: {filter} latency under load"),
            &format!(
                "Open loop at {rate:.0} req/s for every variant (oha, latency measured from each request's scheduled send time, so queueing is not hidden): median over rounds of each percentile. Log scales; lower is better."
            ),
            svg,
            png,
        )?);
    }
    Ok(out)
}

/// Instructions per request over no filter, per filter and variant, whiskers from the
/// smallest to the largest burst (against the baseline's median).
fn instructions_chart(envoy: &EnvoyResults, dir: &Path) -> Result<Option<Chart>, ChartError> {
    let base: Vec<(&str, f64)> = envoy
        .instructions
        .iter()
        .filter(|e| e.variant == BASELINE)
        .filter_map(|e| Some((e.filter.as_str(), e.median?)))
        .collect();
    let values: Vec<(String, String, Spread)> = envoy
        .instructions
        .iter()
        .filter(|e| e.variant != BASELINE)
        .filter_map(|e| {
            let b = base.iter().find(|(f, _)| *f == e.filter)?.1;
            let bursts = Spread::of(&e.per_request)?;
            Some((
                e.filter.clone(),
                e.variant.clone(),
                Spread {
                    median: bursts.median - b,
                    min: bursts.min - b,
                    max: bursts.max - b,
                    n: bursts.n,
                },
            ))
        })
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    let mut filters: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    for (f, v, _) in &values {
        if !filters.contains(f) {
            filters.push(f.clone());
        }
        if !variants.contains(v) {
            variants.push(v.clone());
        }
    }
    variants.sort_by_key(|v| filterbench_results::envoy::variant_rank(v));
    bar_chart(
        dir,
        "envoy-instructions",
        "Envoy: instructions per request over no filter",
        "Instructions Envoy executes per request with the filter, minus without it (valgrind's callgrind, one worker, bursts of requests on one keep-alive connection, idle instructions subtracted): median over bursts, whiskers smallest–largest burst. Deterministic: it does not move with the machine's speed. Lower is better.",
        &Bars {
            caption: "Extra instructions per request (lower is better)".to_owned(),
            y_desc: "instructions / request over no filter",
            filters,
            variants,
            values,
        },
    )
    .map(Some)
}

/// One sentence per filter from the load runs: max throughput relative to no filter and —
/// unless the paired CPU slices measured it better — CPU per request at max throughput over no
/// filter, both from per-round pairs with the same round's baseline. A difference is stated
/// only when [min–max] over the rounds excludes "no difference" (whose coverage, 1 − 2 × 0.5ⁿ,
/// the sentence gives); a CPU cost whose whole range is negative is a measurement failure.
pub fn findings(envoy: &EnvoyResults) -> Vec<String> {
    filters(envoy)
        .iter()
        .filter_map(|filter| {
            let of_filter = |s: &&EnvoySummary| &s.filter == filter;
            let base = envoy
                .summary
                .iter()
                .filter(of_filter)
                .find(|s| s.variant == BASELINE)?;
            let others: Vec<&EnvoySummary> = envoy
                .summary
                .iter()
                .filter(of_filter)
                .filter(|s| s.variant != BASELINE)
                .collect();
            let throughput: Vec<String> = others
                .iter()
                .filter_map(|s| {
                    let r = s.max_rps_ratio?;
                    if r.n < 2 {
                        return Some(format!("{} {:.2}x", s.variant, r.median));
                    }
                    let range = format!("{:.2}x [{:.2}–{:.2}]", r.median, r.min, r.max);
                    Some(match r.excludes(1.0) {
                        Some(_) => format!("{} {range}", s.variant),
                        None => format!("{} not told apart ({range})", s.variant),
                    })
                })
                .collect();
            let cpu: Vec<String> = others
                .iter()
                .filter_map(|s| {
                    let o = s.cpu_over_baseline_us?;
                    if o.n < 2 {
                        return Some(format!("{} {:+.1} µs", s.variant, o.median));
                    }
                    let range = format!("{:+.1} µs [{:+.1}, {:+.1}]", o.median, o.min, o.max);
                    Some(match o.excludes(0.0) {
                        Some(true) => format!("{} {range}", s.variant),
                        // A filter cannot cost less than no filter.
                        Some(false) => format!(
                            "{} not measurable (negative {range}: the baseline moved more than the filter costs)",
                            s.variant
                        ),
                        None => format!("{} no cost shown ({range})", s.variant),
                    })
                })
                .collect();
            let rounds = base.max_rps.map_or(0, |m| m.n);
            let coverage = base.max_rps.map_or(0.0, |m| m.coverage());
            let mut parts = Vec::new();
            if let (false, Some(max)) = (throughput.is_empty(), base.max_rps) {
                parts.push(format!(
                    "max throughput relative to no filter ({:.0} req/s): {}",
                    max.median,
                    throughput.join(", ")
                ));
            }
            if let (false, true, Some(c)) = (cpu.is_empty(), envoy.cpu.is_empty(), base.cpu_us_per_request) {
                parts.push(format!(
                    "CPU per request at max throughput over no filter ({:.1} µs): {}",
                    c.median,
                    cpu.join(", ")
                ));
            }
            let method = if rounds < 2 {
                "one round: no interval, so no difference is stated".to_owned()
            } else {
                format!(
                    "{rounds} rounds, paired with no filter round by round; [min–max] of {rounds} rounds is a {:.0}% interval",
                    coverage * 100.0
                )
            };
            (!parts.is_empty())
                .then(|| format!("Envoy, {filter}, load runs ({method}): {}.", parts.join("; ")))
        })
        .collect()
}

/// One sentence per filter counted under callgrind: each variant's instructions per request
/// over no filter. A difference is stated only when it is larger than the spread of the
/// bursts of both sides; otherwise the two are said to be indistinguishable.
pub fn instruction_findings(envoy: &EnvoyResults) -> Vec<String> {
    let mut filters: Vec<&str> = Vec::new();
    for e in &envoy.instructions {
        if !filters.contains(&e.filter.as_str()) {
            filters.push(&e.filter);
        }
    }
    filters
        .into_iter()
        .filter_map(|filter| {
            let of = |e: &&EnvoyInstructions| e.filter == filter && e.error.is_none();
            let base = envoy
                .instructions
                .iter()
                .filter(of)
                .find(|e| e.variant == BASELINE)?;
            let (base_median, base_range) = (base.median?, range(base));
            let parts: Vec<String> = envoy
                .instructions
                .iter()
                .filter(of)
                .filter(|e| e.variant != BASELINE)
                .filter_map(|e| {
                    let over = e.over_baseline?;
                    Some(if over.abs() > range(e) + base_range {
                        format!(
                            "{} {over:+.0} ({:.2}x)",
                            e.variant,
                            e.ratio_to_baseline.unwrap_or(f64::NAN)
                        )
                    } else {
                        format!("{} indistinguishable from no filter", e.variant)
                    })
                })
                .collect();
            (!parts.is_empty()).then(|| {
                format!(
                    "Envoy, {filter}: instructions per request over no filter ({base_median:.0}), counted under callgrind: {}.",
                    parts.join(", ")
                )
            })
        })
        .collect()
}

/// Largest minus smallest burst of an instruction count.
fn range(e: &EnvoyInstructions) -> f64 {
    Spread::of(&e.per_request).map_or(0.0, |s| s.max - s.min)
}

/// The instruction counts: per (filter, variant) the median of its bursts and their spread.
pub fn instructions_section(envoy: &EnvoyResults) -> Option<Section> {
    if envoy.instructions.is_empty() {
        return None;
    }
    let mut header = vec!["filter", "variant", "what runs"];
    header.extend(format::INSTRUCTION_COLUMNS);
    header.push("note");
    let ids = envoy
        .instructions
        .iter()
        .map(|e| crate::anchors::envoy_instructions(&e.filter, &e.variant))
        .collect();
    let rows = envoy
        .instructions
        .iter()
        .map(|e| {
            let mut row = vec![e.filter.clone(), e.variant.clone(), e.description.clone()];
            row.extend(format::instruction_columns(e));
            row.push(e.error.clone().unwrap_or_default());
            row
        })
        .collect();
    Some(Section {
        title: crate::anchors::ENVOY_INSTRUCTIONS_TITLE.to_owned(),
        intro: format!(
            "Envoy {} with one worker under valgrind's callgrind (`--smc-check=all`, so JIT code is counted), one Envoy per variant. Per burst: the counters are zeroed, a fixed number of requests is sent on one keep-alive connection, the counters are dumped; the instructions Envoy executes while idle, counted over an equal interval right after, are subtracted pro rata, and the requests are Envoy's own count. `spread` is (largest − smallest) ÷ median over the bursts: instruction counts do not move with the machine's speed or its neighbours, so this is the measurement's whole uncertainty. `in filter code`: the share of the instructions in the filter's own code where callgrind can tell — for native the module's library; for V8 and Lua the code callgrind cannot tie to a file (JIT code) beyond what no filter has, since this Envoy build shows part of its own code the same way; code compiled into Envoy (built-in filters, V8's runtime and wrappers) is not told apart.",
            envoy.settings.envoy_version
        ) + &tcp_note(envoy.instructions.iter().map(|e| &e.description)),
        table: Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            ids,
            flags: None,
        },
    })
}

/// A sentence for a section whose records include a network filter (`descriptions` end with
/// [`TCP_UNIT`]): what a request is there; empty otherwise.
pub(crate) fn tcp_note<'a>(mut descriptions: impl Iterator<Item = &'a String>) -> String {
    if descriptions.any(|d| d.ends_with(TCP_UNIT)) {
        format!(
            " For a network (TCP) filter (its description says so), {TCP_UNIT}: one new connection per request instead of requests on a kept-alive connection, so Envoy's cost per request includes accepting the connection and opening one upstream."
        )
    } else {
        String::new()
    }
}

/// The Envoy section: every (filter, variant) with its medians and spread.
pub fn section(envoy: &EnvoyResults) -> Section {
    let header = [
        "filter",
        "variant",
        "what runs",
        "max req/s",
        "vs none",
        "Envoy CPU µs/req",
        "over baseline µs",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "achieved req/s",
        "RSS idle / peak MiB",
        "rounds",
        "note",
    ];
    let mib = 1.0 / 1048576.0;
    let rows = envoy
        .summary
        .iter()
        .map(|s| {
            let note = filterbench_results::envoy::summary_note(s);
            vec![
                s.filter.clone(),
                s.variant.clone(),
                s.description.clone(),
                format::spread(s.max_rps, 1.0, 0),
                format::spread(s.max_rps_ratio, 1.0, 2),
                format::spread(s.cpu_us_per_request, 1.0, 1),
                format::spread(s.cpu_over_baseline_us, 1.0, 1),
                format::spread(s.latency(50.0), 1.0, 2),
                format::spread(s.latency(99.0), 1.0, 2),
                format::spread(s.latency(99.9), 1.0, 2),
                format::spread(s.achieved_rps, 1.0, 0),
                format!(
                    "{} / {}",
                    format::spread(s.rss_idle_bytes, mib, 1),
                    format::spread(s.rss_peak_bytes, mib, 1)
                ),
                s.rounds.to_string(),
                note,
            ]
        })
        .collect();
    let st = &envoy.settings;
    let checked_only = st.rate_source == "none";
    Section {
        title: if checked_only {
            "Envoy: checked, not loaded".to_owned()
        } else {
            "Envoy under load".to_owned()
        },
        intro: if checked_only {
            format!(
                "Envoy {} with one worker. Nothing was sent to these variants (a root-only plugin runs as a singleton Wasm service on Envoy's own clock): each was started, its module's expectations checked through Envoy (log lines, metrics) and its idle memory read. No throughput, CPU or latency is measured for them.",
                st.envoy_version
            )
        } else {
            format!(
                "Envoy {} with one worker{}; load from 127.0.0.1{} with {} connections: wrk for {:.0} s closed loop (max throughput), then oha for {:.0} s open loop at {:.0} req/s ({}) with coordinated-omission correction, after {:.0} s of warm-up. Upstream: {}. Each variant is checked through Envoy (headers forwarded, headers returned, local replies) before it is measured. Values are medians over {} interleaved round(s), [min–max] when there are several (a distribution-free interval for the median: 75% for 3 rounds, 94% for 5, 97% for 6); `over baseline` and `vs none` pair each round with the same round's no-filter run; a round whose baseline CPU per request strayed more than 10% from its median is flagged, and an open-loop run that fell more than 2% short of its rate is `overloaded` and left out of the latency.",
                st.envoy_version,
                st.envoy_cpu
                    .map_or(String::new(), |c| format!(" pinned to CPU {c}")),
                st.load_cpu.map_or(String::new(), |c| format!(" (CPU {c})")),
                st.connections,
                st.duration_s,
                st.duration_s,
                st.rate_rps,
                match (st.rate_source.as_str(), st.auto_fraction) {
                    ("auto", Some(f)) if (f - 0.25).abs() < 1e-9 =>
                        "a quarter of the baseline's max throughput".to_owned(),
                    ("auto", Some(f)) => format!("{f} of the baseline's max throughput"),
                    ("auto", None) => "half of the baseline's max throughput".to_owned(),
                    _ => "as given".to_owned(),
                },
                st.warmup_s,
                if st.upstream == "direct" {
                    "Envoy's direct_response (the filter's cost alone)"
                } else {
                    "the project's HTTP server"
                },
                st.rounds,
            )
        },
        table: Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_with_a_network_filter_says_what_a_request_is() {
        let http = "envoy.filters.http.wasm on V8 running noop.wasm".to_owned();
        let tcp = format!("no filter (tcp_proxy only); {TCP_UNIT}");
        assert_eq!(tcp_note([&http].into_iter()), "");
        let note = tcp_note([&http, &tcp].into_iter());
        assert!(note.contains("one new connection per request"), "{note}");
    }
}
