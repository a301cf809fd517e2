//! wasmtime adapter: compiles Proxy-Wasm modules with wasmtime and wires every hostcall of the
//! filterbench host into a wasmtime [`Linker`] by expanding the host's ABI tables.
//!
//! Configurations (see [`CONFIGURATIONS`]): the Cranelift, Winch and Pulley execution
//! strategies, and sandbox-cost variants of Cranelift (pooling allocator, explicit bounds
//! checks, epoch interruption, fuel). The epoch and fuel variants stop a callback that runs
//! past [`filterbench_host::engine::CALL_DEADLINE`] / [`filterbench_host::engine::CALL_FUEL`].

use filterbench_host::abi::{PROXY_MODULE, WASI_MODULES};
use filterbench_host::engine::{CALL_DEADLINE, CALL_FUEL};
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{
    Caller, Config, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store, Strategy, TypedFunc,
};

/// Version of the wasmtime crate this adapter is built with (checked against Cargo.lock in tests).
pub const WASMTIME_VERSION: &str = "48.0.0";

/// How wasmtime turns wasm into something it can run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Compiler {
    /// The optimizing Cranelift compiler (wasmtime's default).
    Cranelift,
    /// Winch, the single-pass baseline compiler.
    Winch,
    /// Pulley, wasmtime's portable interpreter (Cranelift compiles to Pulley bytecode).
    Pulley,
}

impl Compiler {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Cranelift => "cranelift",
            Self::Winch => "winch",
            Self::Pulley => "pulley",
        }
    }
}

/// Sandbox-cost switches on top of a compiler; all off is wasmtime's default configuration.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Instances come from the pooling allocator (pre-reserved slots) instead of mmap per instance.
    pub pooling: bool,
    /// No guard-page reservation: every memory access is bounds-checked in code.
    pub explicit_bounds_checks: bool,
    /// Epoch interruption: generated code polls an epoch counter; a callback is stopped after
    /// [`CALL_DEADLINE`].
    pub epoch: bool,
    /// Fuel metering: every operator consumes fuel; a callback gets [`CALL_FUEL`].
    pub fuel: bool,
}

impl Options {
    fn names(self) -> Vec<String> {
        let flags = [
            (self.pooling, "pooling"),
            (self.explicit_bounds_checks, "bounds-checks"),
            (self.epoch, "epoch"),
            (self.fuel, "fuel"),
        ];
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| (*name).to_owned())
            .collect()
    }
}

/// One selectable wasmtime configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Selectable name, e.g. `wasmtime-cranelift+fuel`.
    pub name: &'static str,
    /// Compiler.
    pub compiler: Compiler,
    /// Sandbox-cost switches.
    pub options: Options,
    /// One line on what it is.
    pub description: &'static str,
}

const NO_OPTIONS: Options = Options {
    pooling: false,
    explicit_bounds_checks: false,
    epoch: false,
    fuel: false,
};

/// Every wasmtime configuration this adapter offers, default first.
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "wasmtime-cranelift",
        compiler: Compiler::Cranelift,
        options: NO_OPTIONS,
        description: "wasmtime, Cranelift optimizing compiler, default settings",
    },
    Configuration {
        name: "wasmtime-winch",
        compiler: Compiler::Winch,
        options: NO_OPTIONS,
        description: "wasmtime, Winch single-pass baseline compiler",
    },
    Configuration {
        name: "wasmtime-pulley",
        compiler: Compiler::Pulley,
        options: NO_OPTIONS,
        description: "wasmtime, Pulley portable interpreter",
    },
    Configuration {
        name: "wasmtime-cranelift+pooling",
        compiler: Compiler::Cranelift,
        options: Options {
            pooling: true,
            ..NO_OPTIONS
        },
        description: "wasmtime Cranelift with the pooling instance allocator",
    },
    Configuration {
        name: "wasmtime-cranelift+bounds-checks",
        compiler: Compiler::Cranelift,
        options: Options {
            explicit_bounds_checks: true,
            ..NO_OPTIONS
        },
        description: "wasmtime Cranelift with explicit bounds checks instead of guard pages",
    },
    Configuration {
        name: "wasmtime-cranelift+epoch",
        compiler: Compiler::Cranelift,
        options: Options {
            epoch: true,
            ..NO_OPTIONS
        },
        description: "wasmtime Cranelift with epoch interruption (per-call deadline)",
    },
    Configuration {
        name: "wasmtime-cranelift+fuel",
        compiler: Compiler::Cranelift,
        options: Options {
            fuel: true,
            ..NO_OPTIONS
        },
        description: "wasmtime Cranelift with fuel metering (per-call fuel budget)",
    },
];

