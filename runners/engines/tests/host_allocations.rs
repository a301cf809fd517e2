//! The host's per-stream work allocates nothing in steady state: the host floor (the lifecycle
//! with no guest) and the noop filter on native code and on wasmtime run many lifecycles after a
//! warm-up on get-small, get-large-headers and post-64k, and a counting global allocator sees
//! no allocation from this thread. (A native filter's own allocations go to its library's
//! allocator and are not counted: this test is about the host.)

mod common;

use filterbench_harness::{catalog, run};
use filterbench_host::{FilterInstance, FloorInstance};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations (and reallocations) made by the thread that switched counting on.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const WORKLOADS: [&str; 3] = ["get-small", "get-large-headers", "post-64k"];

/// Allocations per lifecycle over `lifecycles` streams after 200 warm-up streams, timed the way
/// the harness times them (forwarded bodies counted, not kept).
fn allocations_per_lifecycle(
    instance: &mut dyn FilterInstance,
    workload: &str,
    lifecycles: u64,
) -> f64 {
    let exchange = catalog::workload(workload)
        .expect("catalog workload")
        .exchange;
    instance.state().stream.discard_forwarded = true;
    for _ in 0..200 {
        instance.run_stream(&exchange).expect("warm-up stream");
    }
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    for _ in 0..lifecycles {
        instance.run_stream(&exchange).expect("stream");
    }
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) as f64 / lifecycles as f64
}

#[test]
fn the_host_floor_allocates_nothing_per_lifecycle() {
    let noop = catalog::filter("noop").expect("noop is in the catalog");
    for workload in WORKLOADS {
        let mut floor = FloorInstance::new(run::plugin_for(&noop));
        floor.start().expect("the floor starts");
        let per = allocations_per_lifecycle(&mut floor, workload, 2_000);
        assert_eq!(
            per, 0.0,
            "host floor on {workload}: {per} allocations per lifecycle"
        );
    }
}

#[test]
fn noop_on_native_and_wasmtime_makes_the_host_allocate_nothing() {
    let noop = catalog::filter("noop").expect("noop is in the catalog");
    let source = common::built_filter(&noop);
    for engine in ["native", "wasmtime-cranelift"] {
        let engine = filterbench_engines::create(engine).expect("engine compiled in");
        let module = engine.load(&source).expect("noop loads");
        for workload in WORKLOADS {
            let mut instance = run::start_instance(module.as_ref(), &noop).expect("noop starts");
            let per = allocations_per_lifecycle(instance.as_mut(), workload, 2_000);
            assert_eq!(
                per,
                0.0,
                "noop on {} / {workload}: {per} allocations per lifecycle",
                engine.info().name
            );
        }
    }
}
