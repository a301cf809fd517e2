//! The hostcall price list from the price-list probes: per engine and operation, the slope of
//! the probe's time over the times it repeats the operation (its rounds paired with the
//! baseline probe's on the same engine), and the price of an empty callback (the baseline's time
//! above the host floor over the callbacks of one lifecycle).

use crate::results::{Cell, Price};
use crate::rounds::{aligned, fast_state_rounds, kept, timed};
use crate::stats::{self, PairedSeries};
use filterbench_catalog::price::{self, BASE, CALLBACK_WORKLOAD, OPERATIONS};
use filterbench_host::FLOOR_ENGINE;

/// The operation name of the empty callback's row.
pub const CALLBACK: &str = "callback";

/// Every price the probes among `cells` give, engines in the order they appear: the empty
/// callback first, then the operations in catalog order. `fast` is the run's fast canary
/// (comparisons use the fast-state rounds when there are enough of them).
pub fn price_list(cells: &[Cell], fast: Option<f64>) -> Vec<Price> {
    let mut engines: Vec<&str> = Vec::new();
    for cell in cells.iter().filter(|c| c.filter == BASE) {
        if cell.engine != FLOOR_ENGINE && !engines.contains(&cell.engine.as_str()) {
            engines.push(&cell.engine);
        }
    }
    let find = |filter: &str, engine: &str, workload: &str| {
        cells
            .iter()
            .find(|c| c.filter == filter && c.engine == engine && c.workload == workload)
    };
    let mut out = Vec::new();
    for engine in &engines {
        let base = find(BASE, engine, CALLBACK_WORKLOAD);
        let floor = find(BASE, FLOOR_ENGINE, CALLBACK_WORKLOAD);
        out.push(callback_price(engine, base, floor, fast));
    }
    // Only the operations whose probe ran (a run may select some).
    let ran = |name: &str| cells.iter().any(|c| c.filter == name);
    for op in OPERATIONS.iter().filter(|o| ran(o.name)) {
        for workload in op.workloads {
            for engine in &engines {
                let probe = find(op.name, engine, workload);
                out.push(operation_price(op, engine, workload, probe, fast));
            }
        }
        if let (Some(per), [small, big]) = (op.per, op.workloads) {
            for engine in &engines {
                let probes = (find(op.name, engine, small), find(op.name, engine, big));
                out.push(unit_price(op, per, (small, big), engine, probes, fast));
            }
        }
    }
    out
}

/// Per round, the probe's time above its baseline over K, ns (all rounds); `None` when the
/// probe was not timed next to its baseline.
fn slopes(probe: Option<&Cell>, repeat: u32) -> Option<Vec<f64>> {
    let r = &timed(probe?)?.rounds;
    r.is_paired().then(|| {
        r.p50_ns
            .iter()
            .zip(&r.baseline_p50_ns)
            .map(|(p, b)| (p - b) / f64::from(repeat))
            .collect()
    })
}

/// The price of one more unit (KiB of body, header) of an operation priced on two workloads:
/// per round, the difference of its two prices over the difference of their sizes (the two
/// probes ran in the same rounds).
fn unit_price(
    op: &price::Operation,
    per: price::Per,
    (small, big): (&str, &str),
    engine: &str,
    (small_probe, big_probe): (Option<&Cell>, Option<&Cell>),
    fast: Option<f64>,
) -> Price {
    let name = format!("{} per {}", short_name(op), per.name());
    let workload = format!("{big} − {small}");
    let mut row = empty(
        &name,
        op.description,
        &workload,
        engine,
        u64::from(op.repeat),
    );
    let units = per.units(big).zip(per.units(small)).map(|(b, s)| b - s);
    let (Some(big_slopes), Some(small_slopes), Some(units)) = (
        slopes(big_probe, op.repeat),
        slopes(small_probe, op.repeat),
        units.filter(|u| *u > 0.0),
    ) else {
        row.missing = Some("the probes of both sizes were not both timed".to_owned());
        return row;
    };
    let (own, other) = (
        timed(big_probe.expect("timed")).expect("timed"),
        timed(small_probe.expect("timed")).expect("timed"),
    );
    let small_at = aligned(own, other, &small_slopes);
    let (mask, _) = fast_state_rounds(&own.rounds.canary_ns, own.rounds.len(), fast);
    let keep = mask.as_deref();
    let values: Vec<f64> = kept(&big_slopes, keep)
        .iter()
        .zip(kept(&small_at, keep))
        .map(|(b, s)| (b - s) / units)
        .collect();
    let series = PairedSeries::new(values, &kept(&own.rounds.origins(), keep));
    row.rounds = series.len();
    let seed = stats::seed_for(&[&name, engine, "price"]);
    row.ns = stats::median_of_series(&series, 0.0, seed, 0.0).map(|t| t.estimate.rounded(3));
    row
}

