//! Terminal output: listings, per-cell check lines and the results table.

use comfy_table::{Cell as TableCell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use filterbench_harness::results::{Cell, Conformance, Results};
use filterbench_harness::{catalog, format, price};

/// Prints the catalog's filters.
pub fn print_filters() {
    for f in catalog::filters() {
        println!(
            "{:<24} {} (workloads: {})",
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

fn is_native(results: &Results, engine: &str) -> bool {
    results
        .engines
        .iter()
        .any(|e| e.name == engine && e.family == "native")
}

/// Per engine: geometric mean over filters of the ratio to native, total and above the host
/// floor; then the floor and the run's A/A precision.
fn print_summary(results: &Results) {
    if results.summary.engines.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "engine",
        "ratio to native [95% CI]",
        "above host floor [95% CI]",
        "verdict",
        "filters",
        "noisy cells",
    ]);
    let engines = results.summary.engines_fastest_first();
    for e in &engines {
        table.add_row(vec![
            TableCell::new(&e.engine),
            TableCell::new(format::ratio_estimate(&e.geomean_ratio_to_native))
                .set_alignment(CellAlignment::Right),
            TableCell::new(
                e.geomean_ratio_above_floor
                    .as_ref()
                    .map_or("-".to_owned(), format::ratio_estimate),
            )
            .set_alignment(CellAlignment::Right),
            TableCell::new(format::verdict(e.verdict)),
            TableCell::new(e.filters).set_alignment(CellAlignment::Right),
            TableCell::new(e.noisy_cells).set_alignment(CellAlignment::Right),
        ]);
    }
    println!(
        "
cost against native code, geometric mean over filters (sweeps excluded), total and above the host floor:
{table}"
    );
    print_floor(results);
    print_precision(results);
}

/// The host floor per workload of noop (or the first filter): its time and share of native.
fn print_floor(results: &Results) {
    let floors: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.engine == filterbench_host::FLOOR_ENGINE && c.steady.is_some())
        .collect();
    let Some(first) = floors
        .iter()
        .find(|c| c.filter == "noop")
        .or(floors.first())
    else {
        return;
    };
    let lines: Vec<String> = floors
        .iter()
        .filter(|c| c.filter == first.filter)
        .map(|c| {
            let median = c
                .steady
                .as_ref()
                .and_then(|s| s.median.as_ref())
                .map_or("-".to_owned(), format::ns_estimate);
            let share = c
                .ratio_to_native
                .map_or("-".to_owned(), |r| format!("{:.0}%", r.value * 100.0));
            format!("{} {median} ({share} of native)", c.workload)
        })
        .collect();
    println!(
        "host floor (the lifecycle with no guest), {}: {}",
        first.filter,
        lines.join("; ")
    );
}

/// The A/A outcomes: how precisely this run tells native code from itself.
fn print_precision(results: &Results) {
    let aa = &results.summary.precision;
    if aa.is_empty() {
        return;
    }
    let containing = results.summary.aa_containing_one();
    let median = results.summary.aa_median_half_width().unwrap_or(0.0);
    println!(
        "precision (A/A: native code against a second instance of itself): {containing} of {} intervals contain 1, median half-width ±{:.1}%; cells noisier than ±{:.1}% are marked noisy",
        aa.len(),
        median * 100.0,
        results.summary.noise_threshold * 100.0
    );
    let settings = &results.settings;
    let run_level = if settings.between_run_sd > 0.0 {
        format!(
            ", times a run-level term of {:.1}% (--between-run; not on A/A)",
            settings.between_run_sd * 100.0
        )
    } else {
        ", with no run-level term: they do not cover what changes between runs".to_owned()
    };
    if settings.runs > 1 {
        println!(
            "intervals: bootstrap over {} measuring processes ({} rounds of {} ms each), their blocks and rounds{run_level}",
            settings.runs, settings.rounds, settings.slice_ms
        );
    } else {
        println!(
            "intervals: ONE measuring process ({} rounds of {} ms): they do not cover what changes between processes (code placement, heap history); the standard run splits over 3{run_level}",
            settings.rounds, settings.slice_ms
        );
    }
    for a in aa.iter().filter(|a| a.unreliable) {
        println!(
            "  UNRELIABLE: {} / {}: A/A {} excludes 1 by more than 2%",
            a.filter,
            a.workload,
            format::ratio_estimate(&a.ratio)
        );
    }
    if let Some(speed) = &results.summary.speed {
        println!(
            "machine speed (canary loop each round): {:.0}% of rounds in a slow state (canary over {:.1}x its fast {:.1} µs)",
            speed.slow_share * 100.0,
            filterbench_harness::analysis::SLOW_STATE_FACTOR,
            speed.fast_canary_ns / 1e3
        );
        if let Some(fast) = speed.fast_share {
            let mixed = results.cells.iter().filter(|c| c.mixed_state).count();
            println!(
                "ratios come from the {:.0}% of rounds in the fast state (canary within {:.0}% of its fast time){}",
                fast * 100.0,
                (filterbench_harness::analysis::FAST_STATE_FACTOR - 1.0) * 100.0,
                if mixed > 0 {
                    format!(
                        "; {mixed} cells had fewer than {} such rounds and use all (mixed state)",
                        filterbench_harness::analysis::MIN_FAST_ROUNDS
                    )
                } else {
                    String::new()
                }
            );
        }
        if let (Some(share), Some(fast), Some(median)) = (
            speed.memory_slow_share,
            speed.fast_memory_ns,
            speed.median_memory_ns,
        ) {
            println!(
                "memory system (dependent loads through 32 MiB each round): {:.0}% of rounds slow (over {:.1}x its fast {fast:.0} ns/load; median {median:.0} ns/load)",
                share * 100.0,
                filterbench_harness::analysis::SLOW_STATE_FACTOR,
            );
        }
    }
    if let Some(error) = &results.settings.pinning_error {
        println!("WARNING: the measuring thread was NOT pinned to a CPU ({error})");
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

/// What modules did while timed beyond their checked first request: ticks fired, and paths
/// that changed (the report's "Behaviour while timed").
fn print_while_timed(results: &Results) {
    let Some(section) = filterbench_report::behaviour::section(results) else {
        return;
    };
    println!("\nbehaviour while timed (beyond the checked first request):");
    for row in &section.table.rows {
        let (who, ticks, path) = (
            format!("{} / {} / {}", row[0], row[2], row[1]),
            &row[3],
            &row[4],
        );
        if ticks != "-" {
            println!("  {who}: ticks fired: {ticks}");
        }
        if path != "-" {
            println!("  {who}: PATH CHANGED {path} (its timing mixes both paths)");
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
        Conformance::Calibration => "calibration (not checked)".to_owned(),
    };
    eprintln!(
        "  {:<10} {:<34} {:<12} {status}",
        cell.filter, cell.engine, cell.workload
    );
}

/// Prints the results table, the per-engine summary, then the details of failed cells.
pub fn print_table(results: &Results) {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec![
        "filter",
        "workload",
        "engine",
        "conformance",
        "median (95% CI)",
        "p99",
        "CPU/req",
        "ratio to native [95% CI]",
        "above floor [95% CI]",
        "verdict",
    ];
    let counted = results.cells.iter().any(|c| c.instructions.is_some());
    if counted {
        header.push("instructions/req");
    }
    table.set_header(header);
    let right = |text: String| TableCell::new(text).set_alignment(CellAlignment::Right);
    // The price-list probes get their own table (below).
    let shown = |c: &&Cell| !is_unavailable(c) && !price::is_probe(&c.filter);
    for cell in results.cells.iter().filter(shown) {
        let steady = cell.steady.as_ref();
        let ratio = match (&cell.ratio_to_native, steady) {
            (Some(r), _) => format::ratio_estimate(r),
            (None, Some(_)) if is_native(results, &cell.engine) => "1.00x (baseline)".to_owned(),
            _ => "-".to_owned(),
        };
        let conformance = match cell.conformance {
            Conformance::Pass => "pass",
            Conformance::Observed => "observed",
            Conformance::Fail => "FAIL",
            Conformance::Error => "ERROR",
            Conformance::Calibration => "calibration",
        };
        let mut verdict = match cell.engine.as_str() {
            filterbench_host::FLOOR_ENGINE => "host floor (ratio: share of native)".to_owned(),
            filterbench_harness::analysis::AA_ENGINE => match cell.verdict_vs_native {
                Some(filterbench_harness::stats::Verdict::Inconclusive) => "A/A: 1 within CI",
                Some(_) => "A/A: 1 OUTSIDE CI",
                None => "A/A",
            }
            .to_owned(),
            _ => cell
                .verdict_vs_native
                .map_or(String::new(), |v| format::verdict(v).to_owned()),
        };
        if cell.noisy {
            verdict.push_str(" (noisy)");
        }
        if cell.implausible.is_some() {
            verdict.push_str(" IMPLAUSIBLE");
        }
        if cell.unreliable {
            verdict.push_str(" (A/A unreliable)");
        }
        if cell.mixed_state {
            verdict.push_str(" (mixed state)");
        }
        let mut row = vec![
            TableCell::new(&cell.filter),
            TableCell::new(&cell.workload),
            TableCell::new(&cell.engine),
            TableCell::new(conformance),
            right(
                steady
                    .and_then(|s| s.median.as_ref())
                    .map_or("-".to_owned(), format::ns_estimate),
            ),
            right(steady.map_or("-".to_owned(), |s| format::ns(s.wall.p99_ns))),
            right(
                steady
                    .and_then(|s| s.cpu.as_ref())
                    .map_or("-".to_owned(), |e| format::ns(e.value)),
            ),
            right(ratio),
            right(
                cell.ratio_above_floor
                    .as_ref()
                    .map_or("-".to_owned(), format::ratio_estimate),
            ),
            TableCell::new(verdict.trim()),
        ];
        if counted {
            row.push(right(format::instructions(cell)));
        }
        table.add_row(row);
    }
    println!("{table}");
    print_summary(results);
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
    print_prices(results);
    print_observed(results);
    print_while_timed(results);
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

/// Prints the hostcall price list: ns per operation, operations down, engines across.
fn print_prices(results: &Results) {
    if results.price.is_empty() {
        return;
    }
    let mut engines: Vec<&str> = Vec::new();
    for p in &results.price {
        if !engines.contains(&p.engine.as_str()) {
            engines.push(&p.engine);
        }
    }
    let rows = filterbench_report::price::rows(&results.price);
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["operation (ns each)", "workload"];
    header.extend(engines.iter().copied());
    table.set_header(header);
    for (operation, workload) in rows {
        let mut row = vec![TableCell::new(operation), TableCell::new(workload)];
        for engine in &engines {
            let price = results.price.iter().find(|p| {
                p.operation == operation && p.workload == workload && p.engine == *engine
            });
            let text = match price.and_then(|p| p.ns) {
                Some(e) if e.value >= 100.0 => format!("{:.0}", e.value),
                Some(e) => format!("{:.1}", e.value),
                None => "-".to_owned(),
            };
            row.push(TableCell::new(text).set_alignment(CellAlignment::Right));
        }
        table.add_row(row);
    }
    println!("\nhostcall price list (median ns per operation; intervals in the report):\n{table}");
}

/// Prints a comparison of two results files.
pub fn print_comparison(changes: &[filterbench_harness::compare::CellChange], threshold: f64) {
    use filterbench_harness::compare::Change;
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "filter",
        "workload",
        "engine",
        "old median",
        "new median",
        "new / old [95% CI]",
        "change",
        "instructions new / old",
    ]);
    let word = |c: Change| match c {
        Change::Improved => "improved",
        Change::Regressed => "REGRESSED",
        Change::Unchanged => "unchanged",
        Change::Inconclusive => "inconclusive",
    };
    for c in changes {
        table.add_row(vec![
            TableCell::new(&c.filter),
            TableCell::new(&c.workload),
            TableCell::new(&c.engine),
            TableCell::new(format::ns(c.old_ns)).set_alignment(CellAlignment::Right),
            TableCell::new(format::ns(c.new_ns)).set_alignment(CellAlignment::Right),
            TableCell::new(format::ratio_estimate(&c.ratio)).set_alignment(CellAlignment::Right),
            TableCell::new(word(c.change)),
            TableCell::new(match (c.instructions_ratio, c.instructions_change) {
                (Some(r), Some(ch)) => format!("{} {}", format::ratio(r), word(ch)),
                _ => "-".to_owned(),
            }),
        ]);
    }
    println!("{table}");
    let count = |c: Change| changes.iter().filter(|x| x.change == c).count();
    println!(
        "threshold ±{:.0}%: {} improved, {} regressed, {} unchanged, {} inconclusive",
        threshold * 100.0,
        count(Change::Improved),
        count(Change::Regressed),
        count(Change::Unchanged),
        count(Change::Inconclusive)
    );
}

/// Whether behaviour is identical cell by cell; the differing cells, one line each.
pub fn print_behaviour(behaviour: &filterbench_harness::compare::BehaviourComparison) {
    if behaviour.changes.is_empty() {
        println!(
            "behaviour: identical in all {} cells (conformance, errors, effects)",
            behaviour.cells_in_both
        );
        return;
    }
    println!(
        "behaviour: {} of {} cells differ (or are in one run only):",
        behaviour.changes.len(),
        behaviour.cells_in_both
    );
    for c in &behaviour.changes {
        println!(
            "  {} / {} / {}: {}",
            c.filter,
            c.engine,
            c.workload,
            c.differences.join("; ")
        );
    }
}

/// The Envoy table: per filter and variant, medians [min–max] over rounds.
pub fn print_envoy_table(results: &Results) {
    let Some(envoy) = &results.envoy else { return };
    print_envoy_instructions(envoy);
    print_envoy_cpu(envoy);
    print_envoy_sweeps(envoy);
    if envoy.runs.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "filter",
        "variant",
        "max req/s",
        "vs none",
        "Envoy CPU µs/req",
        "over baseline µs",
        "p50 ms @rate",
        "p99 ms @rate",
        "RSS MiB",
        "note",
    ]);
    for s in &envoy.summary {
        let note = filterbench_harness::envoy::summary_note(s)
            .chars()
            .take(80)
            .collect::<String>();
        table.add_row([
            TableCell::new(&s.filter),
            TableCell::new(&s.variant),
            TableCell::new(format::spread(s.max_rps, 1.0, 0)).set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.max_rps_ratio, 1.0, 2))
                .set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.cpu_us_per_request, 1.0, 1))
                .set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.cpu_over_baseline_us, 1.0, 1))
                .set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.latency(50.0), 1.0, 2))
                .set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.latency(99.0), 1.0, 2))
                .set_alignment(CellAlignment::Right),
            TableCell::new(format::spread(s.rss_peak_bytes, 1.0 / 1048576.0, 1))
                .set_alignment(CellAlignment::Right),
            TableCell::new(note),
        ]);
    }
    println!(
        "\nEnvoy {} — load runs: {} round(s) ([min–max] over rounds; `vs none` and `over baseline` paired with the same round's no filter), open-loop rate {:.0} req/s ({}), {} connections, upstream {}",
        envoy.settings.envoy_version,
        envoy.settings.rounds,
        envoy.settings.rate_rps,
        envoy.settings.rate_source,
        envoy.settings.connections,
        envoy.settings.upstream
    );
    println!("{table}");
}

