//! Native adapter: the project's "null VM".
//!
//! The same filter source is built as a host shared library. That library leaves every
//! `proxy_*` hostcall undefined; this crate defines them as exported C symbols of the running
//! executable (the workspace links binaries with `--export-dynamic-symbol=proxy_*`, see
//! `.cargo/config.toml`), so `dlopen` binds the filter to the same host implementation the
//! wasm engines use and the filter crosses the same ABI (same calls, same copies), with 64-bit
//! pointers and no sandbox.
//!
//! Native code is trusted: a panic in the filter aborts the process and a runaway loop cannot
//! be preempted. Only run native builds of filters you built yourself.
//!
//! All native instances of one library share its process-global state (like filters in
//! Envoy's null VM); context ids are unique per process so instances never collide. An
//! instance must be used on the thread that created it (the SDK keeps per-thread state).

mod exports;

use filterbench_host::abi::{AbiVersion, Action};
use filterbench_host::{
    CallError, Callbacks, Engine, EngineInfo, FilterError, FilterInstance, HostState, LoadedModule,
    ModuleSource, PluginSpec,
};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use std::path::Path;
use std::sync::Arc;

/// `proxy_on_memory_allocate(size) -> ptr` of a native filter.
type AllocFn = unsafe extern "C" fn(usize) -> *mut u8;

macro_rules! native_arg {
    (u32) => {
        u32
    };
    (size) => {
        usize
    };
    (flag) => {
        bool
    };
}

macro_rules! native_ret {
    (none) => {
        ()
    };
    (flag) => {
        bool
    };
    (action) => {
        u32
    };
}

macro_rules! to_native {
    (u32, $v:expr) => {
        $v
    };
    (size, $v:expr) => {
        $v as usize
    };
    (flag, $v:expr) => {
        $v
    };
}

macro_rules! convert {
    (none, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v
    };
    (action, $v:expr) => {
        Action::from_raw($v)
    };
}

macro_rules! callback_table {
    ($( $method:ident = $export:literal ( $( $arg:ident : $kind:ident ),* ) -> $ret:ident ; )*) => {
        /// The callbacks the library exports, as C function pointers.
        #[derive(Clone, Copy)]
        struct CallbackFns {
            $( $method: Option<unsafe extern "C" fn($( native_arg!($kind) ),*) -> native_ret!($ret)>, )*
        }

        impl CallbackFns {
            fn resolve(lib: &Library) -> Self {
                Self {
                    $( $method: symbol(lib, $export), )*
                }
            }
        }

        impl Callbacks for NativeInstance {
            fn host(&mut self) -> &mut HostState {
                &mut self.host
            }

            fn module_name(&self) -> &str {
                &self.module.name
            }

            fn engine_name(&self) -> &str {
                ENGINE_NAME
            }

            $(
                fn $method(&mut self, $( $arg: filterbench_host::callback_arg_type!($kind) ),*) -> Result<filterbench_host::callback_result_type!($ret), CallError> {
                    let Some(func) = self.module.callbacks.$method else {
                        return Ok(filterbench_host::callback_default!($ret));
                    };
                    let _current = exports::Current::enter(&mut self.host, self.module.alloc);
                    // SAFETY: the symbol has this signature in every Proxy-Wasm SDK's native build;
                    // native filters are trusted code (see the crate docs).
                    let value = unsafe { func($( to_native!($kind, $arg) ),*) };
                    Ok(convert!($ret, value))
                }
            )*
        }
    };
}

filterbench_host::for_each_callback!(callback_table);

/// Name of the native engine in listings and results.
pub const ENGINE_NAME: &str = "native";

fn symbol<T: Copy>(lib: &Library, name: &str) -> Option<T> {
    // SAFETY: the caller names a symbol whose type is `T` by the Proxy-Wasm ABI.
    unsafe { lib.get::<T>(name.as_bytes()).ok().map(|s| *s) }
}