/// The operation's name without the probe prefix and language (`get-body`).
fn short_name(op: &price::Operation) -> &'static str {
    op.name
        .trim_start_matches(price::PREFIX)
        .trim_end_matches("@c")
}

fn empty(operation: &str, description: &str, workload: &str, engine: &str, repeat: u64) -> Price {
    Price {
        operation: operation.to_owned(),
        description: description.to_owned(),
        workload: workload.to_owned(),
        engine: engine.to_owned(),
        repeat,
        ns: None,
        rounds: 0,
        instructions: None,
        missing: None,
    }
}

/// Why a probe cell gives no price, if it does not.
fn unusable(cell: Option<&Cell>, what: &str) -> Option<String> {
    match cell {
        None => Some(format!("the {what} did not run")),
        Some(c) if c.error.is_some() || timed(c).is_none() => Some(format!(
            "the {what} was not timed: {}",
            c.error.as_deref().unwrap_or("it did not pass its check")
        )),
        Some(_) => None,
    }
}

fn operation_price(
    op: &price::Operation,
    engine: &str,
    workload: &str,
    probe: Option<&Cell>,
    fast: Option<f64>,
) -> Price {
    let mut row = empty(
        short_name(op),
        op.description,
        workload,
        engine,
        u64::from(op.repeat),
    );
    if let Some(why) = unusable(probe, "probe") {
        row.missing = Some(why);
        return row;
    }
    let probe = probe.expect("checked above");
    let own = timed(probe).expect("checked above");
    let r = &own.rounds;
    if !r.is_paired() {
        row.missing = Some("the probe was not paired with the baseline probe".to_owned());
        return row;
    }
    let (mask, _) = fast_state_rounds(&r.canary_ns, r.len(), fast);
    let keep = mask.as_deref();
    let all = slopes(Some(probe), op.repeat).expect("paired");
    let series = PairedSeries::new(kept(&all, keep), &kept(&r.origins(), keep));
    row.rounds = series.len();
    let seed = stats::seed_for(&[op.name, engine, workload, "price"]);
    row.ns = stats::median_of_series(&series, 0.0, seed, 0.0).map(|t| t.estimate.rounded(2));
    row
}

fn callback_price(
    engine: &str,
    base: Option<&Cell>,
    floor: Option<&Cell>,
    fast: Option<f64>,
) -> Price {
    let callbacks = base.and_then(|b| b.guest_callbacks).unwrap_or(0);
    let mut row = empty(
        CALLBACK,
        "an empty callback: the baseline probe's time above the host floor, over the callbacks of one lifecycle",
        CALLBACK_WORKLOAD,
        engine,
        callbacks,
    );
    if let Some(why) = unusable(base, "baseline probe").or_else(|| unusable(floor, "host floor")) {
        row.missing = Some(why);
        return row;
    }
    if callbacks == 0 {
        row.missing = Some("no callback was counted on the baseline probe".to_owned());
        return row;
    }
    let (own, floor) = (
        timed(base.expect("checked")).expect("checked"),
        timed(floor.expect("checked")).expect("checked"),
    );
    let (mask, _) = fast_state_rounds(&own.rounds.canary_ns, own.rounds.len(), fast);
    let keep = mask.as_deref();
    let floor_p50 = kept(&aligned(own, floor, &floor.rounds.p50_ns), keep);
    let n = callbacks as f64;
    let per_callback: Vec<f64> = kept(&own.rounds.p50_ns, keep)
        .iter()
        .zip(floor_p50)
        .map(|(b, f)| (b - f) / n)
        .collect();
    let series = PairedSeries::new(per_callback, &kept(&own.rounds.origins(), keep));
    row.rounds = series.len();
    let seed = stats::seed_for(&[CALLBACK, engine, "price"]);
    row.ns = stats::median_of_series(&series, 0.0, seed, 0.0).map(|t| t.estimate.rounded(2));
    row
}

