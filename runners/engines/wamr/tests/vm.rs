//! The fast tier on every wamr configuration: small WAT modules through this adapter's
//! low-level VM wiring (see the filterbench-engine-testkit crate).

use filterbench_engine_testkit::Configuration;

fn configurations() -> Vec<Configuration> {
    filterbench_engine_wamr::CONFIGURATIONS
        .iter()
        .map(|c| {
            let engine = filterbench_engine_wamr::WamrEngine::new(*c)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            Configuration {
                name: c.name,
                load: Box::new(move |name, bytes| engine.load_bytes(name, bytes)),
            }
        })
        .collect()
}

filterbench_engine_testkit::vm_tests!(configurations());
