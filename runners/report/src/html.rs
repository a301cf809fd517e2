//! The self-contained HTML report: one file, charts inline as SVG, no external resources. The
//! first screen holds the summary figures and the headline findings; tables put each interval
//! on a small second line, scroll when wide, and are sorted and filtered by a small inline
//! script (without it the page reads the same, unsorted).

use crate::assemble::Figure;
use crate::charts::Chart;
use crate::document::{Content, Finding, Section, Table};
use crate::table_cells::{self, Flag};
use filterbench_results::results::Results;
use std::fmt::Write as _;

/// Escapes text for HTML and shows `backticked` words as code.
fn prose(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    // An odd number of backticks: keep the text as written.
    if escaped.matches('`').count() % 2 == 1 {
        return escaped;
    }
    out
}

/// Escapes text for HTML.
pub(crate) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) const STYLE: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:1.2rem auto;max-width:1440px;padding:0 1rem;color:#222;line-height:1.45}\
h1{margin:0 0 .2rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
nav.toc{font-size:.8rem;margin:.3rem 0 .8rem}nav.toc ol{display:flex;flex-wrap:wrap;gap:.2rem 1rem;list-style:none;padding:0;margin:0}\
nav.toc ol ol{display:none}\
.overview{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}.overview figure{margin:0;max-width:100%}\
.overview figure svg{max-width:100%;height:auto}.overview h3{margin:.2rem 0 .4rem;font-size:1rem}#summary h2{margin-top:.6rem}\
ol.findings li{margin:.35rem 0}ol.findings a.rows{font-size:.8rem;margin-left:.3rem;white-space:nowrap}\
.scroll{overflow-x:auto;max-width:100%;margin:.6rem 0}\
table{border-collapse:collapse;font-size:.82rem}\
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:left;vertical-align:top;white-space:nowrap}\
td.long{white-space:normal;min-width:18rem;max-width:36rem}\
th{background:#f4f4f4;position:sticky;top:0;white-space:normal;min-width:4rem;max-width:11rem}tr:nth-child(even) td{background:#fafafa}\
tr:target td{background:#fff3c4}th.sortable{cursor:pointer}th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\
small.ci{display:block;color:#666;font-size:.72rem}\
.badge{display:inline-block;border-radius:.6rem;padding:0 .4rem;margin-left:.25rem;font-size:.7rem;color:#fff;background:#777}\
.badge.noisy{background:#8c6d1f}.badge.implausible{background:#b2182b}.badge.unreliable{background:#6a3d9a}.badge.mixed{background:#1f78b4}.badge.overloaded{background:#d95f02}\
p.legend{font-size:.78rem;color:#555}\
.controls{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;font-size:.8rem}.controls select{max-width:16rem}.controls .count{color:#666}\
figure{margin:1.5rem 0}figure.chart svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.85rem;color:#555;max-width:60rem}.meta{color:#666;margin:0}\
code{background:#f3f3f3;padding:0 .2rem;font-size:.85em}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem}";

/// Sorting by a column (click its name; numbers by value, units understood), and filtering rows
/// by text and by the value of each column with few distinct values. Runs once, at the end.
const SCRIPT: &str = r#"(function(){
function key(td){var s=td&&td.getAttribute('data-sort');return s===null||s===undefined?null:parseFloat(s);}
function val(td){return td?(td.getAttribute('data-value')||td.textContent.trim()):'';}
var each=function(list,f){Array.prototype.forEach.call(list,f);};
each(document.querySelectorAll('table.data'),function(table){
var body=table.tBodies[0];if(!body||!table.tHead)return;
var rows=Array.prototype.slice.call(body.rows),heads=table.tHead.rows[0].cells;
each(heads,function(th,i){var dir=0;th.classList.add('sortable');th.tabIndex=0;th.title='sort by '+th.textContent;
function sort(){dir=dir===1?-1:1;each(heads,function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',dir===1?'ascending':'descending');
rows.sort(function(a,b){var x=a.cells[i],y=b.cells[i],kx=key(x),ky=key(y);
if(kx!==null&&ky!==null)return(kx-ky)*dir;if(kx!==null)return -1;if(ky!==null)return 1;
return val(x).localeCompare(val(y))*dir;});
rows.forEach(function(r){body.appendChild(r);});}
th.addEventListener('click',sort);th.addEventListener('keydown',function(e){if(e.key==='Enter')sort();});});
if(rows.length<8)return;
var bar=document.createElement('div');bar.className='controls';
var text=document.createElement('input');text.type='search';text.placeholder='filter rows';text.setAttribute('aria-label','filter rows');bar.appendChild(text);
var selects=[];
each(heads,function(th,i){var seen={},n=0,numeric=false;
rows.forEach(function(r){var c=r.cells[i];if(!c)return;if(c.hasAttribute('data-sort'))numeric=true;var v=val(c);if(v&&!seen[v]){seen[v]=1;n++;}});
if(numeric||n<2||n>40)return;
var sel=document.createElement('select');sel.setAttribute('aria-label',th.textContent);
var all=document.createElement('option');all.value='';all.textContent=th.textContent+': all';sel.appendChild(all);
Object.keys(seen).sort().forEach(function(v){var o=document.createElement('option');o.value=v;o.textContent=v.length>48?v.slice(0,47)+'\u2026':v;sel.appendChild(o);});
sel.setAttribute('data-col',i);selects.push(sel);bar.appendChild(sel);});
var count=document.createElement('span');count.className='count';bar.appendChild(count);
function apply(){var q=text.value.toLowerCase().split(/\s+/).filter(Boolean),shown=0;
rows.forEach(function(r){var t=r.textContent.toLowerCase(),ok=q.every(function(w){return t.indexOf(w)>=0;});
selects.forEach(function(s){if(s.value&&val(r.cells[+s.getAttribute('data-col')])!==s.value)ok=false;});
r.hidden=!ok;if(ok)shown++;});
count.textContent=shown+' of '+rows.length+' rows';}
text.addEventListener('input',apply);selects.forEach(function(s){s.addEventListener('change',apply);});
apply();var wrap=table.parentNode;wrap.parentNode.insertBefore(bar,wrap);});
})();"#;

fn cell(out: &mut String, text: &str, flags: bool, seen: &mut Vec<Flag>) {
    if flags {
        let (verdict, list) = table_cells::flags(text);
        let _ = write!(out, "<td data-value=\"{}\">{}", esc(verdict), esc(verdict));
        for flag in list {
            let _ = write!(
                out,
                "<span class=\"badge {}\" title=\"{}\">{}</span>",
                flag.class(),
                esc(&flag.title()),
                esc(flag.label())
            );
            if !seen.iter().any(|f| f.class() == flag.class()) {
                seen.push(flag);
            }
        }
        out.push_str("</td>");
        return;
    }
    let (main, interval) = table_cells::split_interval(text);
    let sort =
        table_cells::sort_value(&main).map_or(String::new(), |v| format!(" data-sort=\"{v}\""));
    let long = if main.chars().count() > 60 {
        " class=\"long\""
    } else {
        ""
    };
    let _ = write!(out, "<td{sort}{long}>{}", esc(&main));
    if let Some(interval) = interval {
        let _ = write!(out, "<small class=\"ci\">{}</small>", esc(&interval));
    }
    out.push_str("</td>");
}

pub(crate) fn table(out: &mut String, table: &Table) {
    if table.rows.is_empty() {
        return;
    }
    out.push_str("<div class=\"scroll\"><table class=\"data\">\n<thead><tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut seen = Vec::new();
    for (i, row) in table.rows.iter().enumerate() {
        match table.ids.get(i).filter(|id| !id.is_empty()) {
            Some(id) => {
                let _ = write!(out, "<tr id=\"{}\">", esc(id));
            }
            None => out.push_str("<tr>"),
        }
        for (j, text) in row.iter().enumerate() {
            cell(out, text, table.flags == Some(j), &mut seen);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if !seen.is_empty() {
        out.push_str("<p class=\"legend\">Flags: ");
        let parts: Vec<String> = seen
            .iter()
            .map(|f| {
                format!(
                    "<span class=\"badge {}\">{}</span> {}",
                    f.class(),
                    esc(f.label()),
                    esc(f.meaning())
                )
            })
            .collect();
        out.push_str(&parts.join("; "));
        out.push_str(".</p>\n");
    }
}

fn section(out: &mut String, s: &Section) {
    let _ = write!(
        out,
        "<section id=\"{}\">\n<h2>{}</h2>\n<p>{}</p>\n",
        esc(&s.id()),
        esc(&s.title),
        prose(&s.intro)
    );
    table(out, &s.table);
    out.push_str("</section>\n");
}

fn findings(out: &mut String, list: &[Finding], class: &str) {
    let _ = writeln!(out, "<ol class=\"{class}\">");
    for f in list {
        let _ = write!(out, "<li>{}", prose(&f.text));
        if let Some(href) = &f.href {
            let _ = write!(
                out,
                "<a class=\"rows\" href=\"{}\">the rows &#8250;</a>",
                esc(href)
            );
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n");
}

fn toc(out: &mut String, content: &Content, charts: &[Chart]) {
    let mut entries: Vec<(String, String)> = vec![("summary".into(), "Summary".into())];
    for s in &content.before_charts {
        entries.push((s.id(), s.title.clone()));
    }
    if !charts.is_empty() {
        entries.push(("charts".into(), "Charts".into()));
    }
    if !content.more_findings.is_empty() {
        entries.push(("more-findings".into(), "More findings".into()));
    }
    for s in &content.after_charts {
        entries.push((s.id(), s.title.clone()));
    }
    if content.method.is_some() {
        entries.push(("method".into(), "Method and reproduction".into()));
    }
    out.push_str("<nav class=\"toc\" aria-label=\"contents\"><ol>");
    for (id, title) in entries {
        let _ = write!(
            out,
            "<li><a href=\"#{}\">{}</a></li>",
            esc(&id),
            esc(&title)
        );
    }
    out.push_str("</ol></nav>\n");
}

/// Renders the HTML report.
pub fn render(
    results: &Results,
    content: &Content,
    figures: &[Figure],
    charts: &[Chart],
) -> String {
    let env = &results.environment;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>filterbench report: {cpu}, {date}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>filterbench report</h1>\n<p class=\"meta\">{cpu}, {cores} logical cores, {os}; {date}; filterbench {version}{commit}</p>\n",
        cpu = esc(&env.cpu_model),
        cores = env.cores,
        os = esc(&env.os),
        date = esc(&env.started_at),
        version = esc(&results.tool.version),
        commit = env.git_commit.as_deref().map_or(String::new(), |c| format!(
            " at {}{}",
            esc(&c[..c.len().min(10)]),
            if env.git_dirty == Some(true) {
                " (with changes)"
            } else {
                ""
            }
        )),
    );
    toc(&mut out, content, charts);
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    if !figures.is_empty() {
        out.push_str("<div class=\"overview\">\n");
        for f in figures {
            let _ = write!(
                out,
                "<figure id=\"{name}\" class=\"summary\" style=\"width:{width}px\">\n<h3>{title}</h3>\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n",
                name = esc(&f.name),
                width = f.width.max(480),
                title = esc(&f.title),
                svg = f.svg,
                caption = esc(&f.caption),
            );
        }
        out.push_str("</div>\n");
    }
    findings(&mut out, &content.findings, "findings");
    out.push_str("</section>\n");
    for s in &content.before_charts {
        section(&mut out, s);
    }
    if !charts.is_empty() {
        out.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
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
        out.push_str("</section>\n");
    }
    if !content.more_findings.is_empty() {
        out.push_str("<section id=\"more-findings\">\n<h2>More findings</h2>\n");
        findings(&mut out, &content.more_findings, "more");
        out.push_str("</section>\n");
    }
    for s in &content.after_charts {
        section(&mut out, s);
    }
    if let Some(method) = &content.method {
        out.push_str("<section id=\"method\">\n<h2>Method and reproduction</h2>\n");
        for p in &method.paragraphs {
            let _ = writeln!(out, "<p>{}</p>", prose(p));
        }
        if !method.reproduce.is_empty() {
            out.push_str("<h3>Reproduce</h3>\n<pre><code>");
            out.push_str(&esc(&method.reproduce.join("\n")));
            out.push_str("</code></pre>\n");
        }
        out.push_str("</section>\n");
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(svg, |i| rest[i + 2..].trim_start()),
        None => svg,
    }
}