/// Creates the configuration called `name`, or `None` if it is not a wasmtime configuration.
pub fn create(name: &str) -> Option<Result<WasmtimeEngine, String>> {
    CONFIGURATIONS
        .iter()
        .find(|c| c.name == name)
        .map(|c| WasmtimeEngine::new(*c))
}

/// Per-store data: the host state plus the handles hostcalls need on every call.
struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunc<(i32,), i32>>,
}

/// The per-instance memory limit of the plugin (a refused grow makes `memory.grow` return -1).
impl wasmtime::ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.host.memory_growing(desired))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// A hostcall's view of the calling instance.
struct CallerGuest<'a, 'b>(&'a mut Caller<'b, StoreData>);

impl Guest for CallerGuest<'_, '_> {
    fn state(&mut self) -> &mut HostState {
        &mut self.0.data_mut().host
    }

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
            .call(&mut *self.0, (size as i32,))
            .map(|addr| addr as u32 as u64)
            .map_err(|e| {
                HostTrap(format!(
                    "proxy_on_memory_allocate trapped: {}",
                    describe(&e)
                ))
            })
    }
}

macro_rules! link_table {
    ($linker:expr, $module:expr, $( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        $(
            $linker.func_wrap(
                $module,
                stringify!($name),
                |mut caller: Caller<'_, StoreData>, $( $arg: filterbench_host::wasm32_hostcall_param!($kind) ),*| -> wasmtime::Result<i32> {
                    let mut guest = CallerGuest(&mut caller);
                    hostcalls::guarded(&mut guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*))
                        .map(|status| status as i32)
                        .map_err(|trap| wasmtime::Error::new(trap))
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
            for wasi_module in WASI_MODULES {
                link_table!(linker, wasi_module, $($entries)*);
                linker.func_wrap(wasi_module, "proc_exit", |code: i32| -> wasmtime::Result<()> {
                    Err(wasmtime::Error::new(hostcalls::proc_exit(code as u32)))
                })?;
            }
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
        // Its Display reads "wasm trap: …".
        parts.push(trap.to_string());
    }
    for cause in error.chain() {
        let text = cause.to_string();
        let first = text.lines().next().unwrap_or("").trim().to_owned();
        // The backtrace's heading says nothing without the backtrace itself.
        if first.starts_with("error while executing at wasm backtrace") {
            continue;
        }
        if !first.is_empty() && !parts.iter().any(|p| p.contains(&first)) {
            parts.push(first);
        }
    }
    parts.join(": ")
}

/// Maps wasmtime's trap codes to the host's common [`TrapKind`].
fn trap_kind(error: &wasmtime::Error) -> TrapKind {
    use wasmtime::Trap;
    if error.downcast_ref::<HostTrap>().is_some() {
        return TrapKind::Host;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(Trap::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(Trap::IntegerDivisionByZero) => TrapKind::IntegerDivideByZero,
        Some(Trap::IntegerOverflow | Trap::BadConversionToInteger) => TrapKind::IntegerOverflow,
        Some(Trap::StackOverflow) => TrapKind::StackOverflow,
        Some(Trap::IndirectCallToNull | Trap::BadSignature | Trap::TableOutOfBounds) => {
            TrapKind::BadIndirectCall
        }
        Some(Trap::Interrupt | Trap::OutOfFuel) => TrapKind::Deadline,
        _ => TrapKind::Other,
    }
}

fn call_error(callback: &'static str, error: &wasmtime::Error) -> CallError {
    let frames = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|trace| {
            trace
                .frames()
                .iter()
                .map(|f| {
                    f.func_name()
                        .map_or_else(|| format!("func[{}]", f.func_index()), str::to_owned)
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    CallError {
        callback,
        kind: trap_kind(error),
        message: describe(error),
    }
    .with_backtrace(frames)
}

macro_rules! typed_funcs {
    ($( $shape:ident ( $( $p:ident ),* ) -> $r:ty ; )*) => {
        /// A typed handle of an export, one variant per wasm32 shape.
        enum Func {
            $( $shape(TypedFunc<( $( filterbench_host::wasm32_i32!($p), )* ), $r>), )*
        }

        impl Func {
            fn typed(func: wasmtime::Func, store: &Store<StoreData>, shape: Wasm32Shape) -> wasmtime::Result<Self> {
                Ok(match shape {
                    $( Wasm32Shape::$shape => Self::$shape(func.typed(store)?), )*
                })
            }

            #[inline(always)]
            fn call(&self, store: &mut Store<StoreData>, args: &[u32]) -> wasmtime::Result<u32> {
                match self {
                    $( Self::$shape(f) => {
                        let &[$( $p ),*] = args else {
                            return Err(wasmtime::Error::msg(WRONG_ARGUMENT_COUNT));
                        };
                        f.call(store, ( $( $p as i32, )* )).map(Wasm32Result::into_u32)
                    } )*
                }
            }
        }
    };
}

filterbench_host::for_each_wasm32_shape!(typed_funcs);

/// Why a call was refused before entering the guest (a host bug, never a module's fault).
const WRONG_ARGUMENT_COUNT: &str = "called with another number of arguments than its signature has";

/// Gives the next callback its full budget (epoch deadline or fuel) on metered configurations.
fn arm_deadline(store: &mut Store<StoreData>, options: Options) {
    if options.epoch {
        store.set_epoch_deadline(EPOCH_TICKS_PER_DEADLINE);
    }
    if options.fuel {
        // Only fails when fuel is not enabled, which `options.fuel` rules out.
        let _ = store.set_fuel(CALL_FUEL);
    }
}

/// How often the epoch ticker advances the engine's epoch.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Epoch ticks a callback may run for: [`CALL_DEADLINE`] / [`EPOCH_TICK`].
const EPOCH_TICKS_PER_DEADLINE: u64 = (CALL_DEADLINE.as_millis() / EPOCH_TICK.as_millis()) as u64;

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("wasmtime-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A wasmtime configuration with the host linked in.
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
    linker: Linker<StoreData>,
    configuration: Configuration,
    _ticker: Option<EpochTicker>,
}

impl WasmtimeEngine {
    /// Creates an engine for `configuration`.
    pub fn new(configuration: Configuration) -> Result<Self, String> {
        let mut config = Config::new();
        match configuration.compiler {
            Compiler::Cranelift => {
                config.strategy(Strategy::Cranelift);
                config.cranelift_opt_level(wasmtime::OptLevel::Speed);
            }
            Compiler::Winch => {
                config.strategy(Strategy::Winch);
            }
            Compiler::Pulley => {
                config.strategy(Strategy::Cranelift);
                config.target("pulley64").map_err(|e| describe(&e))?;
            }
        }
        let options = configuration.options;
        if options.pooling {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(
                PoolingAllocationConfig::default(),
            ));
        }
        if options.explicit_bounds_checks {
            config.memory_reservation(0);
            config.memory_guard_size(0);
            config.memory_reservation_for_growth(1 << 20);
        }
        config.epoch_interruption(options.epoch);
        config.consume_fuel(options.fuel);
        let engine = wasmtime::Engine::new(&config).map_err(|e| describe(&e))?;
        let mut linker = Linker::new(&engine);
        link_proxy(&mut linker).map_err(|e| describe(&e))?;
        link_wasi(&mut linker).map_err(|e| describe(&e))?;
        let ticker = options.epoch.then(|| EpochTicker::start(engine.clone()));
        Ok(Self {
            engine,
            linker,
            configuration,
            _ticker: ticker,
        })
    }

    fn load_error(&self, module: &str, error: &wasmtime::Error) -> FilterError {
        FilterError::Load {
            module: module.to_owned(),
            engine: self.configuration.name.to_owned(),
            detail: describe(error),
        }
    }

    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        inspect::inspect(name, bytes)?;
        let module = Module::new(&self.engine, bytes).map_err(|e| self.load_error(name, &e))?;
        self.link(name, module)
    }

    fn link(&self, name: &str, module: Module) -> Result<Box<dyn LoadedModule>, FilterError> {
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| self.load_error(name, &e))?;
        Ok(Box::new(WasmtimeModule {
            engine: self.engine.clone(),
            pre,
            module_name: name.to_owned(),
            engine_name: self.configuration.name,
            options: self.configuration.options,
        }))
    }
}

impl Engine for WasmtimeEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: self.configuration.name.to_owned(),
            family: "wasmtime".to_owned(),
            version: WASMTIME_VERSION.to_owned(),
            compiler: self.configuration.compiler.as_str().to_owned(),
            options: self.configuration.options.names(),
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
        // SAFETY: the artifact comes from `Module::serialize` of an engine with this exact
        // configuration in this process; wasmtime also checks its header and configuration.
        let module = unsafe { Module::deserialize(&self.engine, artifact) }
            .map_err(|e| self.load_error(&source.name, &e))?;
        self.link(&source.name, module)
    }
}

/// A compiled and linked module.
struct WasmtimeModule {
    engine: wasmtime::Engine,
    pre: InstancePre<StoreData>,
    module_name: String,
    engine_name: &'static str,
    options: Options,
}

impl LoadedModule for WasmtimeModule {
    fn serialize(&self) -> Result<Vec<u8>, String> {
        self.pre.module().serialize().map_err(|e| describe(&e))
    }

    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let data = StoreData {
            host: HostState::new(plugin),
            memory: None,
            alloc: None,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|data| data as &mut dyn wasmtime::ResourceLimiter);
        arm_deadline(&mut store, self.options);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| FilterError::Trap {
                module: self.module_name.clone(),
                engine: self.engine_name.to_owned(),
                source: call_error("instantiation", &e),
            })?;
        store.data_mut().memory = instance.get_memory(&mut store, "memory");
        vm::start(WasmtimeInstance {
            store,
            instance,
            module_name: self.module_name.clone(),
            engine_name: self.engine_name,
            options: self.options,
        })
    }
}

/// One instance in its own store.
struct WasmtimeInstance {
    store: Store<StoreData>,
    instance: wasmtime::Instance,
    module_name: String,
    engine_name: &'static str,
    options: Options,
}

impl WasmVm for WasmtimeInstance {
    type Func = Func;

    fn module_name(&self) -> &str {
        &self.module_name
    }

    fn engine_name(&self) -> &str {
        self.engine_name
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.store.data_mut().host
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        let memory = self.store.data().memory?;
        Some(memory.data_size(&self.store) as u64)
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<Func>, String> {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Ok(None);
        };
        let shape = Wasm32Shape::of(signature).ok_or("no wasm32 shape for it")?;
        Func::typed(func, &self.store, shape)
            .map(Some)
            .map_err(|e| describe(&e))
    }

    #[inline(always)]
    fn call<const N: usize>(
        &mut self,
        func: &Func,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError> {
        arm_deadline(&mut self.store, self.options);
        func.call(&mut self.store, &args)
            .map_err(|e| call_error(callback, &e))
    }

    fn use_allocator(&mut self, allocator: Func) {
        if let Func::Value1(alloc) = allocator {
            self.store.data_mut().alloc = Some(alloc);
        }
    }
}
