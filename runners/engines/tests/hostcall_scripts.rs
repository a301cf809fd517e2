//! Hostile hostcall sequences against real instances: a module that turns its request body into
//! arbitrary hostcalls (tests/data/hostcall-interpreter.wat, also the fuzz target's module) runs
//! thousands of seeded random scripts — wild pointers and lengths, pointers into its own bytes,
//! garbage serialized maps — on every WebAssembly engine. The host must answer each with a status
//! (or a clean error), never panic, and stay usable.

use filterbench_harness::catalog;
use filterbench_host::{HttpExchange, ModuleSource, PluginSpec};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const INTERPRETER: &str = include_str!("data/hostcall-interpreter.wat");

/// A script of `records` hostcalls followed by `tail` random bytes.
fn script(rng: &mut StdRng, records: usize, tail: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(records * 44 + tail);
    for _ in 0..records {
        out.extend_from_slice(&rng.random::<u32>().to_le_bytes());
        for _ in 0..10 {
            let arg: u32 = match rng.random_range(0..4) {
                0 => 0x8000_0000 | rng.random_range(0..(records * 44 + tail) as u32 + 64),
                1 => rng.random_range(0..64),
                2 => rng.random_range(0..140_000),
                _ => rng.random(),
            };
            out.extend_from_slice(&arg.to_le_bytes());
        }
    }
    out.extend((0..tail).map(|_| rng.random::<u8>()));
    out
}

fn exchange_with_body(body: Vec<u8>) -> HttpExchange {
    let mut exchange = catalog::workload("post-1k").unwrap().exchange;
    exchange.request_body = vec![body];
    exchange
}

#[test]
fn random_hostcall_scripts_never_panic_the_host_on_any_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interpreter.wasm");
    std::fs::write(&path, wat::parse_str(INTERPRETER).unwrap()).unwrap();
    let source = ModuleSource {
        name: "interpreter".to_owned(),
        wasm: Some(path),
        native: None,
    };
    let engines: Vec<&str> = filterbench_engines::available()
        .into_iter()
        .filter(|e| !e.is_native)
        .map(|e| e.name)
        .filter(|n| {
            [
                "wasmtime-cranelift",
                "wasmer-singlepass",
                "wasmi-eager",
                "wamr-fast-interp",
            ]
            .contains(n)
        })
        .collect();
    assert_eq!(engines.len(), 4, "{engines:?}");
    let plain = catalog::workload("get-small").unwrap().exchange;
    for name in engines {
        let engine = filterbench_engines::create(name).unwrap();
        let module = engine.load(&source).unwrap();
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let (mut ok, mut errors) = (0, 0);
        for round in 0..300 {
            let body = script(&mut rng, 1 + round % 24, round % 97);
            let mut instance = module
                .instantiate(PluginSpec::new("interpreter", ""))
                .unwrap();
            instance.start().unwrap();
            match instance.run_stream(&exchange_with_body(body)) {
                Ok(()) => ok += 1,
                Err(_) => errors += 1,
            }
            // Whatever the script did, the host answers a plain request on a fresh instance.
            let mut fresh = module
                .instantiate(PluginSpec::new("interpreter", ""))
                .unwrap();
            fresh.start().unwrap();
            fresh
                .run_stream(&plain)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(ok + errors, 300);
        assert!(ok > 0, "{name}: every script ended in an error");
    }
}
