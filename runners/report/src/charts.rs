//! The report's charts, each drawn once for SVG (web) and once for PNG (slides) from the same
//! code. Text is laid out with an embedded DejaVu Sans, so PNGs render on machines without
//! desktop fonts; every engine keeps its colour in every chart.

use crate::legend::{self, Keys};
pub(crate) use crate::style::{FONT, err, font};
use crate::view::{self, View};
use filterbench_analysis::format;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::Once;

/// Chart size, pixels.
pub(crate) const SIZE: (u32, u32) = (1100, 620);

/// Registers the embedded font with plotters (once per process).
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is a valid TrueType file; a failure would only lose chart text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// A chart written to the report.
#[derive(Clone, Debug)]
pub struct Chart {
    /// File stem under `charts/` (`.svg` and `.png`).
    pub name: String,
    /// Title shown above it in the report.
    pub title: String,
    /// One sentence on how to read it.
    pub caption: String,
    /// The SVG text (inlined in the HTML report).
    pub svg: String,
}

/// Errors while drawing.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart {chart}: {detail}")]
pub struct ChartError {
    chart: String,
    detail: String,
}

pub(crate) type Draw<'a> = dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String> + 'a;
pub(crate) type DrawPng<'a> =
    dyn Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String> + 'a;

/// A palette of well-separated colours; engines take them in results order.
const PALETTE: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
    RGBColor(173, 73, 74),
    RGBColor(99, 121, 57),
    RGBColor(206, 109, 189),
    RGBColor(0, 0, 0),
    RGBColor(231, 186, 82),
];

