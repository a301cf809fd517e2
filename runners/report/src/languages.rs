//! The language comparison: the same filter written in Rust (proxy-wasm SDK), AssemblyScript
//! (proxy-runtime SDK), C and Go (no SDK), on every engine, against Rust on native code; and the
//! size of each language's artifacts.

use crate::charts::{Mark, category_label, err, estimates, font, log_range, render};
use crate::document::{Section, Table};
use crate::legend::{self, Keys};
use crate::view::{LanguageRatio, View};
use filterbench_analysis::format;
use filterbench_catalog::catalog::Language;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The colour of a language, the same in every chart.
fn colour(language: &str) -> RGBColor {
    match language {
        "rust" => RGBColor(222, 99, 26),
        "assemblyscript" => RGBColor(0, 122, 204),
        "go" => RGBColor(0, 160, 120),
        _ => RGBColor(90, 90, 90),
    }
}

fn label(language: &str) -> &'static str {
    Language::ALL
        .into_iter()
        .find(|l| l.name() == language)
        .map_or("?", Language::label)
}

/// Filters with a language comparison, in report order.
fn filters(view: &View) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &view.languages {
        if !out.contains(&r.filter) {
            out.push(r.filter.clone());
        }
    }
    out
}

/// One chart per filter run in several languages.
pub fn draw(
    view: &View,
    dir: &Path,
) -> Result<Vec<crate::charts::Chart>, crate::charts::ChartError> {
    let mut charts = Vec::new();
    for filter in filters(view) {
        let rows: Vec<&LanguageRatio> = view
            .languages
            .iter()
            .filter(|r| r.filter == filter)
            .collect();
        let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| chart(view, &filter, &rows, a);
        let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| chart(view, &filter, &rows, a);
        charts.push(render(
            dir,
            &format!("language-{filter}"),
            &format!("Language and SDK: {filter}"),
            "The same filter in Rust (proxy-wasm SDK), AssemblyScript (proxy-runtime SDK), C and Go (no SDK), on every engine: per workload the median of per-round ratios to the Rust filter on native code measured in the same rounds (all languages of a filter run together), geometric mean over the workloads; log scale, whiskers 95% intervals. AssemblyScript and Go have no native build.",
            &draw_svg,
            &draw_png,
        )?);
    }
    Ok(charts)
}

fn chart<DB: DrawingBackend>(
    view: &View,
    filter: &str,
    rows: &[&LanguageRatio],
    area: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let engines: Vec<String> = view
        .engines
        .iter()
        .filter(|e| rows.iter().any(|r| &&r.engine == e))
        .cloned()
        .collect();
    let x = log_range(
        rows.iter().flat_map(|r| [r.ratio.low, r.ratio.high, 1.0]),
        0.1,
    );
    // Room on the right for the legend.
    let x = x.start..x.end * 4.0;
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("{filter}: time / Rust on native (lower is better)"),
            font(22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(210)
        .build_cartesian_2d(x.log_scale(), -0.5f64..(engines.len() as f64 - 0.5))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(engines.len().max(1))
        .y_label_formatter(&|y| category_label(&engines, *y))
        .x_desc("time / Rust-native time (log scale)")
        .x_label_formatter(&|v| format::ratio(*v))
        .label_style(font(13))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(1.0, -0.5), (1.0, engines.len() as f64 - 0.5)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
    let languages: Vec<&str> = Language::ALL
        .into_iter()
        .map(Language::name)
        .filter(|l| rows.iter().any(|r| r.language == *l))
        .collect();
    let height = 0.8 / languages.len().max(1) as f64;
    for (j, language) in languages.iter().enumerate() {
        let c = colour(language);
        let points: Vec<(f64, &filterbench_results::stats::Estimate)> = rows
            .iter()
            .filter(|r| r.language == *language)
            .filter_map(|r| {
                let i = engines.iter().position(|e| *e == r.engine)?;
                Some((i as f64 - 0.4 + height * (j as f64 + 0.5), &r.ratio))
            })
            .collect();
        let marks: Vec<Mark> = points
            .iter()
            .map(|(y, e)| ((e.low, *y), (e.high, *y), (e.value, *y)))
            .collect();
        estimates(&mut chart, &marks, c, label(language), &mut keys)?;
    }
    // Lower right: the fast engines sit at the bottom, close to 1x.
    keys.draw(&side)
}

fn kib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".to_owned(),
        |b| format!("{:.1} KiB", b as f64 / 1024.0),
    )
}

