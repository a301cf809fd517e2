//! The hostcall price list: what one operation across the Proxy-Wasm ABI costs on each engine
//! and on native code, as a table (ns per operation with 95% intervals, and instructions when
//! counted) and a chart (log scale).

use crate::charts::{Mark, colour, err, estimates, font, log_range, render};
use crate::document::{Section, Table};
use crate::legend::{self, Keys};
use crate::view::View;
use filterbench_analysis::price::CALLBACK;
use filterbench_results::results::Price;
use filterbench_results::stats::Estimate;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// A price as text: `19.4 [18.9–20.0]` ns (µs above 1,000 ns).
fn price(e: &Estimate) -> String {
    let one = |v: f64| {
        if v >= 1_000.0 {
            format!("{:.2}", v / 1_000.0)
        } else if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let unit = if e.value >= 1_000.0 { "µs" } else { "ns" };
    format!(
        "{} {unit} [{}–{}]",
        one(e.value),
        one(e.low.max(0.0)),
        one(e.high)
    )
}

/// The rows of the list, in list order: (operation, workload).
pub fn rows(prices: &[Price]) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for p in prices {
        let key = (p.operation.as_str(), p.workload.as_str());
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// The engines of the list, in the view's order (native last).
fn engines<'a>(view: &'a View, prices: &[Price]) -> Vec<&'a str> {
    view.engines
        .iter()
        .map(String::as_str)
        .filter(|e| prices.iter().any(|p| p.engine == *e))
        .collect()
}

fn row_label(operation: &str, workload: &str, prices: &[Price]) -> String {
    let sized = prices
        .iter()
        .filter(|p| p.operation == operation)
        .map(|p| &p.workload)
        .any(|w| w != workload);
    if sized {
        format!("{operation} ({workload})")
    } else {
        operation.to_owned()
    }
}

/// The price-list table, when the run has one.
pub fn section(view: &View) -> Option<Section> {
    let prices = &view.prices;
    if prices.is_empty() {
        return None;
    }
    let engines = engines(view, prices);
    let counted = prices.iter().any(|p| p.instructions.is_some());
    let mut header = vec!["operation".to_owned(), "what one operation is".to_owned()];
    header.push("repeats".to_owned());
    header.extend(engines.iter().map(|e| (*e).to_owned()));
    let mut table_rows = Vec::new();
    for (operation, workload) in rows(prices) {
        let of = |engine: &str| {
            prices
                .iter()
                .find(|p| p.operation == operation && p.workload == workload && p.engine == engine)
        };
        let Some(first) = prices
            .iter()
            .find(|p| p.operation == operation && p.workload == workload)
        else {
            continue;
        };
        let mut row = vec![
            row_label(operation, workload, prices),
            first.description.clone(),
            first.repeat.to_string(),
        ];
        for engine in &engines {
            row.push(of(engine).map_or_else(String::new, |p| {
                let time = p.ns.as_ref().map_or_else(|| "-".to_owned(), price);
                match (p.instructions, &p.missing) {
                    (_, Some(why)) if p.ns.is_none() => format!("- ({why})"),
                    (Some(i), _) if counted => format!("{time}; {i:.0} instr."),
                    _ => time,
                }
            }));
        }
        table_rows.push(row);
    }
    let rounds = prices.iter().map(|p| p.rounds).max().unwrap_or(0);
    Some(Section {
        title: "Hostcall price list".to_owned(),
        intro: format!(
            "What one operation across the Proxy-Wasm ABI costs, per engine, in ns (95% interval{}). A probe filter (C, no SDK: bench-filters/c/price.c) repeats one operation K times (the repeats column) per request; it runs next to the same probe doing nothing, in adjacent slices on the same engine, and the price is the median over {rounds} rounds of their difference divided by K, so the callback's fixed cost drops out. The native column is the host's own work for the operation (the same hostcall implementation, called from native code); an engine's excess over it is its crossing. `callback` is an empty callback: the do-nothing probe's time above the host floor (the host's lifecycle with no module) divided by the callbacks of one lifecycle (the repeats column). Sizes in brackets: the body (1 KiB / 64 KiB) or the header count (get-small: 8, get-large-headers: 64); `per KiB` and `per header`: the difference of the two sizes' prices over their difference in KiB or headers, round by round. Engine variants (+fuel, +epoch, …) and wasmi-lazy share their plain configuration's hostcall path and are left out.",
            if counted {
                "; instructions per operation counted under callgrind"
            } else {
                ""
            }
        ),
        table: Table {
            header,
            rows: table_rows,
            ..Default::default()
        },
    })
}