/// The colour of an engine, the same in every chart.
pub fn colour(view: &View, engine: &str) -> RGBColor {
    let i = view.engines.iter().position(|e| e == engine).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Draws all charts that have data into `dir` (SVG and PNG) and returns them.
pub fn draw_in_process(view: &View, dir: &Path) -> Result<Vec<Chart>, ChartError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| ChartError {
        chart: dir.display().to_string(),
        detail: e.to_string(),
    })?;
    let mut charts = Vec::new();
    if !view.filter_ratios.is_empty() {
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| slowdown(view, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| slowdown(view, a);
        charts.push(render(
            dir,
            "slowdown",
            "Slowdown against native code, per filter",
            "Lifecycle time over native Rust's: per workload the median of per-round ratios (each round an adjacent pair of slices), geometric mean over the filter's workloads (sweeps excluded); log scale, whiskers are 95% confidence intervals. 1x is native speed; the host floor is included on both sides (the tables also give the ratio above it).",
            &draw_svg,
            &draw_png,
        )?);
    }
    if view.phases.iter().any(|p| p.compile_ns.is_some()) {
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| compile_vs_steady(view, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| compile_vs_steady(view, a);
        charts.push(render(
            dir,
            "compile-vs-steady",
            "Compile time vs steady-state latency",
            "One point per filter and engine: time to compile the module (x) against the median lifecycle on its first workload (y); both log scale. Down and left is better.",
            &draw_svg,
            &draw_png,
        )?);
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| startup(view, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| startup(view, a);
        charts.push(render(
            dir,
            "startup",
            "Start-up: compile or cache load, instantiate, first request",
            "Median over filters. Left bar of each engine: cold start (compile + instantiate + first request); right bar: start from the engine's serialized artifact (cache load + instantiate + first request), where it has one. Log scale, segments stacked in log space are labelled by colour.",
            &draw_svg,
            &draw_png,
        )?);
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| memory(view, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| memory(view, a);
        charts.push(render(
            dir,
            "memory",
            "Memory per instance",
            "Median over filters: growth of the process's resident set per live instance (filled) and the instance's linear memory (outline); native filters have no linear memory.",
            &draw_svg,
            &draw_png,
        )?);
    }
    for spectrum in &view.spectra {
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| percentiles(view, spectrum, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| percentiles(view, spectrum, a);
        charts.push(render(
            dir,
            &format!("spectrum-{}", spectrum.filter),
            &format!(
                "Latency percentiles: {} on {}",
                spectrum.filter, spectrum.workload
            ),
            "Every timed lifecycle pooled (HdrHistogram); the percentile axis is log-scaled towards the tail, latency on a log scale.",
            &draw_svg,
            &draw_png,
        )?);
    }
    for sweep in &view.sweeps {
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| scaling(view, sweep, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| scaling(view, sweep, a);
        charts.push(render(
            dir,
            &format!("scaling-{}-{}", sweep.group, sweep.filter),
            &format!("Cost vs {}: {}", sweep.axis, sweep.filter),
            "Median lifecycle time as the request grows; both axes log scale, whiskers are 95% confidence intervals.",
            &draw_svg,
            &draw_png,
        )?);
    }
    Ok(charts)
}

pub(crate) fn render(
    dir: &Path,
    name: &str,
    title: &str,
    caption: &str,
    draw_svg: &Draw<'_>,
    draw_png: &DrawPng<'_>,
) -> Result<Chart, ChartError> {
    let fail = |detail: String| ChartError {
        chart: name.to_owned(),
        detail,
    };
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(err).map_err(fail)?;
        draw_svg(&area).map_err(fail)?;
        area.present().map_err(err).map_err(fail)?;
    }
    std::fs::write(dir.join(format!("{name}.svg")), &svg).map_err(|e| fail(e.to_string()))?;
    let png = dir.join(format!("{name}.png"));
    {
        let area = BitMapBackend::new(&png, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(err).map_err(fail)?;
        draw_png(&area).map_err(fail)?;
        area.present().map_err(err).map_err(fail)?;
    }
    Ok(Chart {
        name: name.to_owned(),
        title: title.to_owned(),
        caption: caption.to_owned(),
        svg,
    })
}

/// Log-axis range covering `values` with a margin.
pub(crate) fn log_range(values: impl Iterator<Item = f64>, floor: f64) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return floor..floor * 10.0;
    }
    (lo / 1.5).max(floor * 0.01)..(hi * 1.5).max(lo * 2.0)
}

/// A tick value on a log axis with three significant digits at most (`0.6`, not
/// `0.6000000000000001`).
pub(crate) fn tick(v: f64) -> String {
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else if v >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Pixels a category name takes at the axis labels' size, roughly (DejaVu Sans averages about
/// 0.58 em per character; the axis labels are 10.5 px).
fn name_px(name: &str) -> f64 {
    name.chars().count() as f64 * 0.58 * 10.5
}

/// Whether `names`, one per category side by side in `width` pixels, would run into each other.
pub(crate) fn names_turned(names: &[String], width: u32) -> bool {
    let slot = f64::from(width) / names.len().max(1) as f64;
    names.iter().any(|n| name_px(n) + 6.0 > slot)
}

/// Height of the label area under categories named `names`: one line, or the longest name
/// turned a quarter.
pub(crate) fn names_area(names: &[String], turned: bool) -> u32 {
    if turned {
        let longest = names.iter().map(|n| name_px(n)).fold(0.0, f64::max);
        (longest as u32 + 24).max(40)
    } else {
        40
    }
}

/// Draws `names` turned a quarter under the categories 0, 1, … of `chart` (whose lowest value
/// is `bottom`), running down from the axis.
pub(crate) fn draw_turned_names<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    plot: &DrawingArea<DB, Shift>,
    names: &[String],
    bottom: f64,
) -> Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, bottom));
        plot.draw(&Text::new(
            name.clone(),
            (px, py + 8),
            font(13)
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn slowdown<DB: DrawingBackend>(view: &View, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let filters = &view.filters_with_ratios;
    let engines: Vec<&String> = view
        .engines
        .iter()
        .filter(|e| view.filter_ratios.iter().any(|r| &r.engine == *e))
        .collect();
    let y = log_range(
        view.filter_ratios
            .iter()
            .flat_map(|r| [r.ratio.low, r.ratio.high, 1.0]),
        0.5,
    );
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let turned = names_turned(filters, plot.dim_in_pixel().0 - 100);
    let mut chart = ChartBuilder::on(&plot)
        .caption("Slowdown vs native (lower is better)", font(22))
        .margin(12)
        .x_label_area_size(names_area(filters, turned))
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(filters.len() as f64 - 0.5), y.clone().log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(filters.len().max(1))
        .x_label_formatter(&|x| {
            if turned {
                String::new()
            } else {
                category_label(filters, *x)
            }
        })
        .y_desc("time / native time (log scale)")
        .y_label_formatter(&|v| format::ratio(*v))
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    if turned {
        draw_turned_names(&chart, &plot, filters, y.start)?;
    }
    chart
        .draw_series(LineSeries::new(
            [(-0.5, 1.0), (filters.len() as f64 - 0.5, 1.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
    let width = 0.8 / engines.len().max(1) as f64;
    for (j, engine) in engines.iter().enumerate() {
        let c = colour(view, engine);
        let points: Vec<(f64, &filterbench_results::stats::Estimate)> = view
            .filter_ratios
            .iter()
            .filter(|r| &&r.engine == engine)
            .filter_map(|r| {
                let i = filters.iter().position(|f| *f == r.filter)?;
                Some((i as f64 - 0.4 + width * (j as f64 + 0.5), &r.ratio))
            })
            .collect();
        let marks: Vec<Mark> = points
            .iter()
            .map(|(x, e)| ((*x, e.low), (*x, e.high), (*x, e.value)))
            .collect();
        estimates(&mut chart, &marks, c, engine, &mut keys)?;
    }
    keys.draw(&side)
}

/// An estimate on a chart: whisker start, whisker end, point (chart coordinates).
pub(crate) type Mark = ((f64, f64), (f64, f64), (f64, f64));

/// Draws estimates as whiskers with a dot, in `colour`, with a key `label` in `keys`.
pub(crate) fn estimates<'a, DB: DrawingBackend + 'a, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    marks: &[Mark],
    colour: RGBColor,
    label: &str,
    keys: &mut Keys,
) -> Result<(), String> {
    chart
        .draw_series(
            marks
                .iter()
                .map(|(from, to, _)| PathElement::new(vec![*from, *to], colour.stroke_width(2))),
        )
        .map_err(err)?;
    chart
        .draw_series(
            marks
                .iter()
                .map(|(_, _, at)| Circle::new(*at, 4, colour.filled())),
        )
        .map_err(err)?;
    keys.dot(label, colour);
    Ok(())
}

fn compile_vs_steady<DB: DrawingBackend>(
    view: &View,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let points: Vec<(&str, f64, f64)> = view
        .phases
        .iter()
        .filter_map(|p| Some((p.engine.as_str(), p.compile_ns? / 1e6, p.steady_ns? / 1e3)))
        .collect();
    let x = log_range(points.iter().map(|p| p.1), 0.01);
    let y = log_range(points.iter().map(|p| p.2), 0.1);
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption("Compile time vs steady-state latency", font(22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x.log_scale(), y.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("compile time, ms (log scale)")
        .y_desc("median lifecycle, µs (log scale)")
        .y_label_formatter(&|v| tick(*v))
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for engine in &view.engines {
        let c = colour(view, engine);
        let mine: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.0 == engine)
            .map(|p| (p.1, p.2))
            .collect();
        if mine.is_empty() {
            continue;
        }
        chart
            .draw_series(mine.iter().map(|p| Circle::new(*p, 5, c.filled())))
            .map_err(err)?;
        keys.dot(engine, c);
    }
    keys.draw(&side)
}

const PHASE_COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

fn startup<DB: DrawingBackend>(view: &View, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let rows = view::startup_rows(view);
    let totals = rows.iter().flat_map(|r| {
        [
            r.compile_ms + r.instantiate_ms + r.first_request_ms,
            r.cache_load_ms.unwrap_or(0.0) + r.instantiate_ms + r.first_request_ms,
        ]
    });
    let smallest = rows
        .iter()
        .map(|r| r.instantiate_ms.min(r.first_request_ms))
        .fold(f64::INFINITY, f64::min);
    let y = log_range(totals.chain([smallest]), 0.0001);
    let names: Vec<String> = rows.iter().map(|r| r.engine.clone()).collect();
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption("Start-up per engine (median over filters)", font(22))
        .margin(12)
        .x_label_area_size(names_area(&names, true))
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(rows.len() as f64 - 0.5), y.clone().log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len().max(1))
        // The names are drawn below, turned a quarter: 15 of them do not fit side by side.
        .x_label_formatter(&|_| String::new())
        .label_style(font(13))
        .y_desc("ms (log scale)")
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    draw_turned_names(&chart, &plot, &names, y.start)?;
    let base = y.start;
    let labels = ["compile", "cache load", "instantiate", "first request"];
    for (k, label) in labels.iter().enumerate() {
        let c = PHASE_COLOURS[k];
        let mut bars = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let x = i as f64;
            // Cold bar (left): compile, instantiate, first request. Cached bar (right).
            let cold = [r.compile_ms, 0.0, r.instantiate_ms, r.first_request_ms];
            let cached = r
                .cache_load_ms
                .map(|cl| [0.0, cl, r.instantiate_ms, r.first_request_ms]);
            for (offset, stack) in [(-0.2, Some(cold)), (0.2, cached)] {
                let Some(stack) = stack else { continue };
                if stack[k] <= 0.0 {
                    continue;
                }
                let below: f64 = stack[..k].iter().sum();
                let (lo, hi) = (below.max(base), below + stack[k]);
                bars.push(Rectangle::new(
                    [(x + offset - 0.17, lo), (x + offset + 0.17, hi)],
                    c.filled(),
                ));
            }
        }
        chart.draw_series(bars).map_err(err)?;
        keys.bar(label, c);
    }
    keys.draw(&side)
}

fn memory<DB: DrawingBackend>(view: &View, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let rows = view::memory_rows(view);
    let hi = rows
        .iter()
        .flat_map(|r| [r.rss_kib, r.linear_kib.unwrap_or(0.0)])
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption("Memory per live instance (median over filters)", font(22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..hi * 1.15, -0.5f64..(rows.len() as f64 - 0.5))
        .map_err(err)?;
    let names: Vec<String> = rows.iter().map(|r| r.engine.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(names.len().max(1))
        .y_label_formatter(&|y| category_label(&names, *y))
        .x_desc("KiB per instance")
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (i, r) in rows.iter().enumerate() {
        let c = colour(view, &r.engine);
        let y = i as f64;
        chart
            .draw_series([Rectangle::new(
                [(0.0, y - 0.3), (r.rss_kib, y + 0.3)],
                c.filled(),
            )])
            .map_err(err)?;
        if let Some(linear) = r.linear_kib {
            chart
                .draw_series([Rectangle::new(
                    [(0.0, y - 0.38), (linear, y + 0.38)],
                    c.stroke_width(2),
                )])
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The name at integer position `x` of a categorical axis (empty between categories).
pub(crate) fn category_label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 0.01 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// The label of a point on the "nines" axis: 2 → `p99`, 3 → `p99.9`.
pub(crate) fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    format!(
        "p{}",
        format!("{p:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
    )
}

/// Maps a percentile to the "nines" axis: 0 → 0, 90 → 1, 99 → 2, 99.9 → 3.
pub(crate) fn nines(p: f64) -> f64 {
    -(1.0 - (p / 100.0).min(0.99999)).log10()
}

fn percentiles<DB: DrawingBackend>(
    view: &View,
    spectrum: &view::Spectrum,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let y = log_range(
        spectrum
            .lines
            .iter()
            .flat_map(|(_, pts)| pts.iter().map(|p| p[1] / 1e3)),
        0.01,
    );
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!(
                "{} / {}: latency by percentile",
                spectrum.filter, spectrum.workload
            ),
            font(22),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..5.0, y.log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| percentile_label(*x))
        .x_desc("percentile (log scale towards the tail)")
        .y_desc("lifecycle, µs (log scale)")
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (engine, points) in &spectrum.lines {
        let c = colour(view, engine);
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p[0] < 100.0)
            .map(|p| (nines(p[0]), p[1] / 1e3))
            .collect();
        chart
            .draw_series(LineSeries::new(line, c.stroke_width(2)))
            .map_err(err)?;
        keys.line(engine, c);
    }
    keys.draw(&side)
}

fn scaling<DB: DrawingBackend>(
    view: &View,
    sweep: &view::Sweep,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let x = log_range(
        sweep.lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)),
        1.0,
    );
    let y = log_range(
        sweep
            .lines
            .iter()
            .flat_map(|(_, p)| p.iter().flat_map(|p| [p.1.low / 1e3, p.1.high / 1e3])),
        0.01,
    );
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("{}: cost vs {}", sweep.filter, sweep.axis),
            font(22),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x.log_scale(), y.log_scale())
        .map_err(err)?;
    let unit = sweep.unit;
    chart
        .configure_mesh()
        .x_desc(format!("{} (log scale)", sweep.axis))
        .x_label_formatter(&|v| {
            if unit == "bytes" {
                format::bytes(*v)
            } else {
                format!("{v:.0}")
            }
        })
        .y_desc("median lifecycle, µs (log scale)")
        .y_label_formatter(&|v| tick(*v))
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    for (engine, points) in &sweep.lines {
        let c = colour(view, engine);
        chart
            .draw_series(points.iter().map(|(x, e)| {
                PathElement::new(
                    vec![(*x, e.low / 1e3), (*x, e.high / 1e3)],
                    c.stroke_width(1),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(x, e)| (*x, e.value / 1e3)),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        keys.line(engine, c);
    }
    keys.draw(&side)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_have_at_most_three_significant_digits() {
        assert_eq!(tick(0.6000000000000001), "0.6");
        assert_eq!(tick(0.0125), "0.013");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(12.0), "12");
        assert_eq!(tick(1500.0), "1500");
    }

    #[test]
    fn category_names_turn_only_when_they_would_collide() {
        let filters: Vec<String> = ["noop", "headers", "http-callout"]
            .map(str::to_owned)
            .to_vec();
        assert!(!names_turned(&filters, 750));
        let languages: Vec<String> = ["headers@assemblyscript", "headers@c"]
            .map(str::to_owned)
            .to_vec();
        assert!(names_turned(&languages, 200));
        assert!(names_area(&languages, true) > names_area(&languages, false));
    }
}
