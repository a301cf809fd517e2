//! wasmi adapter: runs Proxy-Wasm modules on the wasmi interpreter, wiring every hostcall of
//! the filterbench host into a wasmi [`Linker`] by expanding the host's ABI tables.
//!
//! Configurations (see [`CONFIGURATIONS`]): eager translation to wasmi bytecode, lazy
//! translation on first call (wasmi's default), and eager with fuel metering (a callback gets
//! [`filterbench_host::engine::CALL_FUEL`]).

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
use wasmi::{Caller, CompilationMode, Config, Linker, Memory, Module, Store, TrapCode, TypedFunc};

/// Version of the wasmi crate this adapter is built with (checked against Cargo.lock in tests).
pub const WASMI_VERSION: &str = "2.0.0";

/// One selectable wasmi configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Selectable name, e.g. `wasmi-eager`.
    pub name: &'static str,
    /// Translate every function to wasmi bytecode at load (else on first call).
    pub eager: bool,
    /// Fuel metering with a per-callback budget.
    pub fuel: bool,
    /// One line on what it is.
    pub description: &'static str,
}

/// Every wasmi configuration this adapter offers, default first.
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "wasmi-eager",
        eager: true,
        fuel: false,
        description: "wasmi interpreter, functions translated to wasmi bytecode at load",
    },
    Configuration {
        name: "wasmi-lazy",
        eager: false,
        fuel: false,
        description: "wasmi interpreter, functions translated on first call (wasmi's default)",
    },
    Configuration {
        name: "wasmi-eager+fuel",
        eager: true,
        fuel: true,
        description: "wasmi interpreter, eager translation, fuel metering (per-call fuel budget)",
    },
];

/// Creates the configuration called `name`, or `None` if it is not a wasmi configuration.
pub fn create(name: &str) -> Option<Result<WasmiEngine, String>> {
    CONFIGURATIONS
        .iter()
        .find(|c| c.name == name)
        .map(|c| Ok(WasmiEngine::new(*c)))
}

/// A hostcall that stopped the guest, carried through wasmi's host-error channel.
#[derive(Debug)]
struct GuestStopped(HostTrap);

impl std::fmt::Display for GuestStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for GuestStopped {}

/// Per-store data: the host state plus the handles hostcalls need on every call.
struct StoreData {
    host: HostState,
    memory: Option<Memory>,
    alloc: Option<TypedFunc<(i32,), i32>>,
}

/// The per-instance memory limit of the plugin (a refused grow makes `memory.grow` return -1).
impl wasmi::ResourceLimiter for StoreData {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(self.host.memory_growing(desired))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(true)
    }

    // One instance with one memory and its tables per store; no extra caps on counts.
    fn instances(&self) -> usize {
        usize::MAX
    }

    fn tables(&self) -> usize {
        usize::MAX
    }

    fn memories(&self) -> usize {
        usize::MAX
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
        let Some(alloc) = self.0.data().alloc else {
            return Ok(0);
        };
        let Ok(size) = u32::try_from(size) else {
            return Ok(0);
        };
        alloc
            .call(&mut *self.0, (size as i32,))
            .map(|addr| addr as u32 as u64)
            .map_err(|e| HostTrap(format!("proxy_on_memory_allocate trapped: {e}")))
    }
}

macro_rules! link_table {
    ($linker:expr, $module:expr, $( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        $(
            $linker.func_wrap(
                $module,
                stringify!($name),
                |mut caller: Caller<'_, StoreData>, $( $arg: filterbench_host::wasm32_hostcall_param!($kind) ),*| -> Result<i32, wasmi::Error> {
                    let mut guest = CallerGuest(&mut caller);
                    hostcalls::guarded(&mut guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*))
                        .map(|status| status as i32)
                        .map_err(|trap| wasmi::Error::host(GuestStopped(trap)))
                },
            )?;
        )*
    };
}

macro_rules! link_proxy_table {
    ($($entries:tt)*) => {
        fn link_proxy(linker: &mut Linker<StoreData>) -> Result<(), wasmi::errors::LinkerError> {
            link_table!(linker, PROXY_MODULE, $($entries)*);
            Ok(())
        }
    };
}

macro_rules! link_wasi_table {
    ($($entries:tt)*) => {
        fn link_wasi(linker: &mut Linker<StoreData>) -> Result<(), wasmi::errors::LinkerError> {
            for wasi_module in WASI_MODULES {
                link_table!(linker, wasi_module, $($entries)*);
                linker.func_wrap(wasi_module, "proc_exit", |code: i32| -> Result<(), wasmi::Error> {
                    Err(wasmi::Error::host(GuestStopped(hostcalls::proc_exit(code as u32))))
                })?;
            }
            Ok(())
        }
    };
}

filterbench_host::for_each_proxy_hostcall!(link_proxy_table);
filterbench_host::for_each_wasi_hostcall!(link_wasi_table);

/// Maps wasmi's trap codes to the host's common [`TrapKind`].
fn trap_kind(error: &wasmi::Error) -> TrapKind {
    if error.downcast_ref::<GuestStopped>().is_some() {
        return TrapKind::Host;
    }
    match error.as_trap_code() {
        Some(TrapCode::UnreachableCodeReached) => TrapKind::Unreachable,
        Some(TrapCode::MemoryOutOfBounds) => TrapKind::MemoryOutOfBounds,
        Some(TrapCode::IntegerDivisionByZero) => TrapKind::IntegerDivideByZero,
        Some(TrapCode::IntegerOverflow | TrapCode::BadConversionToInteger) => {
            TrapKind::IntegerOverflow
        }
        Some(TrapCode::StackOverflow) => TrapKind::StackOverflow,
        Some(
            TrapCode::IndirectCallToNull | TrapCode::BadSignature | TrapCode::TableOutOfBounds,
        ) => TrapKind::BadIndirectCall,
        Some(TrapCode::OutOfFuel) => TrapKind::Deadline,
        _ => TrapKind::Other,
    }
}