/// The sweep points: memory and instructions per request against N.
fn print_envoy_sweeps(envoy: &filterbench_harness::envoy::EnvoyResults) {
    if envoy.sweeps.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "sweep",
        "N",
        "filter",
        "variant",
        "RSS ready / after load / peak MiB",
        "V8 VMs",
        "instructions/request",
        "note",
    ]);
    let right = |text: String| TableCell::new(text).set_alignment(CellAlignment::Right);
    let mib = |b: Option<u64>| b.map_or("-".to_owned(), |b| format!("{:.1}", b as f64 / 1048576.0));
    for p in &envoy.sweeps {
        table.add_row([
            TableCell::new(&p.sweep),
            right(p.n.to_string()),
            TableCell::new(&p.filter),
            TableCell::new(&p.variant),
            right(format!(
                "{} / {} / {}",
                mib(p.rss_idle_bytes),
                mib(p.rss_warm_bytes),
                mib(p.rss_peak_bytes)
            )),
            right(p.wasm_vms.map_or("-".to_owned(), |v| v.to_string())),
            right(p.instructions_median.map_or("-".to_owned(), |m| {
                format!(
                    "{m:.0} ({:.2}%)",
                    p.instructions_spread.unwrap_or(0.0) * 100.0
                )
            })),
            TableCell::new(
                p.error
                    .clone()
                    .or_else(|| p.instructions_error.clone())
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>(),
            ),
        ]);
    }
    println!(
        "\nEnvoy {} — sweeps: concurrency = N workers; chain = the filter N times in one chain; listeners = N listeners with a copy each (one VM per Wasm copy)",
        envoy.settings.envoy_version
    );
    println!("{table}");
}

