//! Modules that are not Wasm, not Proxy-Wasm, or trap give a clear error naming the module and
//! what is wrong, and the run goes on with the other cells.

mod common;

use filterbench_harness::catalog::{self, Expected, FilterSpec};
use filterbench_harness::results::{Cell, Conformance};
use filterbench_harness::run::{self, Subject};
use filterbench_host::ModuleSource;
use std::path::Path;

/// A Proxy-Wasm module whose `proxy_on_request_headers` executes `unreachable`.
fn traps_in_request_headers() -> Vec<u8> {
    common::proxy_module(
        "",
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable)"#,
    )
}

/// A valid WebAssembly module that exports no Proxy-Wasm ABI marker.
const NO_ABI_MARKER: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
)"#;

/// A Proxy-Wasm module importing a hostcall that does not exist.
const UNKNOWN_IMPORT: &str = r#"
(module
  (import "env" "proxy_teleport" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
)"#;

fn spec(name: &'static str) -> FilterSpec {
    FilterSpec {
        name,
        crate_name: name,
        language: filterbench_harness::catalog::Language::Rust,
        description: "hostile test module",
        plugin_config: String::new(),
        vm_config: String::new(),
        upstreams: Vec::new(),
        workloads: vec!["get-small"],
        expect: |_| Some(Expected::default()),
        memory_limit_bytes: filterbench_host::DEFAULT_MEMORY_LIMIT_BYTES,
        volatile: Vec::new(),
        plugin: Default::default(),
        custom: Default::default(),
    }
}

fn subject(dir: &Path, name: &'static str, wasm: &[u8], native: Option<&[u8]>) -> Subject {
    let wasm_path = dir.join(format!("{name}.wasm"));
    std::fs::write(&wasm_path, wasm).unwrap();
    let native = native.map(|bytes| {
        let path = dir.join(format!("lib{name}.so"));
        std::fs::write(&path, bytes).unwrap();
        path
    });
    Subject {
        filter: spec(name),
        source: ModuleSource {
            name: name.to_owned(),
            wasm: Some(wasm_path),
            native,
        },
    }
}

fn cell<'a>(cells: &'a [Cell], filter: &str, engine: &str) -> &'a Cell {
    cells
        .iter()
        .find(|c| c.filter == filter && c.engine == engine)
        .unwrap_or_else(|| panic!("no cell {filter}/{engine}"))
}

fn error_of(cell: &Cell) -> &str {
    assert_eq!(
        cell.conformance,
        Conformance::Error,
        "{}/{}",
        cell.filter,
        cell.engine
    );
    assert!(cell.steady.is_none(), "a failed cell is not timed");
    cell.error.as_deref().expect("error cells carry a message")
}

#[test]
fn bad_modules_fail_their_own_cells_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = vec![
        subject(
            dir.path(),
            "not-wasm",
            b"this is a text file, not WebAssembly",
            Some(b"not an ELF file"),
        ),
        subject(
            dir.path(),
            "truncated",
            &traps_in_request_headers()[..40],
            None,
        ),
        subject(
            dir.path(),
            "no-abi",
            &wat::parse_str(NO_ABI_MARKER).unwrap(),
            None,
        ),
        subject(
            dir.path(),
            "unknown-import",
            &wat::parse_str(UNKNOWN_IMPORT).unwrap(),
            None,
        ),
        subject(dir.path(), "traps", &traps_in_request_headers(), None),
        Subject {
            filter: catalog::filter("noop").unwrap(),
            source: common::built("noop"),
        },
    ];
    let results = run::run(
        &subjects,
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    let cells = &results.cells;
    let wasm = "wasmtime-cranelift";

    let e = error_of(cell(cells, "not-wasm", wasm));
    assert!(
        e.contains("'not-wasm'") && e.contains("not a valid WebAssembly binary"),
        "{e}"
    );
    let e = error_of(cell(cells, "not-wasm", "native"));
    assert!(e.contains("'not-wasm'") && e.contains("native"), "{e}");
    assert_eq!(
        cell(cells, "not-wasm", "native").error_kind.as_deref(),
        Some("load")
    );

    let e = error_of(cell(cells, "truncated", wasm));
    assert!(
        e.contains("'truncated'") && e.contains("not a valid WebAssembly binary"),
        "{e}"
    );

    let no_abi = cell(cells, "no-abi", wasm);
    let e = error_of(no_abi);
    assert_eq!(no_abi.error_kind.as_deref(), Some("no_abi_version"));
    assert!(
        e.contains("'no-abi'") && e.contains("proxy_abi_version_0_2_1"),
        "{e}"
    );

    let e = error_of(cell(cells, "unknown-import", wasm));
    assert!(
        e.contains("'unknown-import'") && e.contains("env.proxy_teleport"),
        "{e}"
    );

    let traps = cell(cells, "traps", wasm);
    let e = error_of(traps);
    assert_eq!(traps.error_kind.as_deref(), Some("trap"));
    assert!(
        e.contains("'traps'")
            && e.contains("proxy_on_request_headers")
            && e.contains("unreachable"),
        "{e}"
    );

    // Modules without a native build are reported, not silently skipped.
    let e = error_of(cell(cells, "traps", "native"));
    assert!(e.contains("no native library"), "{e}");

    // The good filter in the same run was checked and measured on every engine.
    for engine in [wasm, "native"] {
        let noop = cell(cells, "noop", engine);
        assert_eq!(
            noop.conformance,
            Conformance::Pass,
            "{engine}: {:?}",
            noop.error
        );
        assert!(
            noop.steady.as_ref().is_some_and(|s| s.wall.samples > 0),
            "{engine}"
        );
    }
    assert!(cell(cells, "noop", wasm).ratio_to_native.is_some());
}