/// Fills each price's instruction count from the probes' counted instructions (`--measure
/// instructions`): (probe − baseline) ÷ repeat; for the empty callback (baseline − floor) ÷
/// callbacks, when the floor was counted (`--measure instructions` counts engines, not the
/// floor, so that one stays empty).
pub fn fill_instructions(prices: &mut [Price], cells: &[Cell]) {
    let count = |filter: &str, engine: &str, workload: &str| {
        cells
            .iter()
            .find(|c| c.filter == filter && c.engine == engine && c.workload == workload)
            .and_then(|c| c.instructions.as_ref())
            .map(|i| i.per_lifecycle)
    };
    for p in prices.iter_mut().filter(|p| !p.operation.contains(" per ")) {
        let base = count(BASE, &p.engine, &p.workload);
        let own = if p.operation == CALLBACK {
            count(BASE, FLOOR_ENGINE, &p.workload).and_then(|floor| Some(base? - floor))
        } else {
            let name = format!("{}{}@c", price::PREFIX, p.operation);
            count(&name, &p.engine, &p.workload).and_then(|own| Some(own - base?))
        };
        p.instructions = own
            .filter(|_| p.repeat > 0)
            .map(|d| stats::round_to(d / p.repeat as f64, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RoundSeries;
    use crate::test_cells::{self, timed};

    fn rounds(p50: Vec<f64>, baseline: Vec<f64>) -> RoundSeries {
        test_cells::rounds(p50, baseline, Vec::new())
    }

    fn probe(filter: &str, engine: &str, r: RoundSeries) -> Cell {
        let mut c = timed(engine, r);
        c.filter = filter.to_owned();
        c
    }

    #[test]
    fn a_price_is_the_per_round_slope_and_a_callback_the_time_above_the_floor_per_callback() {
        let n = 12;
        // The machine drifts between rounds; the probe stays 32 × 10 ns above its baseline.
        let base: Vec<f64> = (0..n).map(|i| 500.0 + 7.0 * i as f64).collect();
        let with_ops: Vec<f64> = base.iter().map(|b| b + 320.0).collect();
        let floor: Vec<f64> = base.iter().map(|b| b - 160.0).collect();
        let mut base_cell = probe(BASE, "wasmi-eager", rounds(base.clone(), Vec::new()));
        base_cell.guest_callbacks = Some(8);
        let cells = vec![
            base_cell,
            probe(BASE, FLOOR_ENGINE, rounds(floor, Vec::new())),
            probe("price:get-header@c", "wasmi-eager", rounds(with_ops, base)),
        ];
        let prices = price_list(&cells, None);
        assert_eq!(prices.len(), 2, "{prices:?}");
        let callback = &prices[0];
        assert_eq!(
            (callback.operation.as_str(), callback.repeat),
            (CALLBACK, 8)
        );
        assert_eq!(callback.ns.map(|e| e.value), Some(20.0));
        let header = &prices[1];
        assert_eq!(header.operation, "get-header");
        assert_eq!(header.repeat, 32);
        assert_eq!(header.rounds, n);
        let e = header.ns.expect("a price");
        assert_eq!((e.low, e.value, e.high), (10.0, 10.0, 10.0));
    }

    #[test]
    fn a_price_per_kib_is_the_difference_of_the_two_sizes_prices_over_their_kib() {
        let n = 8;
        let base: Vec<f64> = (0..n).map(|i| 900.0 + 5.0 * i as f64).collect();
        let probe_on = |workload: &str, per_op: f64| {
            let with_ops: Vec<f64> = base.iter().map(|b| b + 16.0 * per_op).collect();
            let mut c = probe("price:get-body@c", "native", rounds(with_ops, base.clone()));
            c.workload = workload.to_owned();
            c
        };
        let kib = |w: &str| price::Per::KiB.units(w).unwrap();
        let extra = kib("post-64k") - kib("post-1k");
        let mut base_cell = probe(BASE, "native", rounds(base.clone(), Vec::new()));
        base_cell.workload = "post-1k".to_owned();
        let cells = vec![
            base_cell,
            probe_on("post-1k", 100.0),
            probe_on("post-64k", 100.0 + 40.0 * extra),
        ];
        let prices = price_list(&cells, None);
        let per = prices
            .iter()
            .find(|p| p.operation == "get-body per KiB")
            .expect("a per-KiB row");
        assert_eq!(per.workload, "post-64k − post-1k");
        let e = per.ns.expect("a price per KiB");
        assert!((e.value - 40.0).abs() < 0.01, "{e:?}");
    }

    #[test]
    fn a_probe_that_did_not_pass_its_check_has_no_price_and_says_why() {
        let mut failed = probe("price:get-body@c", "native", rounds(Vec::new(), Vec::new()));
        failed.workload = "post-1k".to_owned();
        failed.steady = None;
        failed.error = Some("trap: unreachable".to_owned());
        let mut base = probe(BASE, "native", rounds(vec![100.0; 4], Vec::new()));
        base.workload = "post-1k".to_owned();
        let prices = price_list(&[base, failed], None);
        let body: Vec<&Price> = prices
            .iter()
            .filter(|p| p.operation == "get-body")
            .collect();
        assert_eq!(body.len(), 2, "both sizes are listed");
        assert!(body.iter().all(|p| p.ns.is_none()));
        assert!(
            body[0]
                .missing
                .as_deref()
                .unwrap()
                .contains("trap: unreachable")
        );
        assert!(body[1].missing.as_deref().unwrap().contains("did not run"));
        let callback = &prices[0];
        assert!(callback.missing.as_deref().unwrap().contains("did not run"));
    }
}