/// The languages headline: per filter, each language on its fastest Wasm engine over Rust's
/// native code, lowest first, with intervals.
pub fn finding(view: &View) -> Option<crate::document::Finding> {
    let native = view.engines.last();
    let parts: Vec<String> = filters(view)
        .iter()
        .filter_map(|filter| {
            let mut best: Vec<&LanguageRatio> = Vec::new();
            for r in view
                .languages
                .iter()
                .filter(|r| &r.filter == filter && Some(&r.engine) != native)
            {
                match best.iter_mut().find(|b| b.language == r.language) {
                    Some(b) if r.ratio.value < b.ratio.value => *b = r,
                    Some(_) => {}
                    None => best.push(r),
                }
            }
            best.sort_by(|a, b| a.ratio.value.total_cmp(&b.ratio.value));
            (best.len() > 1).then(|| {
                let each: Vec<String> = best
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {} ({})",
                            label(&r.language),
                            format::ratio_estimate(&r.ratio),
                            r.engine
                        )
                    })
                    .collect();
                format!("{filter}: {}", each.join(", "))
            })
        })
        .collect();
    (!parts.is_empty()).then(|| {
        crate::document::Finding::at(
            format!(
                "By source language, each on its fastest Wasm engine, over the Rust filter's native code (95% CI) — {}.",
                parts.join("; ")
            ),
            &crate::anchors::section_href(TITLE),
        )
    })
}

/// The language section's title.
pub const TITLE: &str = "Languages and SDKs";

/// The language table: artifact sizes and the ratio to Rust-native on the fastest wasm engine
/// and on native code, per filter and language.
pub fn section(view: &View) -> Option<Section> {
    if view.language_sizes.is_empty() {
        return None;
    }
    let native = view.engines.last();
    let mut rows = Vec::new();
    for size in &view.language_sizes {
        let ratios: Vec<&LanguageRatio> = view
            .languages
            .iter()
            .filter(|r| r.filter == size.filter && r.language == size.language)
            .collect();
        let best_wasm = ratios
            .iter()
            .filter(|r| Some(&r.engine) != native)
            .min_by(|a, b| a.ratio.value.total_cmp(&b.ratio.value));
        let on_native = ratios.iter().find(|r| Some(&r.engine) == native);
        rows.push(vec![
            size.filter.clone(),
            label(&size.language).to_owned(),
            kib(size.wasm_bytes),
            kib(size.native_bytes),
            best_wasm.map_or_else(
                || "-".to_owned(),
                |r| format!("{} on {}", format::ratio_estimate(&r.ratio), r.engine),
            ),
            on_native.map_or_else(|| "-".to_owned(), |r| format::ratio_estimate(&r.ratio)),
        ]);
    }
    Some(Section {
        title: TITLE.to_owned(),
        intro: "The same filter written in Rust with the proxy-wasm SDK, in AssemblyScript with the proxy-runtime SDK, and in C and in standard Go against the ABI with no SDK (C: the lower bound of what an SDK costs; Go: what Go's own runtime costs). Ratios are to the Rust filter on native code measured in the same rounds: per workload the median of per-round ratios, geometric mean over workloads, 95% interval; the charts show every engine.".to_owned(),
        table: Table {
            header: [
                "filter",
                "language",
                ".wasm",
                "native .so",
                "fastest wasm engine / Rust-native",
                "native / Rust-native",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            ..Default::default()
        },
    })
}