#[test]
fn a_missing_module_file_names_the_path() {
    let subject = Subject {
        filter: spec("vanished"),
        source: ModuleSource {
            name: "vanished".to_owned(),
            wasm: Some("/nonexistent/vanished.wasm".into()),
            native: Some("/nonexistent/libvanished.so".into()),
        },
    };
    let results = run::run(
        &[subject],
        &common::engines(),
        &common::tiny_run(),
        &mut |_| {},
    );
    for cell in &results.cells {
        let e = error_of(cell);
        assert_eq!(cell.error_kind.as_deref(), Some("unreadable"), "{e}");
        assert!(
            e.contains("'vanished'") && e.contains("/nonexistent/"),
            "{e}"
        );
    }
}

/// A Proxy-Wasm module whose every instance traps on its 50th request (divide by zero).
fn traps_every_50th_request() -> Vec<u8> {
    common::proxy_module(
        "",
        r#"(global $requests (mut i32) (i32.const 0))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $requests (i32.add (global.get $requests) (i32.const 1)))
    (drop (i32.div_u (i32.const 1) (i32.sub (global.get $requests) (i32.const 50))))
    (i32.const 0))"#,
    )
}

/// An ABI 0.1.0 module (the host runs 0.2.x only).
const ABI_0_1_0: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
)"#;

/// A module without the allocator every hostcall that returns data needs.
const NO_ALLOCATOR: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
)"#;

#[test]
fn more_hostile_modules_fail_their_cells_and_a_trapping_filter_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = vec![
        subject(
            dir.path(),
            "abi-0-1-0",
            &wat::parse_str(ABI_0_1_0).unwrap(),
            None,
        ),
        subject(
            dir.path(),
            "no-allocator",
            &wat::parse_str(NO_ALLOCATOR).unwrap(),
            None,
        ),
        subject(
            dir.path(),
            "traps-every-50th",
            &traps_every_50th_request(),
            None,
        ),
        Subject {
            filter: catalog::filter("noop").unwrap(),
            source: common::built("noop"),
        },
    ];
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| ["wasmtime-cranelift", "wasmi-eager", "native"].contains(&e.name.as_str()))
        .collect();
    let results = run::run(&subjects, &engines, &common::tiny_run(), &mut |_| {});
    let cells = &results.cells;
    for engine in ["wasmtime-cranelift", "wasmi-eager"] {
        let c = cell(cells, "abi-0-1-0", engine);
        assert_eq!(c.error_kind.as_deref(), Some("unsupported_abi"), "{engine}");
        assert!(error_of(c).contains("ABI 0.1.0"), "{}", error_of(c));

        let c = cell(cells, "no-allocator", engine);
        assert_eq!(c.error_kind.as_deref(), Some("missing_export"), "{engine}");
        assert!(
            error_of(c).contains("proxy_on_memory_allocate"),
            "{}",
            error_of(c)
        );

        // Each instance traps on its 50th request; measurement goes on with fresh instances
        // until the cell has trapped MAX_TRAPS times, and says so.
        let c = cell(cells, "traps-every-50th", engine);
        assert_eq!(c.conformance, Conformance::Pass, "{engine}: {:?}", c.error);
        assert_eq!(c.traps, filterbench_harness::measure::MAX_TRAPS, "{engine}");
        assert_eq!(c.error_kind.as_deref(), Some("trap"), "{engine}");
        let e = c.error.as_deref().unwrap();
        assert!(
            e.contains("20 trap(s)")
                && e.contains("given up")
                && e.contains("integer_divide_by_zero"),
            "{e}"
        );

        let noop = cell(cells, "noop", engine);
        assert!(noop.steady.is_some() && noop.traps == 0, "{engine}");
    }
}

/// A module whose `proxy_on_request_headers` never returns.
fn loops_forever() -> Vec<u8> {
    common::proxy_module(
        "",
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0))"#,
    )
}

