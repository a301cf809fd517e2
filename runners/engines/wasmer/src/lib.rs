//! wasmer adapter: compiles Proxy-Wasm modules with wasmer and wires every hostcall of the
//! filterbench host into wasmer imports by expanding the host's ABI tables.
//!
//! Configurations (see [`CONFIGURATIONS`]): the Cranelift and Singlepass compilers, LLVM when
//! built with the `llvm` feature, and Cranelift with the metering middleware (a callback gets
//! [`filterbench_host::engine::CALL_FUEL`] points).

use filterbench_host::abi::{PROXY_MODULE, WASI_MODULES};
use filterbench_host::engine::CALL_FUEL;
use filterbench_host::hostcalls::{self, Guest, HostTrap};
use filterbench_host::inspect;
use filterbench_host::memory::GuestMemory;
use filterbench_host::vm::{self, Signature, WasmVm};
use filterbench_host::wasm32::{Wasm32Result, Wasm32Shape};
use filterbench_host::{
    CallError, Engine, EngineInfo, FilterError, FilterInstance, HostState, LoadedModule,
    ModuleSource, PluginSpec, TrapKind,
};
use std::sync::Arc;
use wasmer::sys::CompilerConfig;
use wasmer::{
    Function, FunctionEnv, FunctionEnvMut, Global, Imports, Instance, Memory, Module, RuntimeError,
    Store, TypedFunction, Value,
};
use wasmer_middlewares::Metering;
use wasmer_types::TrapCode;

/// Version of the wasmer crate this adapter is built with (checked against Cargo.lock in tests).
pub const WASMER_VERSION: &str = "7.4.2";

/// Which wasmer compiler a configuration uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// Cranelift (wasmer's default).
    Cranelift,
    /// Singlepass, the linear-time baseline compiler.
    Singlepass,
    /// LLVM (only with the `llvm` feature).
    Llvm,
}

impl Compiler {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Cranelift => "cranelift",
            Self::Singlepass => "singlepass",
            Self::Llvm => "llvm",
        }
    }
}

/// One selectable wasmer configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Selectable name, e.g. `wasmer-singlepass`.
    pub name: &'static str,
    /// Compiler.
    pub compiler: Compiler,
    /// The metering middleware with a per-callback budget.
    pub metering: bool,
    /// One line on what it is.
    pub description: &'static str,
}

/// Every wasmer configuration this build offers, default first.
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "wasmer-cranelift",
        compiler: Compiler::Cranelift,
        metering: false,
        description: "wasmer, Cranelift compiler, default settings",
    },
    Configuration {
        name: "wasmer-singlepass",
        compiler: Compiler::Singlepass,
        metering: false,
        description: "wasmer, Singlepass baseline compiler",
    },
    Configuration {
        name: "wasmer-cranelift+metering",
        compiler: Compiler::Cranelift,
        metering: true,
        description: "wasmer Cranelift with the metering middleware (per-call budget)",
    },
    #[cfg(feature = "llvm")]
    Configuration {
        name: "wasmer-llvm",
        compiler: Compiler::Llvm,
        metering: false,
        description: "wasmer, LLVM optimizing compiler",
    },
];

/// Creates the configuration called `name`, or `None` if it is not a wasmer configuration.
pub fn create(name: &str) -> Option<Result<WasmerEngine, String>> {
    CONFIGURATIONS
        .iter()
        .find(|c| c.name == name)
        .map(|c| WasmerEngine::new(*c))
}

/// Per-instance data the hostcalls reach through the function environment.
struct EnvData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunction<i32, i32>>,
}

/// A hostcall's view of the calling instance.
struct EnvGuest<'a>(FunctionEnvMut<'a, EnvData>);

