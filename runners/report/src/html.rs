//! The self-contained HTML report: one file, charts inline as SVG, no external resources.

use crate::charts::Chart;
use crate::document::{Content, Section, Table};
use filterbench_results::results::Results;
use std::fmt::Write as _;

/// Escapes text for HTML.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) const STYLE: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}\
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
table{border-collapse:collapse;font-size:.85rem;margin:.8rem 0;width:100%}\
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f4f4f4;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}\
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.9rem;color:#555}.meta{color:#666}ul.findings li{margin:.3rem 0}";

pub(crate) fn table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn section(out: &mut String, s: &Section) {
    let _ = write!(
        out,
        "<h2>{}</h2>\n<p>{}</p>\n",
        esc(&s.title),
        esc(&s.intro)
    );
    table(out, &s.table);
}

/// Renders the HTML report.
pub fn render(results: &Results, content: &Content, charts: &[Chart]) -> String {
    let env = &results.environment;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>filterbench report: {cpu}, {date}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>filterbench report</h1>\n<p class=\"meta\">{cpu}, {cores} logical cores, {os}; {date}; filterbench {version}</p>\n<h2>Findings</h2>\n<ul class=\"findings\">\n",
        cpu = esc(&env.cpu_model),
        cores = env.cores,
        os = esc(&env.os),
        date = esc(&env.started_at),
        version = esc(&results.tool.version),
    );
    for f in &content.findings {
        let _ = writeln!(out, "<li>{}</li>", esc(f));
    }
    out.push_str("</ul>\n");
    for s in &content.before_charts {
        section(&mut out, s);
    }
    out.push_str("<h2>Charts</h2>\n");
    for c in charts {
        let _ = write!(
            out,
            "<figure id=\"chart-{name}\" class=\"chart\">\n<h3>{title}</h3>\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n",
            name = esc(&c.name),
            title = esc(&c.title),
            svg = strip_xml_declaration(&c.svg),
            caption = esc(&c.caption),
        );
    }
    for s in &content.after_charts {
        section(&mut out, s);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(svg, |i| rest[i + 2..].trim_start()),
        None => svg,
    }
}
