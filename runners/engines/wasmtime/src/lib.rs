//! wasmtime adapter: compiles Proxy-Wasm modules with wasmtime and wires every hostcall of the
//! filterbench host into a wasmtime [`Linker`] by expanding the host's ABI tables.

use filterbench_host::abi::{self, AbiVersion, Action, PROXY_MODULE, WASI_MODULE};
use filterbench_host::hostcalls::{self, Guest, HostTrap};
use filterbench_host::memory::GuestMemory;
use filterbench_host::{
    CallError, Callbacks, Engine, EngineInfo, FilterError, FilterInstance, HostState, LoadedModule,
    ModuleSource, PluginSpec,
};
use wasmtime::{Caller, Config, InstancePre, Linker, Memory, Module, Store, Strategy, TypedFunc};

/// Version of the wasmtime crate this adapter is built with (checked against Cargo.lock in tests).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Per-store data: the host state plus the handles hostcalls need on every call.
struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunc<i32, i32>>,
}

/// A hostcall's view of the calling instance.
struct CallerGuest<'a, 'b>(&'a mut Caller<'b, StoreData>);

impl Guest for CallerGuest<'_, '_> {
    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState) {
        match self.0.data().memory {
            Some(memory) => {
                let (bytes, data) = memory.data_and_store_mut(&mut *self.0);
                (GuestMemory::wasm32(bytes), &mut data.host)
            }
            None => (GuestMemory::wasm32(&mut []), &mut self.0.data_mut().host),
        }
    }

    fn allocate(&mut self, size: u64) -> Result<u64, HostTrap> {
        let Some(alloc) = self.0.data().alloc.clone() else {
            return Ok(0);
        };
        let Ok(size) = u32::try_from(size) else {
            return Ok(0);
        };
        alloc
            .call(&mut *self.0, size as i32)
            .map(|addr| addr as u32 as u64)
            .map_err(|e| {
                HostTrap(format!(
                    "proxy_on_memory_allocate trapped: {}",
                    describe(&e)
                ))
            })
    }
}

macro_rules! wasm_ty {
    (u32) => {
        i32
    };
    (ptr) => {
        i32
    };
    (size) => {
        i32
    };
    (out) => {
        i32
    };
    (i64) => {
        i64
    };
    (i32) => {
        i32
    };
    (flag) => {
        i32
    };
}

macro_rules! from_wasm {
    (u32, $v:expr) => {
        $v as u32
    };
    (ptr, $v:expr) => {
        $v as u32 as u64
    };
    (size, $v:expr) => {
        $v as u32 as u64
    };
    (out, $v:expr) => {
        $v as u32 as u64
    };
    (i64, $v:expr) => {
        $v
    };
    (i32, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v != 0
    };
}

macro_rules! link_table {
    ($linker:expr, $module:expr, $( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        $(
            $linker.func_wrap(
                $module,
                stringify!($name),
                |mut caller: Caller<'_, StoreData>, $( $arg: wasm_ty!($kind) ),*| -> wasmtime::Result<i32> {
                    let mut guest = CallerGuest(&mut caller);
                    hostcalls::$name(&mut guest, $( from_wasm!($kind, $arg) ),*)
                        .map(|status| status as i32)
                        .map_err(|trap| wasmtime::Error::msg(trap.0))
                },
            )?;
        )*
    };
}

macro_rules! link_proxy_table {
    ($($entries:tt)*) => {
        fn link_proxy(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
            link_table!(linker, PROXY_MODULE, $($entries)*);
            Ok(())
        }
    };
}

macro_rules! link_wasi_table {
    ($($entries:tt)*) => {
        fn link_wasi(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
            link_table!(linker, WASI_MODULE, $($entries)*);
            linker.func_wrap(WASI_MODULE, "proc_exit", |code: i32| -> wasmtime::Result<()> {
                Err(wasmtime::Error::msg(hostcalls::proc_exit(code as u32).0))
            })?;
            Ok(())
        }
    };
}

filterbench_host::for_each_proxy_hostcall!(link_proxy_table);
filterbench_host::for_each_wasi_hostcall!(link_wasi_table);

/// A trap or error as one line: the trap reason first, then context.
fn describe(error: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        parts.push(format!("wasm trap: {trap}"));
    }
    for cause in error.chain() {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or("").trim().to_owned();
        if !first.is_empty() && !parts.iter().any(|p| p.contains(&first)) {
            parts.push(first);
        }
    }
    parts.join(": ")
}