impl Guest for EnvGuest<'_> {
    fn state(&mut self) -> &mut HostState {
        &mut self.0.data_mut().host
    }

    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState) {
        let (data, store) = self.0.data_and_store_mut();
        let bytes: &mut [u8] = match &data.memory {
            Some(memory) => {
                let view = memory.view(&store);
                let (ptr, len) = (view.data_ptr(), view.data_size() as usize);
                // SAFETY: the memory's current extent; the slice is borrowed from `self`, so no
                // guest code (which could grow or move the memory) runs while it is alive.
                unsafe { std::slice::from_raw_parts_mut(ptr, len) }
            }
            None => &mut [],
        };
        (GuestMemory::wasm32(bytes), &mut data.host)
    }

    fn allocate(&mut self, size: u64) -> Result<u64, HostTrap> {
        let Some(alloc) = self.0.data().alloc.clone() else {
            return Ok(0);
        };
        let Ok(size) = u32::try_from(size) else {
            return Ok(0);
        };
        alloc
            .call(&mut self.0, size as i32)
            .map(|addr| addr as u32 as u64)
            .map_err(|e| HostTrap(format!("proxy_on_memory_allocate trapped: {}", e.message())))
    }
}

macro_rules! import_table {
    ($imports:expr, $store:expr, $env:expr, $module:expr, $( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        $(
            $imports.define(
                $module,
                stringify!($name),
                Function::new_typed_with_env(
                    $store,
                    $env,
                    |env: FunctionEnvMut<'_, EnvData>, $( $arg: filterbench_host::wasm32_hostcall_param!($kind) ),*| -> Result<i32, HostTrap> {
                        let mut guest = EnvGuest(env);
                        hostcalls::guarded(&mut guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*)).map(|status| status as i32)
                    },
                ),
            );
        )*
    };
}

macro_rules! proxy_imports {
    ($($entries:tt)*) => {
        fn define_proxy(imports: &mut Imports, store: &mut Store, env: &FunctionEnv<EnvData>) {
            import_table!(imports, store, env, PROXY_MODULE, $($entries)*);
        }
    };
}

macro_rules! wasi_imports {
    ($($entries:tt)*) => {
        fn define_wasi(imports: &mut Imports, store: &mut Store, env: &FunctionEnv<EnvData>) {
            for wasi_module in WASI_MODULES {
                import_table!(imports, store, env, wasi_module, $($entries)*);
                imports.define(
                    wasi_module,
                    "proc_exit",
                    Function::new_typed(store, |code: i32| -> Result<(), HostTrap> { Err(hostcalls::proc_exit(code as u32)) }),
                );
            }
        }
    };
}

filterbench_host::for_each_proxy_hostcall!(proxy_imports);
filterbench_host::for_each_wasi_hostcall!(wasi_imports);

