//! Terminal output: listings, per-cell check lines and the results table.

use comfy_table::{Cell as TableCell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_harness::catalog;
use filterbench_harness::results::{Cell, Conformance, Results};

/// Formats nanoseconds with a unit that keeps 3 significant digits.
pub fn format_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// Prints the catalog's filters.
pub fn print_filters() {
    for f in catalog::filters() {
        println!(
            "{:<10} {} (workloads: {})",
            f.name,
            f.description,
            f.workloads.join(", ")
        );
    }
}

/// Prints every engine configuration: version and description, or why it is unavailable.
pub fn print_engines() {
    for entry in filterbench_engines::all() {
        match filterbench_engines::create(entry.name) {
            Ok(engine) => {
                let info = engine.info();
                println!(
                    "{:<34} {:<24} {}",
                    info.name, info.version, info.description
                );
            }
            Err(e) => println!("{:<34} {:<24} {}", entry.name, "unavailable", e.reason),
        }
    }
}

/// Prints the workloads.
pub fn print_workloads() {
    for w in catalog::workloads() {
        let group = w.sweep.map_or(String::new(), |g| format!("  [sweep:{g}]"));
        println!("{:<20} {}{group}", w.name, w.description);
    }
}

fn is_unavailable(cell: &Cell) -> bool {
    cell.error_kind.as_deref() == Some("unavailable")
}

/// For modules without stated expectations: the effects seen, once per filter and workload.
fn print_observed(results: &Results) {
    let mut shown = std::collections::HashSet::new();
    for cell in results
        .cells
        .iter()
        .filter(|c| c.conformance == Conformance::Observed)
    {
        if shown.insert((&cell.filter, &cell.workload)) {
            println!(
                "\n{} / {}: effects observed (identical on every engine marked observed):",
                cell.filter, cell.workload
            );
            for line in &cell.observed {
                println!("  {line}");
            }
        }
    }
}

/// One line per checked cell.
pub fn print_check(cell: &Cell) {
    let status = match cell.conformance {
        Conformance::Pass => "conformant".to_owned(),
        Conformance::Observed => "ran (effects observed, compared across engines)".to_owned(),
        Conformance::Fail => format!("NOT CONFORMANT ({} differences)", cell.diff.len()),
        Conformance::Error if is_unavailable(cell) => {
            "unavailable in this build (reason below the table)".to_owned()
        }
        Conformance::Error => format!("ERROR ({})", cell.error_kind.as_deref().unwrap_or("error")),
    };
    eprintln!(
        "  {:<10} {:<34} {:<12} {status}",
        cell.filter, cell.engine, cell.workload
    );
}

/// Prints the results table, then the details of failed cells.
pub fn print_table(results: &Results) {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "filter",
        "workload",
        "engine",
        "conformance",
        "median",
        "p99",
        "ratio to native",
        "samples",
    ]);
    for cell in &results.cells {
        let steady = cell.steady.as_ref();
        let ratio = match (&cell.ratio_to_native, cell.engine.as_str()) {
            (Some(r), _) => format!("{r:.2}x"),
            (None, "native") if steady.is_some() => "1.00x (baseline)".to_owned(),
            (None, _) => "-".to_owned(),
        };
        let conformance = match cell.conformance {
            Conformance::Pass => "pass",
            Conformance::Observed => "observed",
            Conformance::Fail => "FAIL",
            Conformance::Error if is_unavailable(cell) => "unavailable",
            Conformance::Error => "ERROR",
        };
        table.add_row(vec![
            TableCell::new(&cell.filter),
            TableCell::new(&cell.workload),
            TableCell::new(&cell.engine),
            TableCell::new(conformance),
            TableCell::new(steady.map_or("-".to_owned(), |s| format_ns(s.median_ns)))
                .set_alignment(CellAlignment::Right),
            TableCell::new(steady.map_or("-".to_owned(), |s| format_ns(s.p99_ns)))
                .set_alignment(CellAlignment::Right),
            TableCell::new(ratio).set_alignment(CellAlignment::Right),
            TableCell::new(steady.map_or("-".to_owned(), |s| s.samples.to_string()))
                .set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{table}");
    let unavailable: Vec<_> = results
        .engines
        .iter()
        .filter_map(|e| Some((&e.name, e.unavailable.as_ref()?)))
        .collect();
    if !unavailable.is_empty() {
        println!("\nnot run here:");
        for (name, reason) in unavailable {
            println!("  {name}: {reason}");
        }
    }
    print_observed(results);
    for cell in results
        .cells
        .iter()
        .filter(|c| !is_unavailable(c) && (c.error.is_some() || !c.diff.is_empty()))
    {
        println!("\n{} / {} / {}:", cell.filter, cell.engine, cell.workload);
        if let Some(error) = &cell.error {
            println!("  {error}");
        }
        for line in &cell.diff {
            println!("  {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_three_significant_digits() {
        assert_eq!(format_ns(512.4), "512 ns");
        assert_eq!(format_ns(1_234.0), "1.23 µs");
        assert_eq!(format_ns(2_500_000.0), "2.50 ms");
    }
}
