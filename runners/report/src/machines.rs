//! The page over several machine types: each machine type's results have a full report of
//! their own in a subfolder; this page puts their headline figures side by side, a column per
//! machine type, without pooling them.

use crate::document::Table;
use crate::{ReportError, html, io, markdown};
use filterbench_analysis::format;
use filterbench_results::results::Results;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One machine type's part of the page.
pub struct MachineReport<'a> {
    /// The machine type (`x86_64 · AMD EPYC 7B13`).
    pub name: &'a str,
    /// Its report's folder, relative to the page.
    pub folder: &'a str,
    /// The results files merged for it.
    pub files: &'a [String],
    /// Its merged results.
    pub results: &'a Results,
}

/// A figure of one machine, or a dash.
fn figure(estimate: Option<&filterbench_results::stats::Estimate>) -> String {
    estimate.map_or("–".to_owned(), format::ratio_estimate)
}

/// The tables of the page: machines, engines over native, filters over native.
fn tables(machines: &[MachineReport<'_>]) -> [(String, String, Table); 3] {
    let about = Table {
        header: [
            "machine type",
            "cores",
            "OS, kernel",
            "commit",
            "shards",
            "files",
            "report",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: machines
            .iter()
            .map(|m| {
                let env = &m.results.environment;
                let shards = m
                    .results
                    .shards
                    .iter()
                    .map(|s| format!("{} {}/{} ({})", s.command, s.index, s.of, s.plan))
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![
                    m.name.to_owned(),
                    env.cores.to_string(),
                    format!("{}, {}", env.os, env.kernel),
                    env.git_commit
                        .as_deref()
                        .map_or("unknown".to_owned(), |c| c[..c.len().min(12)].to_owned()),
                    if shards.is_empty() {
                        "unsharded".to_owned()
                    } else {
                        shards
                    },
                    m.files.join(", "),
                    format!("{}/index.html", m.folder),
                ]
            })
            .collect(),
        ..Default::default()
    };
    let mut engines: Vec<String> = Vec::new();
    let mut filters: Vec<(String, String)> = Vec::new();
    for m in machines {
        for e in m.results.summary.engines_fastest_first() {
            if !engines.contains(&e.engine) {
                engines.push(e.engine);
            }
        }
        for f in &m.results.summary.filters {
            let key = (f.filter.clone(), f.engine.clone());
            if !filters.contains(&key) {
                filters.push(key);
            }
        }
    }
    filters.sort();
    let mut header = vec!["engine".to_owned()];
    header.extend(machines.iter().map(|m| m.name.to_owned()));
    let engine_table = Table {
        header: header.clone(),
        rows: engines
            .iter()
            .map(|engine| {
                let mut row = vec![engine.clone()];
                row.extend(machines.iter().map(|m| {
                    figure(
                        m.results
                            .summary
                            .engines
                            .iter()
                            .find(|e| &e.engine == engine)
                            .map(|e| &e.geomean_ratio_to_native),
                    )
                }));
                row
            })
            .collect(),
        ..Default::default()
    };
    let mut header = vec!["filter".to_owned(), "engine".to_owned()];
    header.extend(machines.iter().map(|m| m.name.to_owned()));
    let filter_table = Table {
        header,
        rows: filters
            .iter()
            .map(|(filter, engine)| {
                let mut row = vec![filter.clone(), engine.clone()];
                row.extend(machines.iter().map(|m| {
                    figure(
                        m.results
                            .summary
                            .filters
                            .iter()
                            .find(|f| &f.filter == filter && &f.engine == engine)
                            .map(|f| &f.ratio_to_native),
                    )
                }));
                row
            })
            .collect(),
        ..Default::default()
    };
    [
        (
            "Machine types".to_owned(),
            "Each machine type's results are merged only with results of the same CPU model and architecture; each has a full report of its own.".to_owned(),
            about,
        ),
        (
            "Engines over native code, per machine type".to_owned(),
            "Geometric mean over filters of the wall-time ratio to native code of the same filter, measured paired on the same machine, with its 95% interval. Compare a column's engines with each other; across columns, compare ratios, not times: each machine's native code is its own baseline.".to_owned(),
            engine_table,
        ),
        (
            "Filters over native code, per machine type".to_owned(),
            "Per filter and engine: geometric mean over the filter's workloads of the ratio to native code, 95% interval.".to_owned(),
            filter_table,
        ),
    ]
}

/// Writes `index.html` and `README.md` for `machines` into `dir` (their reports are in the
/// subfolders the entries name); returns the HTML page.
pub fn write_index(machines: &[MachineReport<'_>], dir: &Path) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let parts = tables(machines);
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>filterbench: {} machine types</title>\n<style>{}</style>\n</head>\n<body>\n<h1>filterbench: {} machine types</h1>\n",
        machines.len(),
        html::STYLE,
        machines.len()
    );
    let mut readme = format!("# filterbench: {} machine types\n\n", machines.len());
    for (title, intro, table) in &parts {
        let _ = write!(
            page,
            "<h2>{}</h2>\n<p>{}</p>\n",
            html::esc(title),
            html::esc(intro)
        );
        html::table(&mut page, table);
        let _ = write!(readme, "## {title}\n\n{intro}\n\n");
        markdown::table(&mut readme, table);
        readme.push('\n');
    }
    page.push_str("<h2>Reports</h2>\n<ul>\n");
    readme.push_str("## Reports\n\n");
    for m in machines {
        let _ = writeln!(
            page,
            "<li><a href=\"{0}/index.html\">{1}</a></li>",
            html::esc(m.folder),
            html::esc(m.name)
        );
        let _ = writeln!(readme, "- [{}]({}/README.md)", m.name, m.folder);
    }
    page.push_str("</ul>\n</body>\n</html>\n");
    let index = dir.join("index.html");
    std::fs::write(&index, page).map_err(io(&index))?;
    let path = dir.join("README.md");
    std::fs::write(&path, readme).map_err(io(&path))?;
    Ok(index)
}