/// Maps wasmer's trap codes to the host's common [`TrapKind`].
fn trap_kind(error: &RuntimeError, metering_exhausted: bool) -> TrapKind {
    if error.downcast_ref::<HostTrap>().is_some() {
        return TrapKind::Host;
    }
    if metering_exhausted {
        return TrapKind::Deadline;
    }
    match error.clone().to_trap() {
        Some(TrapCode::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(TrapCode::HeapAccessOutOfBounds | TrapCode::HeapMisaligned) => {
            TrapKind::MemoryOutOfBounds
        }
        Some(TrapCode::IntegerDivisionByZero) => TrapKind::IntegerDivideByZero,
        Some(TrapCode::IntegerOverflow | TrapCode::BadConversionToInteger) => {
            TrapKind::IntegerOverflow
        }
        Some(TrapCode::StackOverflow) => TrapKind::StackOverflow,
        Some(
            TrapCode::IndirectCallToNull
            | TrapCode::BadSignature
            | TrapCode::TableAccessOutOfBounds,
        ) => TrapKind::BadIndirectCall,
        Some(TrapCode::HostInterrupt) => TrapKind::Deadline,
        _ => TrapKind::Other,
    }
}

/// The metering middleware's globals in one instance.
#[derive(Clone)]
struct MeteringGlobals {
    remaining: Global,
    exhausted: Global,
}

impl MeteringGlobals {
    fn find(instance: &Instance) -> Option<Self> {
        let exports = &instance.exports;
        Some(Self {
            remaining: exports
                .get_global("wasmer_metering_remaining_points")
                .ok()?
                .clone(),
            exhausted: exports
                .get_global("wasmer_metering_points_exhausted")
                .ok()?
                .clone(),
        })
    }

    /// Gives the next callback its full budget.
    fn arm(&self, store: &mut Store) {
        // Setting a mutable i64/i32 global of the right type cannot fail.
        let _ = self.remaining.set(store, Value::I64(CALL_FUEL as i64));
        let _ = self.exhausted.set(store, Value::I32(0));
    }

    fn exhausted(&self, store: &mut Store) -> bool {
        matches!(self.exhausted.get(store), Value::I32(flag) if flag != 0)
    }
}

/// The error of a failed callback, with metering exhaustion reported as a deadline.
fn call_error(
    callback: &'static str,
    error: &RuntimeError,
    store: &mut Store,
    metering: Option<&MeteringGlobals>,
) -> CallError {
    let exhausted = metering.is_some_and(|m| m.exhausted(store));
    let mut message = error.message();
    if exhausted {
        message = format!("metering budget of {CALL_FUEL} points exhausted ({message})");
    }
    CallError {
        callback,
        kind: trap_kind(error, exhausted),
        message,
    }
    .with_backtrace(error.trace().iter().map(|f| {
        f.function_name()
            .map_or_else(|| format!("func[{}]", f.func_index()), str::to_owned)
    }))
}

/// wasmer's parameter list type: `()`, a bare type for one parameter, a tuple for more
/// (every parameter is a wasm `i32`).
macro_rules! wasmer_params {
    () => {
        ()
    };
    ($one:ident) => {
        i32
    };
    ($( $many:ident ),+) => {
        ( $( filterbench_host::wasm32_i32!($many), )+ )
    };
}

macro_rules! typed_funcs {
    ($( $shape:ident ( $( $p:ident ),* ) -> $r:ty ; )*) => {
        /// A typed handle of an export, one variant per wasm32 shape.
        enum Func {
            $( $shape(TypedFunction<wasmer_params!($( $p ),*), $r>), )*
        }

        impl Func {
            fn typed(func: &Function, store: &Store, shape: Wasm32Shape) -> Result<Self, String> {
                Ok(match shape {
                    $( Wasm32Shape::$shape => Self::$shape(func.typed(store).map_err(|e| e.to_string())?), )*
                })
            }

            #[inline(always)]
            fn call(&self, store: &mut Store, args: &[u32]) -> Result<u32, RuntimeError> {
                match self {
                    $( Self::$shape(f) => {
                        let &[$( $p ),*] = args else {
                            return Err(RuntimeError::new(WRONG_ARGUMENT_COUNT));
                        };
                        f.call(store, $( $p as i32 ),*).map(Wasm32Result::into_u32)
                    } )*
                }
            }
        }
    };
}

filterbench_host::for_each_wasm32_shape!(typed_funcs);

/// Why a call was refused before entering the guest (a host bug, never a module's fault).
const WRONG_ARGUMENT_COUNT: &str = "called with another number of arguments than its signature has";

/// Every operator costs one point, like wasmtime's and wasmi's fuel.
fn unit_cost(_operator: &wasmer::wasmparser::Operator<'_>) -> u64 {
    1
}

/// A wasmer configuration.
pub struct WasmerEngine {
    engine: wasmer::Engine,
    configuration: Configuration,
}

thread_local! {
    /// Memory limit of the instance this thread is creating, 64 KiB pages (read by
    /// [`LimitedTunables`] while `Instance::new` creates the memory).
    static INSTANCE_LIMIT_PAGES: std::cell::Cell<u32> = const { std::cell::Cell::new(65536) };
}

/// wasmer's default tunables, except that every linear memory's maximum is capped at the
/// memory limit of the instance being created (wasmer has no per-store limiter), so
/// `memory.grow` beyond it returns -1 as on the other engines. Memory styles (and so the
/// compiled code) are the defaults'.
struct LimitedTunables(wasmer::sys::BaseTunables);

impl LimitedTunables {
    fn capped(ty: &wasmer_types::MemoryType) -> wasmer_types::MemoryType {
        let limit = wasmer_types::Pages(INSTANCE_LIMIT_PAGES.with(|l| l.get()));
        let maximum = ty.maximum.map_or(limit, |m| m.min(limit)).max(ty.minimum);
        wasmer_types::MemoryType {
            maximum: Some(maximum),
            ..*ty
        }
    }
}

impl wasmer::sys::Tunables for LimitedTunables {
    fn memory_style(&self, memory: &wasmer_types::MemoryType) -> wasmer::sys::vm::MemoryStyle {
        self.0.memory_style(memory)
    }

    fn table_style(&self, table: &wasmer_types::TableType) -> wasmer::sys::vm::TableStyle {
        self.0.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &wasmer_types::MemoryType,
        style: &wasmer::sys::vm::MemoryStyle,
    ) -> Result<wasmer::sys::vm::VMMemory, wasmer::sys::vm::MemoryError> {
        self.0.create_host_memory(&Self::capped(ty), style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &wasmer_types::MemoryType,
        style: &wasmer::sys::vm::MemoryStyle,
        vm_definition_location: std::ptr::NonNull<wasmer::sys::vm::VMMemoryDefinition>,
    ) -> Result<wasmer::sys::vm::VMMemory, wasmer::sys::vm::MemoryError> {
        // SAFETY: forwarded unchanged from wasmer, which guarantees the location.
        unsafe {
            self.0
                .create_vm_memory(&Self::capped(ty), style, vm_definition_location)
        }
    }

    fn create_host_table(
        &self,
        ty: &wasmer_types::TableType,
        style: &wasmer::sys::vm::TableStyle,
    ) -> Result<wasmer::sys::vm::VMTable, String> {
        self.0.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &wasmer_types::TableType,
        style: &wasmer::sys::vm::TableStyle,
        vm_definition_location: std::ptr::NonNull<wasmer::sys::vm::VMTableDefinition>,
    ) -> Result<wasmer::sys::vm::VMTable, String> {
        // SAFETY: forwarded unchanged from wasmer, which guarantees the location.
        unsafe { self.0.create_vm_table(ty, style, vm_definition_location) }
    }
}

/// Builds a wasmer engine for `configuration`, with the memory-capping tunables.
fn build_engine(configuration: Configuration) -> Result<wasmer::Engine, String> {
    let mut engine = build_compiler_engine(configuration)?;
    engine
        .as_sys_mut()
        .set_tunables(LimitedTunables(wasmer::sys::BaseTunables::new()));
    Ok(engine)
}

/// The engine of `configuration`'s compiler (with metering when it has it).
fn build_compiler_engine(configuration: Configuration) -> Result<wasmer::Engine, String> {
    let metering = configuration
        .metering
        .then(|| Arc::new(Metering::new(CALL_FUEL, unit_cost)));
    Ok(match configuration.compiler {
        Compiler::Cranelift => {
            let mut compiler = wasmer::sys::Cranelift::default();
            if let Some(metering) = metering {
                compiler.push_middleware(metering);
            }
            compiler.into()
        }
        Compiler::Singlepass => {
            let mut compiler = wasmer::sys::Singlepass::default();
            if let Some(metering) = metering {
                compiler.push_middleware(metering);
            }
            compiler.into()
        }
        #[cfg(feature = "llvm")]
        Compiler::Llvm => wasmer::sys::LLVM::default().into(),
        #[cfg(not(feature = "llvm"))]
        Compiler::Llvm => return Err("wasmer's LLVM compiler is not compiled in".to_owned()),
    })
}

impl WasmerEngine {
    /// Creates an engine for `configuration`.
    pub fn new(configuration: Configuration) -> Result<Self, String> {
        Ok(Self {
            engine: build_engine(configuration)?,
            configuration,
        })
    }

    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        inspect::inspect(name, bytes)?;
        self.make_module(name, |engine| {
            Module::new(engine, bytes).map_err(|e| e.to_string())
        })
    }

    /// Wraps a module made by `make` on this configuration's engine (a fresh engine per module
    /// when metering: a metering middleware instruments exactly one module).
    fn make_module(
        &self,
        name: &str,
        make: impl FnOnce(&wasmer::Engine) -> Result<Module, String>,
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        let load_error = |detail: String| FilterError::Load {
            module: name.to_owned(),
            engine: self.configuration.name.to_owned(),
            detail,
        };
        let engine = match self.configuration.metering {
            true => build_engine(self.configuration).map_err(load_error)?,
            false => self.engine.clone(),
        };
        let module = make(&engine).map_err(load_error)?;
        Ok(Box::new(WasmerModule {
            engine,
            module,
            module_name: name.to_owned(),
            engine_name: self.configuration.name,
        }))
    }
}

impl Engine for WasmerEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: self.configuration.name.to_owned(),
            family: "wasmer".to_owned(),
            version: WASMER_VERSION.to_owned(),
            compiler: self.configuration.compiler.as_str().to_owned(),
            options: if self.configuration.metering {
                vec!["metering".to_owned()]
            } else {
                Vec::new()
            },
            description: self.configuration.description.to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        let bytes = source.read_wasm(self.configuration.name)?;
        self.load_bytes(&source.name, &bytes)
    }

    fn load_serialized(
        &self,
        source: &ModuleSource,
        artifact: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        self.make_module(&source.name, |engine| {
            // SAFETY: the artifact comes from `Module::serialize` of an engine with this exact
            // configuration in this process.
            unsafe { Module::deserialize(engine, artifact) }.map_err(|e| e.to_string())
        })
    }
}

