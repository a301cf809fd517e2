//! WAMR's LLVM modes (feature `llvm`): the AOT image is a real compiled artifact that loads on
//! its own, a foreign artifact is refused by name, the JIT is not reloaded per block, and
//! compiled code calls the host's hostcalls (typed natives) and reads what they wrote into its
//! memory through its allocator.
#![cfg(feature = "llvm")]

use filterbench_engine_testkit as testkit;
use filterbench_engine_wamr::create;
use filterbench_host::{Engine, FilterError, ModuleSource, PluginSpec};

/// A module that logs "args ok" from the request headers callback and reads `:method` back
/// into its memory (a hostcall that writes into the guest through its allocator).
fn module() -> Vec<u8> {
    testkit::module(
        r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))"#,
        r#"(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $get (i32.const 0) (i32.const 64) (i32.const 7) (i32.const 200) (i32.const 204)))
    (if (i32.eq (i32.load (i32.const 204)) (i32.const 3))
      (then (drop (call $log (i32.const 2) (i32.const 48) (i32.const 7)))))
    (i32.const 0))"#,
    )
}

fn source(dir: &tempfile::TempDir, wasm: &[u8]) -> ModuleSource {
    let path = dir.path().join("probe.wasm");
    std::fs::write(&path, wasm).unwrap();
    ModuleSource {
        name: "probe".to_owned(),
        wasm: Some(path),
        native: None,
    }
}

fn run(module: &dyn filterbench_host::LoadedModule) -> Vec<String> {
    let mut instance = module.instantiate(PluginSpec::new("probe", "")).unwrap();
    instance.start().unwrap();
    instance.run_stream(&testkit::get_exchange()).unwrap();
    testkit::logs(instance.as_mut())
}

#[test]
fn aot_artifacts_load_on_their_own_and_foreign_ones_are_refused() {
    let engine = create("wamr-aot").unwrap().unwrap();
    assert!(
        engine.info().compiler.starts_with("llvm-aot (LLVM 22"),
        "{:?}",
        engine.info()
    );
    let dir = tempfile::tempdir().unwrap();
    let source = source(&dir, &module());
    let compiled = engine.load(&source).unwrap();
    assert_eq!(run(compiled.as_ref()), ["args ok"]);

    let artifact = compiled.serialize().unwrap();
    // WAMR's AOT files start with "\0aot".
    assert_eq!(&artifact[32..36], b"\0aot", "an AOT image after the header");
    let cached = engine.load_serialized(&source, &artifact).unwrap();
    assert_eq!(run(cached.as_ref()), ["args ok"]);

    let wasm = std::fs::read(dir.path().join("probe.wasm")).unwrap();
    match engine.load_serialized(&source, &wasm) {
        Err(FilterError::Load { engine, detail, .. }) => {
            assert_eq!(engine, "wamr-aot");
            assert!(
                detail.contains("not an artifact serialized by wamr-aot"),
                "{detail}"
            );
        }
        other => panic!("Wasm bytes as an artifact: {:?}", other.map(|_| ())),
    }
}

#[test]
fn the_jit_compiles_at_load_has_no_artifact_and_is_not_reloaded_per_block() {
    let engine = create("wamr-jit").unwrap().unwrap();
    assert!(!engine.reload_per_block());
    assert!(create("wamr-aot").unwrap().unwrap().reload_per_block());
    let dir = tempfile::tempdir().unwrap();
    let module = engine.load(&source(&dir, &module())).unwrap();
    assert!(module.serialize().is_err());
    assert_eq!(run(module.as_ref()), ["args ok"]);
}
