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

use filterbench_host::abi::AbiVersion;
use filterbench_host::vm::{self, Kind, Signature, WasmVm};
use filterbench_host::{
    CallError, Engine, EngineInfo, FilterError, FilterInstance, HostState, LoadedModule,
    ModuleSource, PluginSpec, TrapKind,
};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use std::path::Path;
use std::sync::Arc;

/// `proxy_on_memory_allocate(size) -> ptr` of a native filter.
type AllocFn = unsafe extern "C" fn(usize) -> *mut u8;

/// Declares [`NativeFn`] and its typing from a table: variant, native signature of the
/// exports the host calls (see [`filterbench_host::vm`]), and the function pointer type.
macro_rules! native_fns {
    ($( $(#[$doc:meta])* $variant:ident ([$( $param:ident ),*], $result:pat) = $ty:ty; )*) => {
        /// A callback or start function of a native library, one variant per native signature.
        #[derive(Clone, Copy)]
        enum NativeFn {
            $( $(#[$doc])* $variant($ty), )*
        }

        impl NativeFn {
            /// Types the symbol at `address` by `signature`; `None` for a signature no
            /// Proxy-Wasm export has.
            ///
            /// # Safety
            /// `address` must be a function with `signature` in the Proxy-Wasm ABI's native form.
            unsafe fn typed(address: usize, signature: Signature) -> Option<Self> {
                let ptr = address as *const ();
                match (signature.params, signature.result) {
                    $(
                        ([$( Kind::$param ),*], $result) => {
                            // SAFETY: per the contract, the function has this signature.
                            Some(Self::$variant(unsafe { std::mem::transmute::<*const (), $ty>(ptr) }))
                        }
                    )*
                    _ => None,
                }
            }
        }
    };
}

native_fns! {
    /// `_initialize`, `_start`.
    Start([], None) = unsafe extern "C" fn();
    /// `proxy_on_memory_allocate`.
    Allocator([Size], Some(Kind::Size)) = AllocFn;
    /// `proxy_on_tick`, `proxy_on_log`, `proxy_on_delete`.
    Id([U32], None) = unsafe extern "C" fn(u32);
    /// `proxy_on_new_connection`.
    IdToAction([U32], Some(Kind::U32)) = unsafe extern "C" fn(u32) -> u32;
    /// `proxy_on_done`.
    IdToFlag([U32], Some(Kind::Flag)) = unsafe extern "C" fn(u32) -> bool;
    /// `proxy_on_context_create`, `proxy_on_queue_ready`, the connection close callbacks.
    TwoIds([U32, U32], None) = unsafe extern "C" fn(u32, u32);
    /// `proxy_on_vm_start`, `proxy_on_configure`.
    IdSizeToFlag([U32, Size], Some(Kind::Flag)) = unsafe extern "C" fn(u32, usize) -> bool;
    /// `proxy_on_request_trailers`, `proxy_on_response_trailers`.
    IdSizeToAction([U32, Size], Some(Kind::U32)) = unsafe extern "C" fn(u32, usize) -> u32;
    /// Headers and body callbacks.
    IdSizeFlagToAction([U32, Size, Flag], Some(Kind::U32)) =
        unsafe extern "C" fn(u32, usize, bool) -> u32;
    /// `proxy_on_grpc_receive_initial_metadata`, `proxy_on_grpc_receive`,
    /// `proxy_on_grpc_receive_trailing_metadata`.
    GrpcReceive([U32, U32, Size], None) = unsafe extern "C" fn(u32, u32, usize);
    /// `proxy_on_grpc_close`.
    GrpcClose([U32, U32, U32], None) = unsafe extern "C" fn(u32, u32, u32);
    /// `proxy_on_http_call_response`.
    CallResponse([U32, U32, Size, Size, Size], None) =
        unsafe extern "C" fn(u32, u32, usize, usize, usize);
}

impl NativeFn {
    /// Calls the function with `args` converted to its native types; `None` when their number
    /// does not match.
    ///
    /// # Safety
    /// The library the function came from is loaded, and a [`exports::Current`] is entered.
    #[inline(always)]
    unsafe fn call(self, args: &[u32]) -> Option<u32> {
        let size = |v: u32| v as usize;
        // SAFETY: per the contract; native filters are trusted code (see the crate docs).
        unsafe {
            Some(match (self, args) {
                (Self::Start(f), []) => {
                    f();
                    0
                }
                (Self::Allocator(f), &[n]) => f(size(n)) as usize as u32,
                (Self::Id(f), &[id]) => {
                    f(id);
                    0
                }
                (Self::IdToFlag(f), &[id]) => f(id).into(),
                (Self::IdToAction(f), &[id]) => f(id),
                (Self::TwoIds(f), &[a, b]) => {
                    f(a, b);
                    0
                }
                (Self::IdSizeToFlag(f), &[id, n]) => f(id, size(n)).into(),
                (Self::IdSizeToAction(f), &[id, n]) => f(id, size(n)),
                (Self::IdSizeFlagToAction(f), &[id, n, eos]) => f(id, size(n), eos != 0),
                (Self::GrpcReceive(f), &[id, token, n]) => {
                    f(id, token, size(n));
                    0
                }
                (Self::GrpcClose(f), &[id, token, status]) => {
                    f(id, token, status);
                    0
                }
                (Self::CallResponse(f), &[id, token, h, b, t]) => {
                    f(id, token, size(h), size(b), size(t));
                    0
                }
                _ => return None,
            })
        }
    }
}

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
        let exports = vm::LOOKED_UP_EXPORTS
            .iter()
            .map(|&export| {
                (
                    export,
                    symbol::<*const ()>(&lib, export).map(|p| p as usize),
                )
            })
            .collect();
        Ok(Box::new(NativeModule(Arc::new(ModuleInner {
            name: name.to_owned(),
            alloc,
            exports,
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
    /// The address of every export the host looks up ([`vm::LOOKED_UP_EXPORTS`]), resolved
    /// once at load so instances do not search the symbol table.
    exports: Vec<(&'static str, Option<usize>)>,
    // Declared last: the library must outlive the function pointers above.
    _lib: Library,
}

struct NativeModule(Arc<ModuleInner>);

impl LoadedModule for NativeModule {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        // `_initialize` (run by `vm::start`) registers the filter's root-context factory in the
        // SDK's per-thread state, so it runs for every instance (it is idempotent for SDK
        // filters).
        vm::start(NativeInstance {
            module: Arc::clone(&self.0),
            host: Box::new(HostState::new(plugin)),
            alloc: self.0.alloc,
        })
    }
}

/// One native instance: the shared library plus this instance's host state.
struct NativeInstance {
    module: Arc<ModuleInner>,
    /// Boxed so hostcalls can reach it through a stable pointer during callbacks.
    host: Box<HostState>,
    alloc: AllocFn,
}

impl WasmVm for NativeInstance {
    type Func = NativeFn;

    fn module_name(&self) -> &str {
        &self.module.name
    }

    fn engine_name(&self) -> &str {
        ENGINE_NAME
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.host
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        None
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<NativeFn>, String> {
        let address = match self.module.exports.iter().find(|(n, _)| *n == name) {
            Some((_, address)) => *address,
            None => symbol::<*const ()>(&self.module._lib, name).map(|p| p as usize),
        };
        let Some(address) = address else {
            return Ok(None);
        };
        // SAFETY: the Proxy-Wasm ABI gives the export this signature in native builds.
        unsafe { NativeFn::typed(address, signature) }
            .map(Some)
            .ok_or_else(|| format!("no native form of {signature:?}"))
    }

    #[inline(always)]
    fn call<const N: usize>(
        &mut self,
        func: &NativeFn,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError> {
        let _current = exports::Current::enter(&mut self.host, self.alloc);
        // SAFETY: the library is held by `self.module`; the current instance is entered.
        unsafe { func.call(&args) }.ok_or_else(|| CallError {
            callback,
            kind: TrapKind::Host,
            message: "called with another number of arguments than its signature has".to_owned(),
        })
    }

    fn use_allocator(&mut self, allocator: NativeFn) {
        if let NativeFn::Allocator(alloc) = allocator {
            self.alloc = alloc;
        }
    }
}
