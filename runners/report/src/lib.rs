//! Reports from filterbench results: a folder with `index.html` (one self-contained file, charts
//! inline, opens offline), `README.md` (renders on GitHub, charts as images), `charts/*.svg`
//! and `charts/*.png`, and a copy of the results.

mod anchors;
mod assemble;
pub mod behaviour;
pub mod charts;
pub mod cross_level;
pub mod document;
pub mod envoy;
pub mod envoy_cpu;
pub mod envoy_sweep;
mod grid;
pub mod host_conformance;
mod html;
pub mod languages;
mod legend;
pub mod machines;
mod markdown;
mod method;
mod overview;
pub mod price;
mod style;
pub mod svg_layout;
mod table_cells;
pub mod tables;
pub mod view;

use filterbench_results::results::{self, Results};
use std::path::{Path, PathBuf};

/// What a report run wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The HTML report.
    pub index_html: PathBuf,
    /// The Markdown report.
    pub readme: PathBuf,
    /// Chart file stems under `charts/` (`.svg` and `.png`).
    pub charts: Vec<String>,
    /// The first screen's summary figures, file stems under `charts/` (`.svg` only).
    pub figures: Vec<String>,
}

/// Errors while writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The run without its price-list probes: what every section but the price list reads (the
/// probes are compared with each other, not with native code of a filter).
pub fn without_probes(results: &Results) -> Results {
    let probe = |name: &str| filterbench_catalog::price::is_probe(name);
    let mut main = results.clone();
    main.cells.retain(|c| !probe(&c.filter));
    main.modules.retain(|m| !probe(&m.filter));
    main.phases.retain(|p| !probe(&p.filter));
    main.summary.filters.retain(|f| !probe(&f.filter));
    main
}

/// Writes the report of `results` into `dir` (created if needed).
pub fn write(results: &Results, dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let main = without_probes(results);
    let view = view::View::with_prices(&main, results);
    let charts = assemble::draw_all(&view, &dir.join("charts"))?;
    let content = document::Content::of(&main, &view);
    let figures = assemble::overview(&main);
    for f in &figures {
        let path = dir.join("charts").join(format!("{}.svg", f.name));
        std::fs::write(&path, &f.svg).map_err(io(&path))?;
    }
    let index_html = dir.join("index.html");
    std::fs::write(
        &index_html,
        html::render(&main, &content, &figures, &charts),
    )
    .map_err(io(&index_html))?;
    let readme = dir.join("README.md");
    std::fs::write(
        &readme,
        markdown::render(&main, &content, &figures, &charts),
    )
    .map_err(io(&readme))?;
    let copy = dir.join("results.json");
    results::write_atomic(&copy, results).map_err(io(&copy))?;
    Ok(Written {
        index_html,
        readme,
        charts: charts.into_iter().map(|c| c.name).collect(),
        figures: figures.into_iter().map(|f| f.name).collect(),
    })
}
