//! The fast tier on every wasmtime configuration: small WAT modules through this adapter's
//! low-level VM wiring (see the filterbench-engine-testkit crate).

filterbench_engine_testkit::vm_tests!(filterbench_engine_wasmtime);