fn call_error(callback: &'static str, error: &wasmi::Error) -> CallError {
    CallError {
        callback,
        kind: trap_kind(error),
        message: error.to_string(),
    }
}

macro_rules! typed_funcs {
    ($( $shape:ident ( $( $p:ident ),* ) -> $r:ty ; )*) => {
        /// A typed handle of an export, one variant per wasm32 shape.
        enum Func {
            $( $shape(TypedFunc<( $( filterbench_host::wasm32_i32!($p), )* ), $r>), )*
        }

        impl Func {
            fn typed(func: wasmi::Func, store: &Store<StoreData>, shape: Wasm32Shape) -> Result<Self, wasmi::Error> {
                Ok(match shape {
                    $( Wasm32Shape::$shape => Self::$shape(func.typed(store)?), )*
                })
            }

            #[inline(always)]
            fn call(&self, store: &mut Store<StoreData>, args: &[u32]) -> Result<u32, wasmi::Error> {
                match self {
                    $( Self::$shape(f) => {
                        let &[$( $p ),*] = args else {
                            return Err(wasmi::Error::new(WRONG_ARGUMENT_COUNT));
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

/// Gives the next callback its full fuel budget on the fuel configuration.
fn arm_fuel(store: &mut Store<StoreData>, configuration: Configuration) {
    if configuration.fuel {
        // Only fails when fuel is not enabled, which `configuration.fuel` rules out.
        let _ = store.set_fuel(CALL_FUEL);
    }
}

/// A wasmi configuration with the host linked in.
pub struct WasmiEngine {
    engine: wasmi::Engine,
    configuration: Configuration,
}

impl WasmiEngine {
    /// Creates an engine for `configuration`.
    pub fn new(configuration: Configuration) -> Self {
        let mut config = Config::default();
        config.compilation_mode(if configuration.eager {
            CompilationMode::Eager
        } else {
            CompilationMode::LazyTranslation
        });
        config.consume_fuel(configuration.fuel);
        Self {
            engine: wasmi::Engine::new(&config),
            configuration,
        }
    }

    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        inspect::inspect(name, bytes)?;
        let load_error = |detail: String| FilterError::Load {
            module: name.to_owned(),
            engine: self.configuration.name.to_owned(),
            detail,
        };
        let module = Module::new(&self.engine, bytes).map_err(|e| load_error(e.to_string()))?;
        let mut linker = Linker::new(&self.engine);
        link_proxy(&mut linker).map_err(|e| load_error(e.to_string()))?;
        link_wasi(&mut linker).map_err(|e| load_error(e.to_string()))?;
        Ok(Box::new(WasmiModule {
            module,
            linker,
            module_name: name.to_owned(),
            configuration: self.configuration,
        }))
    }
}

impl Engine for WasmiEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: self.configuration.name.to_owned(),
            family: "wasmi".to_owned(),
            version: WASMI_VERSION.to_owned(),
            compiler: "interpreter".to_owned(),
            options: [
                (self.configuration.eager, "eager"),
                (!self.configuration.eager, "lazy"),
                (self.configuration.fuel, "fuel"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| (*name).to_owned())
            .collect(),
            description: self.configuration.description.to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        let bytes = source.read_wasm(self.configuration.name)?;
        self.load_bytes(&source.name, &bytes)
    }
}

/// A translated module and the linker that instantiates it.
struct WasmiModule {
    module: Module,
    linker: Linker<StoreData>,
    module_name: String,
    configuration: Configuration,
}

impl LoadedModule for WasmiModule {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let data = StoreData {
            host: HostState::new(plugin),
            memory: None,
            alloc: None,
        };
        let mut store = Store::new(self.module.engine(), data);
        store.limiter(|data| data as &mut dyn wasmi::ResourceLimiter);
        arm_fuel(&mut store, self.configuration);
        let instance = self
            .linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| FilterError::Trap {
                module: self.module_name.clone(),
                engine: self.configuration.name.to_owned(),
                source: call_error("instantiation", &e),
            })?;
        store.data_mut().memory = instance.get_memory(&store, "memory");
        vm::start(WasmiInstance {
            store,
            instance,
            module_name: self.module_name.clone(),
            configuration: self.configuration,
        })
    }
}

/// One instance in its own store.
struct WasmiInstance {
    store: Store<StoreData>,
    instance: wasmi::Instance,
    module_name: String,
    configuration: Configuration,
}

impl WasmVm for WasmiInstance {
    type Func = Func;

    fn module_name(&self) -> &str {
        &self.module_name
    }

    fn engine_name(&self) -> &str {
        self.configuration.name
    }

    fn host(&mut self) -> &mut HostState {
        &mut self.store.data_mut().host
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        let memory = self.store.data().memory?;
        Some(memory.data_size(&self.store) as u64)
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<Func>, String> {
        let Some(func) = self.instance.get_func(&self.store, name) else {
            return Ok(None);
        };
        let shape = Wasm32Shape::of(signature).ok_or("no wasm32 shape for it")?;
        Func::typed(func, &self.store, shape)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    #[inline(always)]
    fn call<const N: usize>(
        &mut self,
        func: &Func,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError> {
        arm_fuel(&mut self.store, self.configuration);
        func.call(&mut self.store, &args)
            .map_err(|e| call_error(callback, &e))
    }

    fn use_allocator(&mut self, allocator: Func) {
        if let Func::Value1(alloc) = allocator {
            self.store.data_mut().alloc = Some(alloc);
        }
    }
}