/// Loads native filter libraries.
#[derive(Default)]
pub struct NativeEngine;

impl NativeEngine {
    /// The native engine.
    pub fn new() -> Self {
        Self
    }

    /// Loads the library at `path` as module `name`.
    pub fn load_path(&self, name: &str, path: &Path) -> Result<Box<dyn LoadedModule>, FilterError> {
        let unsupported = |detail: String| FilterError::Unsupported {
            module: name.to_owned(),
            engine: ENGINE_NAME.to_owned(),
            detail,
        };
        exports::check_exported().map_err(unsupported)?;
        if !path.exists() {
            return Err(FilterError::Unreadable {
                module: name.to_owned(),
                path: path.display().to_string(),
                detail: "no such file".to_owned(),
            });
        }
        // SAFETY: loading runs the library's initializers; native filters are trusted code.
        let lib = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
            FilterError::Load {
                module: name.to_owned(),
                engine: ENGINE_NAME.to_owned(),
                detail: e.to_string(),
            }
        })?;
        let has = |sym: &str| symbol::<*const ()>(&lib, sym).is_some();
        match AbiVersion::detect(has) {
            None => {
                return Err(FilterError::NoAbiVersion {
                    module: name.to_owned(),
                });
            }
            Some(AbiVersion::V0_1_0) => {
                return Err(unsupported(
                    "Proxy-Wasm ABI 0.1.0 modules are not supported".to_owned(),
                ));
            }
            Some(_) => {}
        }
        let alloc: AllocFn =
            symbol(&lib, "proxy_on_memory_allocate").ok_or_else(|| FilterError::MissingExport {
                module: name.to_owned(),
                export: "proxy_on_memory_allocate".to_owned(),
            })?;
        let initialize: Option<unsafe extern "C" fn()> = symbol(&lib, "_initialize");
        let callbacks = CallbackFns::resolve(&lib);
        Ok(Box::new(NativeModule(Arc::new(ModuleInner {
            name: name.to_owned(),
            alloc,
            initialize,
            callbacks,
            _lib: lib,
        }))))
    }
}

impl Engine for NativeEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: ENGINE_NAME.to_owned(),
            family: "native".to_owned(),
            version: format!("rustc {}", env!("FILTERBENCH_RUSTC_VERSION")),
            compiler: "native".to_owned(),
            options: Vec::new(),
            description:
                "the same filter source compiled to a host .so, loaded with dlopen (no sandbox)"
                    .to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        match &source.native {
            Some(path) => self.load_path(&source.name, path),
            None => Err(FilterError::Unsupported {
                module: source.name.clone(),
                engine: ENGINE_NAME.to_owned(),
                detail:
                    "no native library was given for it (the bench filters build one; for your own module pass --native PATH.so built from the same source)"
                        .to_owned(),
            }),
        }
    }
}

struct ModuleInner {
    name: String,
    alloc: AllocFn,
    initialize: Option<unsafe extern "C" fn()>,
    callbacks: CallbackFns,
    // Declared last: the library must outlive the function pointers above.
    _lib: Library,
}

struct NativeModule(Arc<ModuleInner>);

impl LoadedModule for NativeModule {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let mut instance = NativeInstance {
            module: Arc::clone(&self.0),
            host: Box::new(HostState::new(plugin)),
        };
        if let Some(initialize) = self.0.initialize {
            // `_initialize` registers the filter's root-context factory in the SDK's per-thread
            // state, so it runs for every instance (it is idempotent for SDK filters).
            let _current = exports::Current::enter(&mut instance.host, self.0.alloc);
            // SAFETY: `_initialize` takes no arguments in every Proxy-Wasm SDK.
            unsafe { initialize() };
        }
        Ok(Box::new(instance))
    }
}

/// One native instance: the shared library plus this instance's host state.
struct NativeInstance {
    module: Arc<ModuleInner>,
    /// Boxed so hostcalls can reach it through a stable pointer during callbacks.
    host: Box<HostState>,
}
