//! The fast tier on every wasmi configuration: small WAT modules through this adapter's
//! low-level VM wiring (see the filterbench-engine-testkit crate).

use filterbench_engine_testkit::Configuration;

fn configurations() -> Vec<Configuration> {
    filterbench_engine_wasmi::CONFIGURATIONS
        .iter()
        .map(|c| {
            let engine = filterbench_engine_wasmi::WasmiEngine::new(*c);
            Configuration {
                name: c.name,
                load: Box::new(move |name, bytes| engine.load_bytes(name, bytes)),
            }
        })
        .collect()
}

filterbench_engine_testkit::vm_tests!(configurations());
