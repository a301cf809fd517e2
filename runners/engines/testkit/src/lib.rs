//! The fast test tier for engine adapters: small WAT modules that check what an adapter's
//! [`filterbench_host::vm::WasmVm`] wires — the instantiate sequence written once in the host
//! (allocator discovery, `_initialize` before `_start`), export lookup with signature checks,
//! trap reports, callback arguments and results, linear memory size — on every configuration
//! of one engine, in seconds, without building the other engines or any filter.
//!
//! Each adapter crate runs them with [`vm_tests!`] in its own `tests/vm.rs`.

use filterbench_host::{FilterError, HeaderMap, HttpExchange, LoadedModule, PluginSpec, TrapKind};

/// Loads module bytes on one engine configuration (an adapter's `load_bytes`).
pub type Loader = Box<dyn Fn(&str, &[u8]) -> Result<Box<dyn LoadedModule>, FilterError>>;

/// One engine configuration to test: its name and how it loads bytes.
pub struct Configuration {
    /// Selectable name, for failure messages.
    pub name: &'static str,
    /// Loads module bytes.
    pub load: Loader,
}

/// `proxy_log(level, ptr, len)` as `$log`.
const LOG_IMPORT: &str =
    r#"(import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))"#;

/// A Proxy-Wasm module: `imports` (WAT), one exported page of memory with the strings
/// `initialize` (16), `start` (32), `args ok` (48) and `:method` (64), the ABI marker, a bump
/// allocator as `proxy_on_memory_allocate`, and the `fields` given.
pub fn module(imports: &str, fields: &str) -> Vec<u8> {
    module_allocating_with("proxy_on_memory_allocate", imports, fields)
}

/// [`module`] with the allocator exported as `allocator_name`.
fn module_allocating_with(allocator_name: &str, imports: &str, fields: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (data (i32.const 16) "initialize")
  (data (i32.const 32) "start")
  (data (i32.const 48) "args ok")
  (data (i32.const 64) ":method")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  {}
  {fields})"#,
        allocator(allocator_name)
    ))
    .expect("valid WAT")
}

/// A bump allocator exported as `name`.
fn allocator(name: &str) -> String {
    format!(
        r#"(func (export "{name}") (param $size i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))"#
    )
}

/// The log messages an instance holds.
pub fn logs(instance: &mut dyn filterbench_host::FilterInstance) -> Vec<String> {
    instance
        .state()
        .logs
        .records()
        .map(|r| r.message.clone())
        .collect()
}

/// A GET request with two headers and no body, answered with a 200 without body.
pub fn get_exchange() -> HttpExchange {
    HttpExchange {
        request_headers: HeaderMap::from_pairs(&[(":method", "GET"), (":path", "/")]),
        response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
        ..HttpExchange::default()
    }
}

fn instantiate(
    configuration: &Configuration,
    wasm: &[u8],
) -> Result<Box<dyn filterbench_host::FilterInstance>, FilterError> {
    let module = (configuration.load)("testkit", wasm)
        .unwrap_or_else(|e| panic!("{}: the module does not load: {e}", configuration.name));
    module.instantiate(PluginSpec::new("testkit", ""))
}

/// `_initialize` runs at instantiation and `_start` then does not; without `_initialize`,
/// `_start` runs.
pub fn start_functions(configuration: &Configuration) {
    let both = module(
        LOG_IMPORT,
        r#"(func (export "_initialize") (drop (call $log (i32.const 2) (i32.const 16) (i32.const 10))))
  (func (export "_start") (drop (call $log (i32.const 2) (i32.const 32) (i32.const 5))))"#,
    );
    let mut instance = instantiate(configuration, &both).unwrap();
    assert_eq!(
        logs(instance.as_mut()),
        ["initialize"],
        "{}",
        configuration.name
    );
    let start_only = module(
        LOG_IMPORT,
        r#"(func (export "_start") (drop (call $log (i32.const 2) (i32.const 32) (i32.const 5))))"#,
    );
    let mut instance = instantiate(configuration, &start_only).unwrap();
    assert_eq!(logs(instance.as_mut()), ["start"], "{}", configuration.name);
}

