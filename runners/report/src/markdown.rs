//! The Markdown report (renders on GitHub, charts as SVG images next to it).

use crate::assemble::Figure;
use crate::charts::Chart;
use crate::document::{Content, Finding, Section, Table};
use filterbench_results::results::Results;
use std::fmt::Write as _;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub(crate) fn table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| {} |",
        table
            .header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(table.header.len()));
    for row in &table.rows {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

fn section(out: &mut String, s: &Section) {
    let _ = write!(out, "## {}\n\n{}\n\n", s.title, s.intro);
    table(out, &s.table);
}

fn findings(out: &mut String, list: &[Finding]) {
    for (i, f) in list.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, f.text);
    }
    out.push('\n');
}

/// Renders the Markdown report.
pub fn render(
    results: &Results,
    content: &Content,
    figures: &[Figure],
    charts: &[Chart],
) -> String {
    let env = &results.environment;
    let mut out = format!(
        "# filterbench report\n\n{}, {} logical cores, {}; {}; filterbench {}. \
         Open `index.html` for the self-contained version (sortable tables, intervals on hover).\n\n## Summary\n\n",
        env.cpu_model, env.cores, env.os, env.started_at, results.tool.version
    );
    for f in figures {
        let _ = write!(
            out,
            "**{}**\n\n![{}](charts/{}.svg)\n\n{}\n\n",
            f.title, f.title, f.name, f.caption
        );
    }
    findings(&mut out, &content.findings);
    for s in &content.before_charts {
        section(&mut out, s);
    }
    out.push_str("## Charts\n\n");
    for c in charts {
        let _ = write!(
            out,
            "### {}\n\n![{}](charts/{}.svg)\n\n{} ([PNG](charts/{}.png))\n\n",
            c.title, c.title, c.name, c.caption, c.name
        );
    }
    if !content.more_findings.is_empty() {
        out.push_str("## More findings\n\n");
        findings(&mut out, &content.more_findings);
    }
    for s in &content.after_charts {
        section(&mut out, s);
    }
    if let Some(method) = &content.method {
        out.push_str("## Method and reproduction\n\n");
        for p in &method.paragraphs {
            let _ = write!(out, "{p}\n\n");
        }
        if !method.reproduce.is_empty() {
            let _ = write!(out, "```sh\n{}\n```\n", method.reproduce.join("\n"));
        }
    }
    out
}