macro_rules! cb_param {
    (u32) => {
        i32
    };
    (size) => {
        i32
    };
    (flag) => {
        i32
    };
}

macro_rules! cb_result {
    (none) => {
        ()
    };
    (flag) => {
        i32
    };
    (action) => {
        i32
    };
}

macro_rules! cb_to_wasm {
    (u32, $v:expr) => {
        $v as i32
    };
    (size, $v:expr) => {
        $v as i32
    };
    (flag, $v:expr) => {
        $v as i32
    };
}

macro_rules! cb_convert {
    (none, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v != 0
    };
    (action, $v:expr) => {
        Action::from_raw($v as u32)
    };
}

macro_rules! callback_table {
    ($( $method:ident = $export:literal ( $( $arg:ident : $kind:ident ),* ) -> $ret:ident ; )*) => {
        /// Typed handles of the callbacks the module exports.
        struct CallbackFuncs {
            $( $method: Option<TypedFunc<( $( cb_param!($kind), )* ), cb_result!($ret)>>, )*
        }

        impl CallbackFuncs {
            fn resolve(instance: &wasmtime::Instance, store: &mut Store<StoreData>, module: &str) -> Result<Self, FilterError> {
                Ok(Self {
                    $( $method: typed_export(instance, store, module, $export)?, )*
                })
            }
        }

        impl Callbacks for WasmtimeInstance {
            fn host(&mut self) -> &mut HostState {
                &mut self.store.data_mut().host
            }

            fn module_name(&self) -> &str {
                &self.module_name
            }

            fn engine_name(&self) -> &str {
                &self.engine_name
            }

            $(
                fn $method(&mut self, $( $arg: filterbench_host::callback_arg_type!($kind) ),*) -> Result<filterbench_host::callback_result_type!($ret), CallError> {
                    let Some(func) = &self.funcs.$method else {
                        return Ok(filterbench_host::callback_default!($ret));
                    };
                    match func.call(&mut self.store, ( $( cb_to_wasm!($kind, $arg), )* )) {
                        Ok(value) => Ok(cb_convert!($ret, value)),
                        Err(error) => Err(CallError { callback: $export, message: describe(&error) }),
                    }
                }
            )*
        }
    };
}

filterbench_host::for_each_callback!(callback_table);

/// Looks up an optional typed export; present with the wrong signature is an error.
fn typed_export<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    instance: &wasmtime::Instance,
    store: &mut Store<StoreData>,
    module: &str,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, FilterError> {
    let Some(func) = instance.get_func(&mut *store, name) else {
        return Ok(None);
    };
    func.typed::<P, R>(&*store)
        .map(Some)
        .map_err(|e| FilterError::Load {
            module: module.to_owned(),
            engine: "wasmtime".to_owned(),
            detail: format!("export {name} has the wrong signature: {}", describe(&e)),
        })
}

/// Which wasmtime compiler a configuration uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// The optimizing Cranelift compiler (wasmtime's default).
    Cranelift,
}

/// A wasmtime configuration with the host linked in.
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
    linker: Linker<StoreData>,
    name: String,
}

impl WasmtimeEngine {
    /// Creates an engine using `compiler`.
    pub fn new(compiler: Compiler) -> Result<Self, String> {
        let mut config = Config::new();
        match compiler {
            Compiler::Cranelift => {
                config.strategy(Strategy::Cranelift);
                config.cranelift_opt_level(wasmtime::OptLevel::Speed);
            }
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| describe(&e))?;
        let mut linker = Linker::new(&engine);
        link_proxy(&mut linker).map_err(|e| describe(&e))?;
        link_wasi(&mut linker).map_err(|e| describe(&e))?;
        Ok(Self {
            engine,
            linker,
            name: "wasmtime-cranelift".to_owned(),
        })
    }

    fn load_error(&self, module: &str, error: &wasmtime::Error) -> FilterError {
        FilterError::Load {
            module: module.to_owned(),
            engine: self.name.clone(),
            detail: describe(error),
        }
    }
}