/// The paired CPU slices through Envoy: per filter and variant the worker CPU per request and
/// the paired difference and ratio to no filter, with 95% intervals.
fn print_envoy_cpu(envoy: &filterbench_harness::envoy::EnvoyResults) {
    if envoy.cpu.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["filter", "variant"];
    header.extend(format::CPU_COLUMNS);
    table.set_header(header);
    let right = |text: String| TableCell::new(text).set_alignment(CellAlignment::Right);
    for cpu in &envoy.cpu {
        if let Some(error) = &cpu.error {
            table.add_row([
                TableCell::new(&cpu.filter),
                TableCell::new("-"),
                TableCell::new(format!(
                    "ERROR {}",
                    error.chars().take(80).collect::<String>()
                )),
            ]);
        }
        for cost in &cpu.costs {
            let [rate, slices, worker, over, ratio, note] = format::cpu_columns(cpu, cost);
            table.add_row([
                TableCell::new(&cpu.filter),
                TableCell::new(&cost.variant),
                right(rate),
                right(slices),
                right(worker),
                right(over),
                right(ratio),
                TableCell::new(note),
            ]);
        }
    }
    println!(
        "\nEnvoy {} — worker CPU per request at a fixed rate, every variant of a filter in one Envoy, \
         paired round by round with no filter (median over rounds, 95% bootstrap interval)",
        envoy.settings.envoy_version
    );
    println!("{table}");
}