/// One finding: the empty callback and the empty hostcall on the fastest and slowest engines.
pub fn findings(view: &View) -> Vec<String> {
    let prices = &view.prices;
    let wasm = |op: &str| -> Vec<&Price> {
        prices
            .iter()
            .filter(|p| p.operation == op && p.ns.is_some() && p.engine != "native")
            .collect()
    };
    let describe = |op: &str, what: &str| -> Option<String> {
        let list = wasm(op);
        let by = |p: &&Price| p.ns.map_or(f64::NAN, |e| e.value);
        let low = list.iter().min_by(|a, b| by(a).total_cmp(&by(b)))?;
        let high = list.iter().max_by(|a, b| by(a).total_cmp(&by(b)))?;
        let native = prices
            .iter()
            .find(|p| p.operation == op && p.engine == "native")
            .and_then(|p| p.ns);
        Some(format!(
            "{what} costs {} on {} up to {} on {}{}.",
            price(&low.ns?),
            low.engine,
            price(&high.ns?),
            high.engine,
            native.map_or_else(String::new, |n| format!(" (native code: {})", price(&n)))
        ))
    };
    let mut out = Vec::new();
    if let Some(callback) = describe(CALLBACK, "An empty callback (host into module)") {
        out.push(callback);
    }
    if let Some(hostcall) = describe(
        "log-disabled",
        "An empty hostcall (module into host: a log below the level)",
    ) {
        out.push(hostcall);
    }
    let mut per_unit: Vec<String> = Vec::new();
    for p in prices.iter().filter(|p| p.operation.contains(" per ")) {
        let Some((operation, unit)) = p.operation.split_once(" per ") else {
            continue;
        };
        if per_unit
            .iter()
            .any(|o| o.starts_with(&format!("{operation} ")))
        {
            continue;
        }
        let of = |native: bool| -> Vec<f64> {
            prices
                .iter()
                .filter(|q| q.operation == p.operation && (q.engine == "native") == native)
                .filter_map(|q| q.ns.map(|e| e.value))
                .collect()
        };
        let wasm = of(false);
        let (Some(low), Some(high)) = (
            wasm.iter().copied().reduce(f64::min),
            wasm.iter().copied().reduce(f64::max),
        ) else {
            continue;
        };
        let native = of(true)
            .first()
            .map_or_else(String::new, |n| format!(" (native {n:.1})"));
        per_unit.push(format!(
            "{operation} {low:.1}–{high:.1} ns per {unit}{native}"
        ));
    }
    if !per_unit.is_empty() {
        out.push(format!(
            "What grows with size, per unit (medians over the engines; intervals in the price list): {}.",
            per_unit.join(", ")
        ));
    }
    let missing = prices
        .iter()
        .filter(|p| p.ns.is_none() && p.missing.is_some())
        .count();
    if missing > 0 {
        out.push(format!(
            "{missing} price(s) of the price list are missing: see the table for why."
        ));
    }
    out
}

/// The price-list chart: operations down, ns per operation across (log scale), one mark per
/// engine.
pub fn draw(
    view: &View,
    dir: &Path,
) -> Result<Vec<crate::charts::Chart>, crate::charts::ChartError> {
    if view.prices.iter().all(|p| p.ns.is_none()) {
        return Ok(Vec::new());
    }
    let draw_svg = |a: &DrawingArea<SVGBackend<'_>, Shift>| chart(view, a);
    let draw_png = |a: &DrawingArea<BitMapBackend<'_>, Shift>| chart(view, a);
    Ok(vec![render(
        dir,
        "price-list",
        "Hostcall price list",
        "ns per operation on each engine (log scale): the slope over K repeats of the operation, measured next to the do-nothing probe; whiskers 95% intervals. The native marks are the host's own work.",
        &draw_svg,
        &draw_png,
    )?])
}

fn chart<DB: DrawingBackend>(view: &View, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let prices = &view.prices;
    let rows = rows(prices);
    let labels: Vec<String> = rows.iter().map(|(o, w)| row_label(o, w, prices)).collect();
    let engines = engines(view, prices);
    let x = log_range(
        prices
            .iter()
            .filter_map(|p| p.ns)
            .flat_map(|e| [e.low.max(0.1), e.high]),
        0.1,
    );
    // Room on the right for the legend, clear of the marks.
    let x = x.start..x.end * 30.0;
    let n = rows.len();
    let (plot, side) = legend::split(area);
    let mut keys = Keys::default();
    let mut chart = ChartBuilder::on(&plot)
        .caption("Price of one operation (lower is better)", font(22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d(x.log_scale(), -0.5f64..(n as f64 - 0.5))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n.max(1))
        .y_label_formatter(&|y| {
            let i = y.round();
            // Top to bottom in list order.
            let index = n as f64 - 1.0 - i;
            if (y - i).abs() < 1e-6 && index >= 0.0 {
                labels.get(index as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("ns per operation (log scale)")
        .x_label_formatter(&|v| filterbench_analysis::format::ns(*v))
        .label_style(font(12))
        .axis_desc_style(font(15))
        .draw()
        .map_err(err)?;
    let height = 0.8 / engines.len().max(1) as f64;
    for (j, engine) in engines.iter().enumerate() {
        let marks: Vec<Mark> = prices
            .iter()
            .filter(|p| p.engine == *engine)
            .filter_map(|p| {
                let e = p.ns?;
                let i = rows
                    .iter()
                    .position(|(o, w)| *o == p.operation && *w == p.workload)?;
                let y = (n - 1 - i) as f64 + 0.4 - height * (j as f64 + 0.5);
                Some(((e.low.max(0.1), y), (e.high, y), (e.value.max(0.1), y)))
            })
            .collect();
        estimates(&mut chart, &marks, colour(view, engine), engine, &mut keys)?;
    }
    keys.draw(&side)
}
