//! The whole report put together from its sections: the in-process run's, the languages', and
//! the Envoy runs'. The only module that knows every section; the sections know only the
//! document types, the chart primitives and the view.

use crate::charts::{self, Chart, ChartError};
use crate::document::Content;
use crate::view::View;
use crate::{behaviour, envoy, envoy_cpu, envoy_sweep, host_conformance, languages, price, tables};
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

impl Content {
    /// Builds the text of the report.
    pub fn of(results: &Results, view: &View) -> Self {
        let has_cells = !results.cells.is_empty();
        let mut findings = if has_cells {
            tables::findings(results)
        } else {
            Vec::new()
        };
        let mut before_charts = Vec::new();
        let mut after_charts = Vec::new();
        if has_cells {
            before_charts.push(tables::engines_section(results));
            before_charts.extend(languages::section(view));
            findings.extend(behaviour::findings(results));
            after_charts.push(tables::cells_section(results));
            after_charts.extend(behaviour::section(results));
            after_charts.push(tables::startup_section(results, view));
        }
        findings.extend(price::findings(view));
        before_charts.extend(price::section(view));
        if let Some(runs) = &results.envoy {
            findings.extend(envoy_cpu::findings(runs));
            before_charts.extend(envoy_cpu::section(runs));
            findings.extend(envoy::instruction_findings(runs));
            before_charts.extend(envoy::instructions_section(runs));
            before_charts.extend(envoy_sweep::section(runs));
            if !runs.runs.is_empty() {
                findings.extend(envoy::findings(runs));
                before_charts.push(envoy::section(runs));
            }
        }
        if let Some(matrix) = &results.host_conformance {
            findings.extend(host_conformance::findings(matrix));
            after_charts.push(host_conformance::section(matrix));
        }
        after_charts.push(tables::environment_section(results));
        Self {
            findings,
            before_charts,
            after_charts,
        }
    }
}
