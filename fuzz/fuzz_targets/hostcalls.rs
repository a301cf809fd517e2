//! Fuzzes the hostcall layer through a real wasmi instance: the input becomes the request body
//! of a module that turns it into hostcalls (44-byte records: op, then 10 arguments; an argument
//! with its top bit set points into the input itself), so arbitrary pointers, lengths and
//! serialized maps reach every `proxy_*` hostcall. Any host panic or memory error is a finding.
#![no_main]

use filterbench_host::{HeaderMap, HttpExchange, LoadedModule, ModuleSource, PluginSpec};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const INTERPRETER: &str = include_str!("../../runners/engines/tests/data/hostcall-interpreter.wat");

fn module_path() -> &'static std::path::PathBuf {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("filterbench-fuzz-{}.wasm", std::process::id()));
        std::fs::write(&path, wat::parse_str(INTERPRETER).expect("valid WAT")).expect("temp dir");
        path
    })
}

thread_local! {
    static MODULE: Box<dyn LoadedModule> = {
        let engine = filterbench_engines::create("wasmi-eager").expect("wasmi is built in");
        engine
            .load(&ModuleSource {
                name: "interpreter".to_owned(),
                wasm: Some(module_path().clone()),
                native: None,
            })
            .expect("the interpreter module loads")
    };
}

fuzz_target!(|data: &[u8]| {
    let exchange = HttpExchange {
        request_headers: HeaderMap::from_pairs(&[
            (":method", "POST"),
            (":path", "/fuzz"),
            (":authority", "fuzz.example"),
            ("content-type", "application/octet-stream"),
        ]),
        request_body: vec![data.to_vec()],
        response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
        ..HttpExchange::default()
    };
    MODULE.with(|module| {
        let mut instance = module
            .instantiate(PluginSpec::new("interpreter", ""))
            .expect("instantiates");
        instance.start().expect("starts");
        // Errors (statuses, local replies, traps) are fine; panics are not.
        let _ = instance.run_stream(&exchange);
    });
});