#[test]
fn a_callback_that_never_returns_is_found_by_the_preflight_and_never_hangs_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = vec![
        subject(dir.path(), "loops", &loops_forever(), None),
        Subject {
            filter: catalog::filter("noop").unwrap(),
            source: common::built("noop"),
        },
    ];
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| {
            [
                "wasmtime-cranelift",
                "wamr-fast-interp",
                "wasmtime-cranelift+epoch",
                "native",
            ]
            .contains(&e.name.as_str())
        })
        .collect();
    let settings = run::RunSettings {
        preflight: Some(run::Preflight(std::rc::Rc::from(
            filterbench_engines::create("wasmi-eager+fuel").unwrap(),
        ))),
        ..common::tiny_run()
    };
    let started = std::time::Instant::now();
    let results = run::run(&subjects, &engines, &settings, &mut |_| {});
    assert!(started.elapsed().as_secs() < 120, "{:?}", started.elapsed());
    let cells = &results.cells;
    // Engines that cannot preempt guest code do not run it, and say why.
    for engine in ["wasmtime-cranelift", "wamr-fast-interp", "native"] {
        let c = cell(cells, "loops", engine);
        assert_eq!(c.error_kind.as_deref(), Some("deadline"), "{engine}");
        let e = error_of(c);
        assert!(
            e.contains("not run: on wasmi-eager+fuel") && e.contains("proxy_on_request_headers"),
            "{e}"
        );
    }
    // A metered engine runs it and stops it at its own deadline.
    let c = cell(cells, "loops", "wasmtime-cranelift+epoch");
    assert_eq!(c.error_kind.as_deref(), Some("deadline"));
    assert!(!error_of(c).contains("not run"), "{}", error_of(c));
    for engine in ["wasmtime-cranelift", "native"] {
        assert!(cell(cells, "noop", engine).steady.is_some(), "{engine}");
    }
}

#[test]
fn memory_hogs_and_wild_hostcalls_stay_in_their_own_cells() {
    let log = r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))"#;
    // Grows 1 MiB at a time until refused, then traps (as an allocator failure would).
    let hog = common::proxy_module(
        log,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
        (br $grow)))
    unreachable)"#,
    );
    // A 4 GiB log message, an overflowing pointer and a map claiming 858 million pairs: each
    // gets a status back; the filter then lets the request through.
    let wild = common::proxy_module(
        log,
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 16) (i32.const -1)))
    (drop (call $log (i32.const 2) (i32.const -16) (i32.const 32)))
    (drop (call $set_pairs (i32.const 0) (i32.const 16) (i32.const 10)))
    (i32.const 0))"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let mut hog_subject = subject(dir.path(), "memory-hog", &hog, None);
    hog_subject.filter.memory_limit_bytes = 16 << 20;
    let subjects = vec![
        hog_subject,
        subject(dir.path(), "wild-hostcalls", &wild, None),
        Subject {
            filter: catalog::filter("noop").unwrap(),
            source: common::built("noop"),
        },
    ];
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| {
            [
                "wasmtime-cranelift",
                "wasmer-cranelift",
                "wasmi-eager",
                "wamr-fast-interp",
                "native",
            ]
            .contains(&e.name.as_str())
        })
        .collect();
    let results = run::run(&subjects, &engines, &common::tiny_run(), &mut |_| {});
    let cells = &results.cells;
    for engine in [
        "wasmtime-cranelift",
        "wasmer-cranelift",
        "wasmi-eager",
        "wamr-fast-interp",
    ] {
        let hog = cell(cells, "memory-hog", engine);
        assert_eq!(hog.error_kind.as_deref(), Some("trap"), "{engine}");
        if engine.starts_with("wasmtime") || engine.starts_with("wasmi") {
            assert!(
                error_of(hog).contains("limit of 16 MiB"),
                "{}",
                error_of(hog)
            );
        }
        let wild = cell(cells, "wild-hostcalls", engine);
        assert_eq!(
            wild.conformance,
            Conformance::Pass,
            "{engine}: {:?}",
            wild.error
        );
        assert!(wild.steady.is_some(), "{engine}");
        assert!(cell(cells, "noop", engine).steady.is_some(), "{engine}");
    }
    assert!(cell(cells, "noop", "native").steady.is_some());
}

#[test]
fn with_the_fail_closed_policy_a_trap_while_measuring_stops_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = vec![subject(
        dir.path(),
        "traps-every-50th",
        &traps_every_50th_request(),
        None,
    )];
    let engines: Vec<_> = common::engines()
        .into_iter()
        .filter(|e| e.name == "wasmtime-cranelift")
        .collect();
    let settings = run::RunSettings {
        failure_policy: filterbench_harness::results::FailurePolicy::FailClosed,
        ..common::tiny_run()
    };
    let results = run::run(&subjects, &engines, &settings, &mut |_| {});
    assert_eq!(
        results.settings.failure_policy,
        filterbench_harness::results::FailurePolicy::FailClosed
    );
    let c = cell(&results.cells, "traps-every-50th", "wasmtime-cranelift");
    assert_eq!(c.traps, 1, "no fresh instance after the trap");
    let e = c.error.as_deref().unwrap();
    assert!(
        e.contains("failure policy fail-closed") && e.contains("integer_divide_by_zero"),
        "{e}"
    );
}
