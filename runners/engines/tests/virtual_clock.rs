//! The virtual clock of a spec file (`clock.request_interval_ms`): ticks fire when it passes the
//! module's period and the module reads virtual time, the same on every engine; a real filter
//! that refreshes a token on ticks through an HTTP call runs conformant and its ticks are
//! counted while it is timed; stated expectations that do not hold fail the cell.

mod common;

use filterbench_harness::assertions::{Assertions, HeaderCheck};
use filterbench_harness::catalog::{self, PluginSettings};
use filterbench_harness::results::Conformance;
use filterbench_harness::run::{self, Subject};
use filterbench_host::{HeaderMap, PluginSpec, UpstreamReply, UpstreamRoute};

/// With [`TICK_CLOCK_FIELDS`]: sets a 1000 ms tick period when configured; each tick records
/// the module's clock, in ms, into the gauge `now_ms`.
const TICK_CLOCK_IMPORTS: &str = r#"
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))"#;
const TICK_CLOCK_FIELDS: &str = r#"
  (data (i32.const 256) "now_ms")
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    ;; gauge (type 1) "now_ms", id at 288
    (drop (call $define (i32.const 1) (i32.const 256) (i32.const 6) (i32.const 288)))
    (drop (call $tick_period (i32.const 1000)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $now (i32.const 320)))
    (drop (call $record (i32.load (i32.const 288))
      (i64.div_u (i64.load (i32.const 320)) (i64.const 1000000)))))"#;

#[test]
fn ticks_fire_on_the_virtual_clock_and_the_module_reads_virtual_time_on_every_engine() {
    let exchange = catalog::workload("get-small").unwrap().exchange;
    let plugin = PluginSpec {
        clock_step_ns: 250_000_000,
        ..PluginSpec::new("tick-clock", "")
    };
    let wasm = common::proxy_module(TICK_CLOCK_IMPORTS, TICK_CLOCK_FIELDS);
    for (engine, mut instance) in common::started_on_every_wasm_engine(&wasm, &plugin) {
        for _ in 0..9 {
            instance
                .run_stream(&exchange)
                .unwrap_or_else(|e| panic!("{engine}: {e}"));
        }
        // 9 requests 250 ms apart: 2250 ms of virtual time, ticks at 1000 and 2000 ms.
        let state = instance.state();
        assert_eq!(state.clock.ticks_fired, 2, "{engine}");
        let now_ms = state.metric_by_name("now_ms").map(|m| m.value);
        let epoch_ms = (filterbench_host::VIRTUAL_EPOCH_NS / 1_000_000) as i64;
        assert_eq!(now_ms, Some(epoch_ms + 2000), "{engine}");
    }
}

/// The example spec's filter: `examples/token-refresh.yaml`, written out.
fn token_refresh(assertions: Assertions) -> Subject {
    let mut filter = catalog::user_module(
        "token-refresh",
        r#"{"cluster": "token-service", "refresh_ms": 1000}"#.to_owned(),
        String::new(),
        PluginSettings {
            properties: vec![("xds.route_name".to_owned(), b"api-route".to_vec())],
            clock_step_ns: 100_000_000,
            ..PluginSettings::default()
        },
        vec!["get-small"],
        Vec::new(),
    );
    filter.upstreams = vec![UpstreamRoute {
        cluster: "token-service".to_owned(),
        when_header: None,
        reply: UpstreamReply {
            headers: HeaderMap::from_pairs(&[(":status", "200")]),
            body: b"t0k3n".to_vec(),
            ..UpstreamReply::default()
        },
    }];
    filter.custom.assertions = vec![("get-small".to_owned(), assertions)];
    Subject {
        filter,
        source: common::built("token-refresh"),
    }
}

#[test]
fn a_filter_refreshing_a_token_on_ticks_is_conformant_and_its_ticks_are_counted() {
    let holds = Assertions {
        request_headers: vec![
            (
                "authorization".to_owned(),
                HeaderCheck::Equals("Bearer t0k3n".to_owned()),
            ),
            (
                "x-route".to_owned(),
                HeaderCheck::Equals("api-route".to_owned()),
            ),
        ],
        local_reply: Some(None),
        metrics: vec![("token_refreshes".to_owned(), 1)],
        ..Assertions::default()
    };
    let results = run::run(
        &[token_refresh(holds)],
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    for cell in common::conformant_guest_cells(&results) {
        assert!(cell.path_changed.is_none(), "{}", cell.engine);
        let ticks = cell
            .ticks
            .unwrap_or_else(|| panic!("{}: no ticks", cell.engine));
        // One tick every 10 requests (100 ms apart, 1000 ms period), per instance: never more;
        // fewer only by each instance's last partial 10 (how many instances a cell goes through
        // depends on the machine's speed, so the lower bound is loose).
        assert!(ticks.fired > 0, "{}: {ticks:?}", cell.engine);
        assert!(
            ticks.fired * 10 <= ticks.requests,
            "{}: {ticks:?}",
            cell.engine
        );
        assert!(
            ticks.fired * 10 * 2 >= ticks.requests,
            "{}: {ticks:?}",
            cell.engine
        );
    }
}

#[test]
fn an_expectation_that_does_not_hold_fails_the_cell_with_what_differs() {
    let wrong = Assertions {
        request_headers: vec![(
            "x-route".to_owned(),
            HeaderCheck::Equals("other-route".to_owned()),
        )],
        ticks_at_least: Some(1),
        ..Assertions::default()
    };
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| e.name == "wasmtime-cranelift")
        .collect();
    let results = run::run(
        &[token_refresh(wrong)],
        &engines,
        &common::tiny_run(),
        &mut |_| {},
    );
    let cell = &results.cells[0];
    assert_eq!(cell.conformance, Conformance::Fail);
    assert_eq!(
        cell.diff,
        [
            "request header x-route: expected \"other-route\", got \"api-route\"",
            "ticks: expected at least 1, 0 fired (ticks need `clock.request_interval_ms` and a tick period the module sets)",
        ]
    );
    assert!(cell.steady.is_none(), "a failed cell is not timed");
}