impl Engine for WasmtimeEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: self.name.clone(),
            family: "wasmtime".to_owned(),
            version: WASMTIME_VERSION.to_owned(),
            description: "wasmtime with the Cranelift optimizing compiler (default settings)"
                .to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        let name = &source.name;
        let Some(path) = &source.wasm else {
            return Err(FilterError::Unsupported {
                module: name.clone(),
                engine: self.name.clone(),
                detail: "no .wasm artifact was built for it".to_owned(),
            });
        };
        let bytes = std::fs::read(path).map_err(|e| FilterError::Unreadable {
            module: name.clone(),
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        self.load_bytes(name, &bytes)
    }
}

impl WasmtimeEngine {
    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(FilterError::NotWasm {
                module: name.to_owned(),
                detail: "the file does not start with the \\0asm magic bytes".to_owned(),
            });
        }
        Module::validate(&self.engine, bytes).map_err(|e| FilterError::NotWasm {
            module: name.to_owned(),
            detail: describe(&e),
        })?;
        let module = Module::new(&self.engine, bytes).map_err(|e| self.load_error(name, &e))?;
        let exports: Vec<&str> = module
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name())
            .collect();
        match AbiVersion::detect(|marker| exports.contains(&marker)) {
            None => {
                return Err(FilterError::NoAbiVersion {
                    module: name.to_owned(),
                });
            }
            Some(AbiVersion::V0_1_0) => {
                return Err(FilterError::Unsupported {
                    module: name.to_owned(),
                    engine: self.name.clone(),
                    detail: "Proxy-Wasm ABI 0.1.0 modules are not supported; rebuild with an SDK for ABI 0.2.x".to_owned(),
                });
            }
            Some(_) => {}
        }
        if !exports
            .iter()
            .any(|e| *e == "proxy_on_memory_allocate" || *e == "malloc")
        {
            return Err(FilterError::MissingExport {
                module: name.to_owned(),
                export: "proxy_on_memory_allocate".to_owned(),
            });
        }
        if module
            .exports()
            .all(|e| e.name() != "memory" || e.ty().memory().is_none())
        {
            return Err(FilterError::MissingExport {
                module: name.to_owned(),
                export: "memory".to_owned(),
            });
        }
        if let Some(import) = module
            .imports()
            .find(|i| !abi::host_provides(i.module(), i.name()))
        {
            return Err(FilterError::MissingImport {
                module: name.to_owned(),
                import: format!("{}.{}", import.module(), import.name()),
            });
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| self.load_error(name, &e))?;
        Ok(Box::new(WasmtimeModule {
            engine: self.engine.clone(),
            pre,
            module_name: name.to_owned(),
            engine_name: self.name.clone(),
        }))
    }
}

/// A compiled and linked module.
struct WasmtimeModule {
    engine: wasmtime::Engine,
    pre: InstancePre<StoreData>,
    module_name: String,
    engine_name: String,
}

impl LoadedModule for WasmtimeModule {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let trap = |callback: &'static str, e: &wasmtime::Error| FilterError::Trap {
            module: self.module_name.clone(),
            engine: self.engine_name.clone(),
            source: CallError {
                callback,
                message: describe(e),
            },
        };
        let data = StoreData {
            host: HostState::new(plugin),
            memory: None,
            alloc: None,
        };
        let mut store = Store::new(&self.engine, data);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| trap("instantiation", &e))?;
        let memory = instance.get_memory(&mut store, "memory");
        let alloc = match typed_export::<i32, i32>(
            &instance,
            &mut store,
            &self.module_name,
            "proxy_on_memory_allocate",
        )? {
            Some(f) => Some(f),
            None => typed_export::<i32, i32>(&instance, &mut store, &self.module_name, "malloc")?,
        };
        store.data_mut().memory = memory;
        store.data_mut().alloc = alloc;
        if let Some(init) =
            typed_export::<(), ()>(&instance, &mut store, &self.module_name, "_initialize")?
        {
            init.call(&mut store, ())
                .map_err(|e| trap("_initialize", &e))?;
        } else if let Some(start) =
            typed_export::<(), ()>(&instance, &mut store, &self.module_name, "_start")?
        {
            start.call(&mut store, ()).map_err(|e| trap("_start", &e))?;
        }
        let funcs = CallbackFuncs::resolve(&instance, &mut store, &self.module_name)?;
        Ok(Box::new(WasmtimeInstance {
            store,
            funcs,
            module_name: self.module_name.clone(),
            engine_name: self.engine_name.clone(),
        }))
    }
}

/// One instance in its own store.
struct WasmtimeInstance {
    store: Store<StoreData>,
    funcs: CallbackFuncs,
    module_name: String,
    engine_name: String,
}
