//! The whole report put together from its sections: the in-process run's, the languages', and
//! the Envoy runs'. The only module that knows every section; the sections know only the
//! document types, the chart primitives and the view.

use crate::charts::{self, Chart, ChartError};
use crate::document::{Content, Finding};
use crate::view::View;
use crate::{
    behaviour, cross_level, envoy, envoy_cpu, envoy_sweep, host_conformance, languages, method,
    overview, price, tables,
};
use filterbench_results::results::Results;
use std::path::Path;

/// Draws every chart of the report into `dir`, in report order.
pub fn draw_all(view: &View, dir: &Path) -> Result<Vec<Chart>, ChartError> {
    let mut all = charts::draw_in_process(view, dir)?;
    all.extend(languages::draw(view, dir)?);
    all.extend(price::draw(view, dir)?);
    if let Some(results) = &view.envoy {
        all.extend(envoy_cpu::chart(results, dir)?);
        all.extend(envoy_sweep::charts(results, dir)?);
        all.extend(envoy::draw(results, dir)?);
    }
    Ok(all)
}

/// A summary figure of the first screen: our own SVG (a [`crate::grid::Grid`]).
#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem under `charts/`.
    pub name: String,
    /// Title above it.
    pub title: String,
    /// How to read it.
    pub caption: String,
    /// The SVG text.
    pub svg: String,
    /// Its width, pixels.
    pub width: u32,
}

/// The first screen's figures: in-process engines × filters, and Envoy's variants × filters.
pub fn overview(results: &Results) -> Vec<Figure> {
    let mut out = Vec::new();
    if let Some(grid) = overview::in_process_grid(results) {
        out.push(Figure {
            name: "overview-in-process".to_owned(),
            title: "In-process: what each engine costs over native code".to_owned(),
            caption: "Each cell: the filter's time on that engine over native code of the same source, with the host's own per-request work taken out of both sides (large; colour), and in all (small); geometric mean over the filter's workloads. Hover for the 95% interval, click for the rows behind it.".to_owned(),
            svg: grid.svg(),
            width: grid.width(),
        });
    }
    if let Some(envoy) = &results.envoy
        && let Some(grid) = overview::envoy_grid(envoy)
    {
        let caption = if envoy.cpu.is_empty() {
            "Each cell: the instructions Envoy executes per request with the filter (counted under callgrind) over Envoy with no filter. Hover for the counts, click for the rows."
        } else {
            "Each cell: Envoy's worker CPU per request with the filter over Envoy with no filter, paired in rounds (large; colour), and the same for instructions counted under callgrind (small, where counted). Hover for the intervals, click for the rows."
        };
        out.push(Figure {
            name: "overview-envoy".to_owned(),
            title: "In Envoy: what each way of running the filter costs".to_owned(),
            caption: caption.to_owned(),
            svg: grid.svg(),
            width: grid.width(),
        });
    }
    out
}

impl Content {
    /// Builds the text of the report: at most five headline findings (in-process engines,
    /// Envoy CPU and instructions, the two levels side by side, then what else the run found),
    /// the rest below.
    pub fn of(results: &Results, view: &View) -> Self {
        let has_cells = !results.cells.is_empty();
        let mut headline: Vec<Finding> = Vec::new();
        let mut fill: Vec<Finding> = Vec::new();
        let mut more: Vec<Finding> = Vec::new();
        if has_cells {
            headline.extend(tables::engines_finding(results));
        }
        if let Some(runs) = &results.envoy {
            headline.extend(overview::envoy_finding(runs));
            headline.extend(overview::instructions_finding(runs));
        }
        headline.extend(cross_level::finding(results));
        if has_cells {
            fill.extend(behaviour::findings(results).into_iter().map(Finding::from));
            fill.extend(languages::finding(view));
        }
        // One price on the first screen (the crossings); the rest of the list below.
        let mut prices = price::findings(view).into_iter().map(Finding::from);
        fill.extend(prices.next());
        more.extend(prices);
        if has_cells {
            fill.extend(tables::floor_finding(results));
            let (found, notes) = tables::findings(results);
            fill.extend(found.into_iter().map(Finding::from));
            more.extend(notes.into_iter().map(Finding::from));
        }
        if let Some(runs) = &results.envoy {
            more.extend(envoy_cpu::findings(runs).into_iter().map(Finding::from));
            more.extend(
                envoy::instruction_findings(runs)
                    .into_iter()
                    .map(Finding::from),
            );
            if !runs.runs.is_empty() {
                more.extend(envoy::findings(runs).into_iter().map(Finding::from));
            }
        }
        if let Some(matrix) = &results.host_conformance {
            fill.extend(
                host_conformance::findings(matrix)
                    .into_iter()
                    .map(Finding::from),
            );
        }
        for f in fill {
            if headline.len() < 5 {
                headline.push(f);
            } else {
                more.push(f);
            }
        }
        more.splice(0..0, headline.drain(5.min(headline.len())..));
        let mut before_charts = Vec::new();
        let mut after_charts = Vec::new();
        if has_cells {
            before_charts.push(tables::engines_section(results));
            before_charts.extend(languages::section(view));
        }
        before_charts.extend(cross_level::section(results));
        before_charts.extend(price::section(view));
        if let Some(runs) = &results.envoy {
            before_charts.extend(envoy_cpu::section(runs));
            before_charts.extend(envoy::instructions_section(runs));
            before_charts.extend(envoy_sweep::section(runs));
            if !runs.runs.is_empty() {
                before_charts.push(envoy::section(runs));
            }
        }
        if has_cells {
            after_charts.push(tables::cells_section(results));
            after_charts.extend(behaviour::section(results));
            after_charts.push(tables::startup_section(results, view));
        }
        if let Some(matrix) = &results.host_conformance {
            after_charts.push(host_conformance::section(matrix));
        }
        after_charts.push(tables::environment_section(results));
        Self {
            findings: headline,
            more_findings: more,
            before_charts,
            after_charts,
            method: Some(method::of(results)),
        }
    }
}