/// The instruction counts through Envoy: per variant the median of its bursts, their spread,
/// the difference and ratio to no filter, and the share in the filter's own code.
fn print_envoy_instructions(envoy: &filterbench_harness::envoy::EnvoyResults) {
    if envoy.instructions.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["filter", "variant"];
    header.extend(format::INSTRUCTION_COLUMNS);
    table.set_header(header);
    let right = |text: String| TableCell::new(text).set_alignment(CellAlignment::Right);
    for e in &envoy.instructions {
        if let Some(error) = &e.error {
            table.add_row([
                TableCell::new(&e.filter),
                TableCell::new(&e.variant),
                TableCell::new(format!(
                    "ERROR {}",
                    error.chars().take(80).collect::<String>()
                )),
            ]);
            continue;
        }
        let [median, bursts, spread, over, ratio, share] = format::instruction_columns(e);
        table.add_row([
            TableCell::new(&e.filter),
            TableCell::new(&e.variant),
            right(median),
            right(bursts),
            right(spread),
            right(over),
            right(ratio),
            TableCell::new(share),
        ]);
    }
    println!(
        "\nEnvoy {} — instructions per request under callgrind (one worker; idle instructions subtracted; bursts of requests on one keep-alive connection, or for a network filter one TCP connection per request)",
        envoy.settings.envoy_version
    );
    println!("{table}");
    let spreads: Vec<f64> = envoy.instructions.iter().filter_map(|e| e.spread).collect();
    if let Some(worst) = spreads.iter().copied().reduce(f64::max) {
        println!(
            "determinism: largest spread between bursts {:.2}% (target <= 0.5%)",
            worst * 100.0
        );
    }
}