/// A compiled module.
struct WasmerModule {
    engine: wasmer::Engine,
    module: Module,
    module_name: String,
    engine_name: &'static str,
}

impl LoadedModule for WasmerModule {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        self.module
            .serialize()
            .map(|bytes| bytes.to_vec())
            .map_err(|e| e.to_string())
    }

    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let pages = u32::try_from(plugin.memory_limit_bytes >> 16).unwrap_or(65536);
        INSTANCE_LIMIT_PAGES.with(|l| l.set(pages.clamp(1, 65536)));
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(
            &mut store,
            EnvData {
                host: HostState::new(plugin),
                memory: None,
                alloc: None,
            },
        );
        let mut imports = Imports::new();
        define_proxy(&mut imports, &mut store, &env);
        define_wasi(&mut imports, &mut store, &env);
        let instance =
            Instance::new(&mut store, &self.module, &imports).map_err(|e| FilterError::Trap {
                module: self.module_name.clone(),
                engine: self.engine_name.to_owned(),
                source: CallError {
                    callback: "instantiation",
                    kind: TrapKind::Other,
                    message: e.to_string(),
                },
            })?;
        env.as_mut(&mut store).memory = instance.exports.get_memory("memory").ok().cloned();
        vm::start(WasmerInstance {
            store,
            env,
            metering: MeteringGlobals::find(&instance),
            instance,
            module_name: self.module_name.clone(),
            engine_name: self.engine_name,
        })
    }
}

