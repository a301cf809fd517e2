//! Workloads that are not HTTP requests, with a real Rust SDK module on every engine and native:
//! a TCP connection through a network filter (data both ways, edited and counted, close
//! callbacks), and a root-only plugin measured through its root callbacks (ticks, items on its
//! shared queue). Each is conformant everywhere, its stated expectations hold, and it is timed.

mod common;

use filterbench_harness::assertions::Assertions;
use filterbench_harness::catalog::{self, PluginSettings, Workload};
use filterbench_harness::run::{self, Subject};
use filterbench_host::{HttpExchange, TcpExchange, Unit};

fn probe(mode: &str, workloads: Vec<(Workload, Assertions)>) -> Subject {
    let names: Vec<&'static str> = workloads.iter().map(|(w, _)| w.name).collect();
    let mut filter = catalog::user_module(
        "network-probe",
        format!(r#"{{"mode": "{mode}"}}"#),
        String::new(),
        PluginSettings::default(),
        names,
        Vec::new(),
    );
    for (workload, assertions) in workloads {
        filter
            .custom
            .assertions
            .push((workload.name.to_owned(), assertions));
        filter.custom.workloads.push(workload);
    }
    Subject {
        filter,
        source: common::built("network-probe"),
    }
}

fn workload(name: &'static str, unit: Unit) -> Workload {
    Workload {
        name,
        description: "a test workload".to_owned(),
        sweep: None,
        exchange: HttpExchange {
            unit,
            ..HttpExchange::default()
        },
    }
}

#[test]
fn a_network_filter_sees_a_connections_data_and_closes_on_every_engine() {
    let tcp = Unit::Tcp(TcpExchange {
        downstream: vec![b"ping ".to_vec(), b"pong".to_vec()],
        upstream: vec![b"reply".to_vec()],
    });
    let holds = Assertions {
        metrics: vec![
            ("connections".to_owned(), 1),
            ("downstream_bytes".to_owned(), 9),
            ("upstream_bytes".to_owned(), 5),
        ],
        log_contains: vec!["upstream closed by Unknown".to_owned()],
        paused: Some(false),
        ..Assertions::default()
    };
    let subject = probe("tcp", vec![(workload("connection", tcp), holds)]);
    let results = common::run_on_every_engine(subject);
    for cell in common::conformant_guest_cells(&results) {
        assert!(cell.steady.is_some(), "{}: timed", cell.engine);
        let observed = cell.observed.join("\n");
        // The filter upper-cases what the client sends: the forwarded bytes differ from the
        // input, the same way on every engine (compared across engines by digest).
        assert!(observed.contains("downstream data: 9 bytes"), "{observed}");
        assert!(observed.contains("upstream data: 5 bytes"), "{observed}");
        assert!(!observed.contains("request header"), "{observed}");
        assert!(
            cell.log
                .iter()
                .any(|l| l.contains("downstream closed by Local")),
            "{:?}",
            cell.log
        );
    }
}

#[test]
fn a_root_only_plugin_is_measured_through_its_ticks_and_queue_on_every_engine() {
    let ticks = Assertions {
        metrics: vec![("ticks".to_owned(), 1)],
        log_contains: vec!["network-probe: tick".to_owned()],
        ..Assertions::default()
    };
    let items = Assertions {
        metrics: vec![("events".to_owned(), 1), ("event_bytes".to_owned(), 5)],
        ..Assertions::default()
    };
    let subject = probe(
        "root",
        vec![
            (workload("tick", Unit::Tick), ticks),
            (
                workload(
                    "event",
                    Unit::QueueItem {
                        queue: "events".to_owned(),
                        item: b"hello".to_vec(),
                    },
                ),
                items,
            ),
        ],
    );
    let results = common::run_on_every_engine(subject);
    for workload in ["tick", "event"] {
        let floor = results
            .cells
            .iter()
            .find(|c| c.engine == filterbench_host::FLOOR_ENGINE && c.workload == workload);
        assert!(
            floor.is_some_and(|c| c.error.is_none() && c.steady.is_some()),
            "the host floor of {workload} is timed: {floor:?}"
        );
    }
    let cells = common::conformant_guest_cells(&results);
    for workload in ["tick", "event"] {
        assert!(
            cells.iter().filter(|c| c.workload == workload).count() > 1,
            "{workload} ran on every engine"
        );
    }
    for cell in cells {
        assert!(
            cell.steady.is_some(),
            "{} {}: timed",
            cell.engine,
            cell.workload
        );
        assert!(
            !cell
                .observed
                .iter()
                .any(|l| l.contains("body") || l.contains("local response")),
            "no stream: {:?}",
            cell.observed
        );
    }
}

#[test]
fn an_http_workload_on_a_network_filter_or_a_root_only_plugin_says_what_to_run_instead() {
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| e.name == "wasmtime-cranelift")
        .collect();
    for (mode, hint) in [
        ("tcp", "network (TCP) filter"),
        ("root", "a root-only plugin"),
    ] {
        let mut subject = probe(mode, Vec::new());
        subject.filter.workloads = vec!["get-small"];
        let results = run::run(&[subject], &engines, &common::tiny_run(), &mut |_| {});
        let cell = &results.cells[0];
        let error = cell.error.clone();
        assert!(
            error.as_deref().is_some_and(|e| e.contains(hint)),
            "{mode}: {error:?}"
        );
    }
}
