//! The sweeps of an Envoy report (`--concurrency`, `--plugins`): a table of every point and,
//! per sweep and filter, line charts of memory and of instructions per request against N, one
//! line per variant in its usual colour.

use crate::charts::{self, Chart, ChartError, Draw, DrawPng, err, font};
use crate::document::{Section, Table};
use crate::envoy::variant_colour;
use crate::legend::{self, Keys};
use filterbench_results::envoy::{EnvoyResults, SweepPoint, variant_rank};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

const MIB: f64 = 1.0 / 1048576.0;

/// What each sweep varies, for titles and axes.
fn meaning(sweep: &str) -> &'static str {
    match sweep {
        "concurrency" => "Envoy worker threads (--concurrency)",
        "chain" => "copies of the filter in one chain (one VM each)",
        "listeners" => "listeners, each with its own copy of the filter (one VM each)",
        _ => "N",
    }
}

/// (sweep, filter) pairs in the order first seen.
fn groups(points: &[SweepPoint]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in points {
        let key = (p.sweep.clone(), p.filter.clone());
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The table of every point.
pub fn section(envoy: &EnvoyResults) -> Option<Section> {
    if envoy.sweeps.is_empty() {
        return None;
    }
    let header = [
        "sweep",
        "N",
        "filter",
        "variant",
        "RSS ready MiB",
        "RSS after load MiB",
        "RSS peak MiB",
        "V8 VMs",
        "instructions/request",
        "spread",
        "note",
    ];
    let mib = |b: Option<u64>| b.map_or("-".to_owned(), |b| format!("{:.1}", b as f64 * MIB));
    let rows = envoy
        .sweeps
        .iter()
        .map(|p| {
            vec![
                p.sweep.clone(),
                p.n.to_string(),
                p.filter.clone(),
                p.variant.clone(),
                mib(p.rss_idle_bytes),
                mib(p.rss_warm_bytes),
                mib(p.rss_peak_bytes),
                p.wasm_vms.map_or("-".to_owned(), |v| v.to_string()),
                p.instructions_median
                    .map_or("-".to_owned(), |m| format!("{m:.0}")),
                p.instructions_spread
                    .map_or("-".to_owned(), |s| format!("{:.2}%", s * 100.0)),
                p.error
                    .clone()
                    .or_else(|| p.instructions_error.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    Some(Section {
        title: "Envoy: memory and instructions against workers and plugins".to_owned(),
        intro: "Each point is its own Envoy. `concurrency`: N worker threads, one listener (a Wasm VM per worker). `chain`: one worker, the filter N times in one HTTP filter chain, each Wasm copy with its own VM id (so its own VM). `listeners`: one worker, N listeners each with its own copy. Memory is Envoy's resident set once ready, after 1 s of closed-loop load (wrk, 4 connections per worker) on every listener, and its peak (VmHWM). `V8 VMs` is Envoy's own `wasm.envoy.wasm.runtime.v8.active` gauge. Instructions per request (when counted) are callgrind counts over two bursts of 1,000 requests (500 with `--quick`) on one connection to the first listener, idle instructions subtracted, as in the instructions section; `spread` is their (largest − smallest) ÷ median. Memory is one reading per point: a single process's footprint, not a distribution.".to_owned(),
        table: Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            ..Default::default()
        },
    })
}

/// One series per variant of `value` against N for one (sweep, filter).
fn lines(
    points: &[SweepPoint],
    sweep: &str,
    filter: &str,
    value: &dyn Fn(&SweepPoint) -> Option<f64>,
) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut variants: Vec<String> = Vec::new();
    for p in points
        .iter()
        .filter(|p| p.sweep == sweep && p.filter == filter)
    {
        if !variants.contains(&p.variant) {
            variants.push(p.variant.clone());
        }
    }
    variants.sort_by_key(|v| variant_rank(v));
    variants
        .into_iter()
        .map(|variant| {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.sweep == sweep && p.filter == filter && p.variant == variant)
                .filter_map(|p| Some((p.n as f64, value(p)?)))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (variant, pts)
        })
        .filter(|(_, pts)| !pts.is_empty())
        .collect()
}

fn line_chart<DB: DrawingBackend>(
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all.map(|p| p.1).fold(0.0, f64::max);
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, font(22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0.5f64..x_max + 0.5, 0f64..(y_max * 1.3).max(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-9 && *x >= 1.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(TRANSPARENT)
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (variant, points) in series {
        let c = variant_colour(variant);
        chart
            .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
            .map_err(err)?;
        keys.line(variant, c);
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled())))
            .map_err(err)?;
    }
    keys.draw(&side)
}

/// Per (sweep, filter): memory after load against N, and instructions per request against N
/// when counted.
pub fn charts(envoy: &EnvoyResults, dir: &Path) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    for (sweep, filter) in groups(&envoy.sweeps) {
        let x_desc = meaning(&sweep);
        let memory = lines(&envoy.sweeps, &sweep, &filter, &|p| {
            Some(p.rss_warm_bytes? as f64 * MIB)
        });
        if !memory.is_empty() {
            let caption = format!("{filter}: Envoy memory after load");
            let svg: &Draw = &|a| line_chart(&caption, x_desc, "resident set, MiB", &memory, a);
            let png: &DrawPng = &|a| line_chart(&caption, x_desc, "resident set, MiB", &memory, a);
            out.push(charts::render(
                dir,
                &format!("envoy-sweep-{sweep}-{filter}-memory"),
                &format!("Envoy memory against {x_desc}: {filter}"),
                "Envoy's resident set after load on every worker and listener, one Envoy per point, one line per variant.",
                svg,
                png,
            )?);
        }
        let counted = lines(&envoy.sweeps, &sweep, &filter, &|p| p.instructions_median);
        if !counted.is_empty() {
            let caption = format!("{filter}: instructions per request");
            let y = "instructions / request (callgrind)";
            let svg: &Draw = &|a| line_chart(&caption, x_desc, y, &counted, a);
            let png: &DrawPng = &|a| line_chart(&caption, x_desc, y, &counted, a);
            out.push(charts::render(
                dir,
                &format!("envoy-sweep-{sweep}-{filter}-instructions"),
                &format!("Envoy instructions per request against {x_desc}: {filter}"),
                "Instructions Envoy executes per request under callgrind (median of two bursts, idle subtracted), one Envoy per point, one line per variant.",
                svg,
                png,
            )?);
        }
    }
    Ok(out)
}