/// A module that exports only `malloc` gets host data through it: `proxy_get_header_map_value`
/// of `:method` lands in guest memory and is logged back.
pub fn malloc_is_the_fallback_allocator(configuration: &Configuration) {
    let wasm = module_allocating_with(
        "malloc",
        &format!(
            r#"{LOG_IMPORT}
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))"#
        ),
        r#"(func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (if (i32.eqz (call $get (i32.const 0) (i32.const 64) (i32.const 7) (i32.const 512) (i32.const 516)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 512)) (i32.load (i32.const 516))))))
    (i32.const 0))"#,
    );
    let mut instance = instantiate(configuration, &wasm).unwrap();
    instance.start().unwrap();
    instance.run_stream(&get_exchange()).unwrap();
    assert_eq!(logs(instance.as_mut()), ["GET"], "{}", configuration.name);
}

/// Callbacks get their arguments (context ids, counts, flags) and their results are read:
/// `proxy_on_request_headers` sees 2 headers and end of stream, and its `Pause` (never resumed)
/// leaves the stream paused there, as in Envoy (recorded, not an error; no response callbacks
/// follow); `proxy_on_vm_start` returning 0 rejects the plugin.
pub fn callback_arguments_and_results(configuration: &Configuration) {
    let wasm = module(
        LOG_IMPORT,
        r#"(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (if (i32.and (i32.eq (local.get $n) (i32.const 2)) (i32.eq (local.get $eos) (i32.const 1)))
      (then (drop (call $log (i32.const 2) (i32.const 48) (i32.const 7)))))
    (i32.const 1))"#,
    );
    let mut instance = instantiate(configuration, &wasm).unwrap();
    instance.start().unwrap();
    let result = instance.run_stream(&get_exchange());
    assert!(
        result.is_ok(),
        "{}: a stream paused for good is not an error, got {result:?}",
        configuration.name
    );
    let stream = &instance.state().stream;
    assert_eq!(
        stream.paused_in,
        Some("proxy_on_request_headers"),
        "{}",
        configuration.name
    );
    assert!(
        stream.response_headers.is_none(),
        "{}: a paused request never gets a response",
        configuration.name
    );
    assert_eq!(
        logs(instance.as_mut()),
        ["args ok"],
        "{}",
        configuration.name
    );

    let refuses = module(
        "",
        r#"(func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 0))"#,
    );
    let mut instance = instantiate(configuration, &refuses).unwrap();
    let result = instance.start();
    assert!(
        matches!(
            result,
            Err(FilterError::Rejected {
                callback: "proxy_on_vm_start",
                ..
            })
        ),
        "{}: proxy_on_vm_start returning 0 must reject the plugin, got {result:?}",
        configuration.name
    );
}

/// An export with another signature than the ABI's is a load error naming it.
pub fn wrong_signature_names_the_export(configuration: &Configuration) {
    let wasm = module(
        "",
        r#"(func (export "proxy_on_request_headers") (param i32) (result i32) (i32.const 0))"#,
    );
    match instantiate(configuration, &wasm) {
        Err(FilterError::Load { detail, .. }) => assert!(
            detail.contains("proxy_on_request_headers") && detail.contains("wrong signature"),
            "{}: {detail}",
            configuration.name
        ),
        Err(other) => panic!("{}: expected a load error, got {other}", configuration.name),
        Ok(_) => panic!("{}: a wrong signature was accepted", configuration.name),
    }
}