/// One instance in its own store.
struct WasmerInstance {
    store: Store,
    env: FunctionEnv<EnvData>,
    metering: Option<MeteringGlobals>,
    instance: Instance,
    module_name: String,
    engine_name: &'static str,
}

impl WasmVm for WasmerInstance {
    type Func = Func;

    fn module_name(&self) -> &str {
        &self.module_name
    }

    fn engine_name(&self) -> &str {
        self.engine_name
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.env.as_mut(&mut self.store).host
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        let memory = self.env.as_ref(&self.store).memory.clone()?;
        Some(memory.view(&self.store).data_size())
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<Func>, String> {
        let Ok(func) = self.instance.exports.get_function(name) else {
            return Ok(None);
        };
        let shape = Wasm32Shape::of(signature).ok_or("no wasm32 shape for it")?;
        Func::typed(func, &self.store, shape).map(Some)
    }

    #[inline(always)]
    fn call<const N: usize>(
        &mut self,
        func: &Func,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError> {
        if let Some(metering) = &self.metering {
            metering.arm(&mut self.store);
        }
        func.call(&mut self.store, &args)
            .map_err(|e| call_error(callback, &e, &mut self.store, self.metering.as_ref()))
    }

    fn use_allocator(&mut self, allocator: Func) {
        if let Func::Value1(alloc) = allocator {
            self.env.as_mut(&mut self.store).alloc = Some(alloc);
        }
    }
}