/// A trap in `_initialize` is reported as a trap of `_initialize` with its kind; a trap in a
/// callback names the callback and shows what the module logged just before (a panic message).
pub fn traps_name_their_callback(configuration: &Configuration) {
    let wasm = module("", r#"(func (export "_initialize") unreachable)"#);
    match instantiate(configuration, &wasm) {
        Err(FilterError::Trap { source, .. }) => {
            assert_eq!(source.callback, "_initialize", "{}", configuration.name);
            assert_eq!(source.kind, TrapKind::Unreachable, "{}", configuration.name);
        }
        Err(other) => panic!("{}: expected a trap, got {other}", configuration.name),
        Ok(_) => panic!("{}: the trap in _initialize was lost", configuration.name),
    }
    // Like a Rust filter's panic: the message is logged, then the callback traps.
    let wasm = module(
        LOG_IMPORT,
        r#"(data (i32.const 96) "panicked at src/lib.rs: boom")
  (func $divide_by_headers (param $n i32) (result i32)
    (i32.div_u (i32.const 1) (i32.sub (local.get $n) (local.get $n))))
  (func $proxy_on_response_headers (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 5) (i32.const 96) (i32.const 28)))
    (call $divide_by_headers (local.get 1)))"#,
    );
    let mut instance = instantiate(configuration, &wasm).unwrap();
    instance.start().unwrap();
    match instance.run_stream(&get_exchange()) {
        Err(FilterError::Trap { source, .. }) => {
            assert_eq!(
                source.callback, "proxy_on_response_headers",
                "{}",
                configuration.name
            );
            assert_eq!(
                source.kind,
                TrapKind::IntegerDivideByZero,
                "{}",
                configuration.name
            );
            assert!(
                source.message.ends_with(
                    "the module's last log lines: [Critical] panicked at src/lib.rs: boom"
                ),
                "{}: the panic message is not shown with the trap: {}",
                configuration.name,
                source.message
            );
            // Engines that give a wasm backtrace name the functions, innermost first.
            if ["wasmtime", "wasmer"]
                .iter()
                .any(|family| configuration.name.starts_with(family))
            {
                assert!(
                    source.message.contains(
                        "; wasm backtrace: divide_by_headers ← proxy_on_response_headers;"
                    ),
                    "{}: no backtrace names: {}",
                    configuration.name,
                    source.message
                );
            }
        }
        other => panic!("{}: expected a trap, got {other:?}", configuration.name),
    }
}

/// A module with no callbacks at all runs a whole stream (every callback takes the spec's
/// default), and its linear memory size is reported.
pub fn missing_callbacks_take_the_defaults(configuration: &Configuration) {
    let wasm = module("", "");
    let mut instance = instantiate(configuration, &wasm).unwrap();
    instance.start().unwrap();
    instance.run_stream(&get_exchange()).unwrap();
    assert_eq!(
        instance
            .state()
            .stream
            .request_headers
            .as_ref()
            .map(HeaderMap::len),
        Some(2),
        "{}",
        configuration.name
    );
    assert_eq!(
        instance.linear_memory_bytes(),
        Some(65536),
        "{}",
        configuration.name
    );
}

/// Expands to one `#[test]` per check of this crate, each run on every configuration of the
/// adapter crate `$adapter` (its `CONFIGURATIONS`, `create(name)` and `load_bytes`).
#[macro_export]
macro_rules! vm_tests {
    ($adapter:ident) => {
        fn configurations() -> Vec<$crate::Configuration> {
            $adapter::CONFIGURATIONS
                .iter()
                .map(|c| {
                    let engine = $adapter::create(c.name)
                        .expect("a configuration of this adapter")
                        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
                    $crate::Configuration {
                        name: c.name,
                        load: Box::new(move |name, bytes| engine.load_bytes(name, bytes)),
                    }
                })
                .collect()
        }

        $crate::vm_tests!(@each
            start_functions,
            malloc_is_the_fallback_allocator,
            callback_arguments_and_results,
            wrong_signature_names_the_export,
            traps_name_their_callback,
            missing_callbacks_take_the_defaults,
        );
    };
    (@each $( $check:ident, )*) => {
        $(
            #[test]
            fn $check() {
                let configurations = configurations();
                assert!(!configurations.is_empty(), "no configuration to test");
                for configuration in &configurations {
                    $crate::$check(configuration);
                }
            }
        )*
    };
}
