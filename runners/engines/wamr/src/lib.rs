//! WAMR adapter: runs Proxy-Wasm modules on the WebAssembly Micro Runtime's fast interpreter
//! (built from C by `wamrx-sys`), with every hostcall of the filterbench host registered as a
//! WAMR "raw" native function generated from the host's ABI tables.
//!
//! WAMR resolves imports from a process-global registry at module load time, so the runtime
//! and the natives are set up once per process; each native finds its instance's host state
//! through the module instance's custom data. The fast interpreter has no fuel or epoch
//! mechanism in this build, so a runaway callback cannot be stopped on this engine.

use filterbench_host::abi::{PROXY_MODULE, WASI_MODULES};
use filterbench_host::hostcalls::{self, Guest, HostTrap};
use filterbench_host::inspect;
use filterbench_host::memory::GuestMemory;
use filterbench_host::vm::{self, Signature, WasmVm};
use filterbench_host::{
    CallError, Engine, EngineInfo, FilterError, FilterInstance, HostState, LoadedModule,
    ModuleSource, PluginSpec, TrapKind,
};
use std::ffi::{CStr, CString, c_char, c_void};
use std::rc::Rc;
use std::sync::OnceLock;
use wamrx_sys as sys;

/// Version of the WAMR sources `wamrx-sys` builds, and of the binding crate.
pub const WAMR_VERSION: &str = "2.4.3 (wamrx-sys 0.3.0)";

/// One selectable WAMR configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Selectable name.
    pub name: &'static str,
    /// One line on what it is.
    pub description: &'static str,
}

/// Every WAMR configuration this adapter offers.
pub const CONFIGURATIONS: &[Configuration] = &[Configuration {
    name: "wamr-fast-interp",
    description: "WAMR fast interpreter (software bounds checks)",
}];

/// Creates the configuration called `name`, or `None` if it is not a WAMR configuration.
pub fn create(name: &str) -> Option<Result<WamrEngine, String>> {
    CONFIGURATIONS
        .iter()
        .find(|c| c.name == name)
        .map(|c| WamrEngine::new(*c))
}

/// Interpreter stack per instance, bytes.
const EXEC_STACK_SIZE: u32 = 512 * 1024;
/// Auxiliary stack WAMR reserves at instantiation (the module's own shadow stack is in its
/// linear memory), bytes.
const AUX_STACK_SIZE: u32 = 64 * 1024;

/// What a native function reaches through the module instance's custom data.
struct InstanceData {
    host: HostState,
    alloc: sys::wasm_function_inst_t,
    /// Set by a hostcall that stopped the guest; read when the call returns.
    host_trap: Option<String>,
}

/// A hostcall's view of the calling instance.
struct WamrGuest<'a> {
    module_inst: sys::wasm_module_inst_t,
    exec_env: sys::wasm_exec_env_t,
    data: &'a mut InstanceData,
}

impl Guest for WamrGuest<'_> {
    fn state(&mut self) -> &mut HostState {
        &mut self.data.host
    }

    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState) {
        // SAFETY: the instance is live for the duration of the hostcall; the slice covers the
        // memory's current extent and is borrowed from `self`, so no guest code runs (and
        // could grow the memory) while it is alive.
        let bytes: &mut [u8] = unsafe {
            let memory = sys::wasm_runtime_get_default_memory(self.module_inst);
            let base = if memory.is_null() {
                std::ptr::null_mut()
            } else {
                sys::wasm_memory_get_base_address(memory)
            };
            if base.is_null() {
                &mut []
            } else {
                let len = sys::wasm_memory_get_cur_page_count(memory)
                    * sys::wasm_memory_get_bytes_per_page(memory);
                std::slice::from_raw_parts_mut(base as *mut u8, len as usize)
            }
        };
        (GuestMemory::wasm32(bytes), &mut self.data.host)
    }

    fn allocate(&mut self, size: u64) -> Result<u64, HostTrap> {
        if self.data.alloc.is_null() {
            return Ok(0);
        }
        let Ok(size) = u32::try_from(size) else {
            return Ok(0);
        };
        let mut argv = [size];
        // SAFETY: `alloc` is the instance's (i32) -> i32 allocator; argv holds one cell.
        let ok = unsafe {
            sys::wasm_runtime_call_wasm(self.exec_env, self.data.alloc, 1, argv.as_mut_ptr())
        };
        if ok {
            Ok(argv[0] as u64)
        } else {
            // A hostcall inside the allocator that stopped it left its reason here; the
            // exception itself then only says "host trap".
            let exception = take_exception(self.module_inst);
            let reason = self.data.host_trap.take().unwrap_or(exception);
            Err(HostTrap(format!(
                "proxy_on_memory_allocate trapped: {reason}"
            )))
        }
    }
}

/// Reads and clears the instance's pending exception.
fn take_exception(module_inst: sys::wasm_module_inst_t) -> String {
    // SAFETY: a live instance; WAMR returns null or a NUL-terminated string it owns.
    unsafe {
        let text = sys::wasm_runtime_get_exception(module_inst);
        let message = if text.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(text)
                .to_string_lossy()
                .trim_start_matches("Exception: ")
                .to_owned()
        };
        sys::wasm_runtime_clear_exception(module_inst);
        message
    }
}

/// Runs a hostcall for the instance that called the native function.
///
/// # Safety
/// `exec_env` must be the environment WAMR passed to a native of an instance created by
/// this adapter (whose custom data is its [`InstanceData`]).
unsafe fn dispatch(
    exec_env: sys::wasm_exec_env_t,
    call: impl FnOnce(&mut WamrGuest<'_>) -> Result<u32, HostTrap>,
) -> u32 {
    // SAFETY: per the contract above.
    unsafe {
        let module_inst = sys::wasm_runtime_get_module_inst(exec_env);
        let data = sys::wasm_runtime_get_custom_data(module_inst) as *mut InstanceData;
        if data.is_null() {
            return filterbench_host::abi::Status::InternalFailure.raw();
        }
        let mut guest = WamrGuest {
            module_inst,
            exec_env,
            data: &mut *data,
        };
        match call(&mut guest) {
            Ok(status) => status,
            Err(trap) => {
                guest.data.host_trap = Some(trap.0);
                sys::wasm_runtime_set_exception(module_inst, c"host trap".as_ptr());
                0
            }
        }
    }
}

macro_rules! signature_char {
    (i64) => {
        "I"
    };
    ($other:ident) => {
        "i"
    };
}

macro_rules! raw_slot {
    (i64, $slot:expr) => {
        $slot as i64
    };
    ($other:ident, $slot:expr) => {
        $slot as u32 as i32
    };
}

macro_rules! raw_natives {
    ($table:ident, $( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        mod $table {
            use super::*;
            $(
                /// WAMR raw native: arguments arrive one per 64-bit slot; the status goes back in slot 0.
                #[allow(unused_mut, unused_variables)]
                pub(super) unsafe extern "C" fn $name(exec_env: sys::wasm_exec_env_t, argv: *mut u64) {
                    let mut slots = (0..).map(|i| unsafe { *argv.add(i) });
                    $( let $arg = raw_slot!($kind, slots.next().unwrap_or(0)); )*
                    // SAFETY: WAMR calls natives with the calling instance's environment.
                    let status = unsafe {
                        dispatch(exec_env, |guest| hostcalls::guarded(guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*)))
                    };
                    unsafe { *argv = status as u64 };
                }
            )*

            /// (name, function, signature), NUL-terminated for WAMR.
            pub(super) fn symbols() -> Vec<(&'static CStr, *mut c_void, &'static CStr)> {
                vec![ $( (
                    CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()).expect("NUL-terminated"),
                    $name as *mut c_void,
                    CStr::from_bytes_with_nul(concat!("(", $( signature_char!($kind), )* ")i\0").as_bytes()).expect("NUL-terminated"),
                ), )* ]
            }
        }
    };
}

macro_rules! proxy_natives {
    ($($entries:tt)*) => { raw_natives!(proxy_natives_table, $($entries)*); };
}

macro_rules! wasi_natives {
    ($($entries:tt)*) => { raw_natives!(wasi_natives_table, $($entries)*); };
}

filterbench_host::for_each_proxy_hostcall!(proxy_natives);
filterbench_host::for_each_wasi_hostcall!(wasi_natives);

/// WASI `proc_exit(code)`: stops the guest.
unsafe extern "C" fn proc_exit(exec_env: sys::wasm_exec_env_t, argv: *mut u64) {
    // SAFETY: WAMR passes one i32 argument in slot 0.
    let code = unsafe { *argv } as u32;
    // SAFETY: WAMR calls natives with the calling instance's environment.
    unsafe { dispatch(exec_env, |_| Err(hostcalls::proc_exit(code))) };
}

/// Registered native tables; WAMR keeps pointers into them for the life of the process.
struct Natives {
    _tables: Vec<Box<[sys::NativeSymbol]>>,
}

// SAFETY: the tables are written once, before any use, and only read by WAMR afterwards.
unsafe impl Send for Natives {}
// SAFETY: as above.
unsafe impl Sync for Natives {}

fn register(
    module: &'static CStr,
    symbols: Vec<(&'static CStr, *mut c_void, &'static CStr)>,
) -> Result<Box<[sys::NativeSymbol]>, String> {
    let mut table: Box<[sys::NativeSymbol]> = symbols
        .into_iter()
        .map(|(name, func, signature)| sys::NativeSymbol {
            symbol: name.as_ptr(),
            func_ptr: func,
            signature: signature.as_ptr(),
            attachment: std::ptr::null_mut(),
        })
        .collect();
    // SAFETY: the table and the strings it points to live for the rest of the process.
    let ok = unsafe {
        sys::wasm_runtime_register_natives_raw(
            module.as_ptr(),
            table.as_mut_ptr(),
            table.len() as u32,
        )
    };
    if ok {
        Ok(table)
    } else {
        Err(format!(
            "WAMR refused the {} natives",
            module.to_string_lossy()
        ))
    }
}

/// Initializes the WAMR runtime and registers the hostcalls, once per process.
fn runtime() -> Result<(), String> {
    static RUNTIME: OnceLock<Result<Natives, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let mut args = sys::RuntimeInitArgs {
                mem_alloc_type: sys::Alloc_With_System_Allocator,
                ..Default::default()
            };
            // SAFETY: called once per process, before any other WAMR call.
            if !unsafe { sys::wasm_runtime_full_init(&mut args) } {
                return Err("WAMR runtime initialisation failed".to_owned());
            }
            // Errors come back through the API; WAMR's own warnings (e.g. that a memory limit
            // above what a module can grow to is not applied) would only clutter the output.
            // SAFETY: the runtime is initialised.
            unsafe { sys::wasm_runtime_set_log_level(sys::WASM_LOG_LEVEL_ERROR) };
            let proxy = CString::new(PROXY_MODULE).expect("no NUL");
            let proxy: &'static CStr = Box::leak(proxy.into_boxed_c_str());
            let mut tables = vec![register(proxy, proxy_natives_table::symbols())?];
            for wasi_module in WASI_MODULES {
                let wasi = CString::new(wasi_module).expect("no NUL");
                let wasi: &'static CStr = Box::leak(wasi.into_boxed_c_str());
                let mut wasi_symbols = wasi_natives_table::symbols();
                wasi_symbols.push((c"proc_exit", proc_exit as *mut c_void, c"(i)"));
                tables.push(register(wasi, wasi_symbols)?);
            }
            Ok(Natives { _tables: tables })
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

/// Makes sure WAMR's per-thread environment exists on this thread.
fn ensure_thread_env() {
    struct ThreadEnv;
    impl Drop for ThreadEnv {
        fn drop(&mut self) {
            // SAFETY: pairs with the init below, on the same thread.
            unsafe { sys::wasm_runtime_destroy_thread_env() };
        }
    }
    thread_local! {
        // SAFETY: the runtime is initialised before any instance exists.
        static THREAD_ENV: ThreadEnv = { unsafe { sys::wasm_runtime_init_thread_env() }; ThreadEnv };
    }
    THREAD_ENV.with(|_| {});
}

/// Maps WAMR's exception messages to the host's common [`TrapKind`].
fn trap_kind(message: &str) -> TrapKind {
    let has = |needle: &str| message.contains(needle);
    if has("unreachable") {
        TrapKind::Unreachable
    } else if has("out of bounds memory access") {
        TrapKind::MemoryOutOfBounds
    } else if has("integer divide by zero") {
        TrapKind::IntegerDivideByZero
    } else if has("integer overflow") || has("invalid conversion to integer") {
        TrapKind::IntegerOverflow
    } else if has("stack overflow") {
        TrapKind::StackOverflow
    } else if has("uninitialized element")
        || has("indirect call type mismatch")
        || has("undefined element")
    {
        TrapKind::BadIndirectCall
    } else {
        TrapKind::Other
    }
}

/// The WAMR fast interpreter.
pub struct WamrEngine {
    configuration: Configuration,
}

impl WamrEngine {
    /// Creates the engine (initialising the process-wide WAMR runtime on first use).
    pub fn new(configuration: Configuration) -> Result<Self, String> {
        runtime()?;
        Ok(Self { configuration })
    }

    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        let shape = inspect::inspect(name, bytes)?;
        let load_error = |detail: String| FilterError::Load {
            module: name.to_owned(),
            engine: self.configuration.name.to_owned(),
            detail,
        };
        let size = u32::try_from(bytes.len())
            .map_err(|_| load_error("module larger than 4 GiB".to_owned()))?;
        // WAMR keeps referring to the bytes it loaded: they live as long as the module.
        let mut owned = bytes.to_vec().into_boxed_slice();
        let mut error = [0 as c_char; 256];
        ensure_thread_env();
        // SAFETY: `owned` outlives the module (both live in `ModuleHandle`); the error buffer
        // is writable for its length.
        let raw = unsafe {
            sys::wasm_runtime_load(
                owned.as_mut_ptr(),
                size,
                error.as_mut_ptr(),
                error.len() as u32,
            )
        };
        if raw.is_null() {
            return Err(load_error(c_message(&error)));
        }
        Ok(Box::new(WamrModule(Rc::new(ModuleHandle {
            raw,
            _bytes: owned,
            name: name.to_owned(),
            engine_name: self.configuration.name,
            memory_pages: shape.memory_pages,
        }))))
    }
}

fn c_message(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Engine for WamrEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: self.configuration.name.to_owned(),
            family: "wamr".to_owned(),
            version: WAMR_VERSION.to_owned(),
            compiler: "fast-interpreter".to_owned(),
            options: Vec::new(),
            description: self.configuration.description.to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        let bytes = source.read_wasm(self.configuration.name)?;
        self.load_bytes(&source.name, &bytes)
    }
}

/// A loaded WAMR module and the bytes it was loaded from.
struct ModuleHandle {
    raw: sys::wasm_module_t,
    _bytes: Box<[u8]>,
    name: String,
    engine_name: &'static str,
    /// Initial and declared maximum linear memory, pages.
    memory_pages: Option<(u64, Option<u64>)>,
}

/// WAMR's `max_memory_pages` for a memory `limit` in bytes: 0 (keep the module's own maximum)
/// when the limit does not lower it, else the limit in pages, never below the initial size.
fn max_memory_pages(memory_pages: Option<(u64, Option<u64>)>, limit: u64) -> u32 {
    let Some((initial, maximum)) = memory_pages else {
        return 0;
    };
    let limit_pages = limit >> 16;
    if limit_pages >= maximum.unwrap_or(65536) {
        return 0;
    }
    u32::try_from(limit_pages.max(initial).max(1)).unwrap_or(0)
}

impl Drop for ModuleHandle {
    fn drop(&mut self) {
        // SAFETY: every instance holds an `Rc` to this handle, so none is left.
        unsafe { sys::wasm_runtime_unload(self.raw) };
    }
}

struct WamrModule(Rc<ModuleHandle>);

/// An export of one instance, with its parameter count.
#[derive(Copy, Clone)]
struct WamrFunc {
    raw: sys::wasm_function_inst_t,
    params: u32,
    returns: bool,
}

impl LoadedModule for WamrModule {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let handle = &self.0;
        let fail = |message: String| FilterError::Trap {
            module: handle.name.clone(),
            engine: handle.engine_name.to_owned(),
            source: CallError {
                callback: "instantiation",
                kind: trap_kind(&message),
                message,
            },
        };
        ensure_thread_env();
        let mut error = [0 as c_char; 256];
        // The plugin's memory limit caps linear memory (WAMR counts 64 KiB pages).
        let args = sys::InstantiationArgs {
            default_stack_size: AUX_STACK_SIZE,
            host_managed_heap_size: 0,
            max_memory_pages: max_memory_pages(handle.memory_pages, plugin.memory_limit_bytes),
        };
        // SAFETY: a loaded module; the error buffer is writable for its length.
        let module_inst = unsafe {
            sys::wasm_runtime_instantiate_ex(
                handle.raw,
                &args,
                error.as_mut_ptr(),
                error.len() as u32,
            )
        };
        if module_inst.is_null() {
            return Err(fail(c_message(&error)));
        }
        // From here on `WamrInstance::drop` releases everything.
        let data = Box::into_raw(Box::new(InstanceData {
            host: HostState::new(plugin),
            alloc: std::ptr::null_mut(),
            host_trap: None,
        }));
        // SAFETY: `module_inst` is live; the custom data outlives it (freed in `drop`).
        unsafe { sys::wasm_runtime_set_custom_data(module_inst, data as *mut c_void) };
        // SAFETY: a live instance.
        let exec_env = unsafe { sys::wasm_runtime_create_exec_env(module_inst, EXEC_STACK_SIZE) };
        let instance = WamrInstance {
            module: Rc::clone(handle),
            module_inst,
            exec_env,
            data,
        };
        if exec_env.is_null() {
            return Err(fail(
                "WAMR could not create an execution environment".to_owned(),
            ));
        }
        vm::start(instance)
    }
}

/// One instance with its execution environment and host state.
struct WamrInstance {
    module: Rc<ModuleHandle>,
    module_inst: sys::wasm_module_inst_t,
    exec_env: sys::wasm_exec_env_t,
    data: *mut InstanceData,
}

impl WasmVm for WamrInstance {
    type Func = WamrFunc;

    fn module_name(&self) -> &str {
        &self.module.name
    }

    fn engine_name(&self) -> &str {
        self.module.engine_name
    }

    fn host(&mut self) -> &mut HostState {
        // SAFETY: `data` is owned by this instance; no guest code runs during this borrow.
        unsafe { &mut (*self.data).host }
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        // SAFETY: `module_inst` is alive for as long as this instance.
        unsafe {
            let memory = sys::wasm_runtime_get_default_memory(self.module_inst);
            (!memory.is_null()).then(|| {
                sys::wasm_memory_get_cur_page_count(memory)
                    * sys::wasm_memory_get_bytes_per_page(memory)
            })
        }
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<WamrFunc>, String> {
        let name = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: a live instance and a NUL-terminated name.
        let (raw, params, results) = unsafe {
            let raw = sys::wasm_runtime_lookup_function(self.module_inst, name.as_ptr());
            if raw.is_null() {
                return Ok(None);
            }
            (
                raw,
                sys::wasm_func_get_param_count(raw, self.module_inst),
                sys::wasm_func_get_result_count(raw, self.module_inst),
            )
        };
        let want = (
            signature.params.len() as u32,
            u32::from(signature.result.is_some()),
        );
        if (params, results) != want {
            return Err(format!(
                "{params} parameters and {results} results, not {} and {}",
                want.0, want.1
            ));
        }
        Ok(Some(WamrFunc {
            raw,
            params,
            returns: results == 1,
        }))
    }

    #[inline(always)]
    fn call<const N: usize>(
        &mut self,
        func: &WamrFunc,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError> {
        let mut argv = [0u32; 8];
        if args.len() != func.params as usize || args.len() > argv.len() {
            return Err(CallError {
                callback,
                kind: TrapKind::Host,
                message: "called with another number of arguments than its signature has"
                    .to_owned(),
            });
        }
        argv[..N].copy_from_slice(&args);
        ensure_thread_env();
        // SAFETY: a live exec env and function of this instance; argv has room for every
        // argument and the result.
        let ok = unsafe {
            sys::wasm_runtime_call_wasm(self.exec_env, func.raw, func.params, argv.as_mut_ptr())
        };
        if ok {
            return Ok(if func.returns { argv[0] } else { 0 });
        }
        let exception = take_exception(self.module_inst);
        // SAFETY: the call has returned; nothing else borrows the data.
        match unsafe { (*self.data).host_trap.take() } {
            Some(message) => Err(CallError {
                callback,
                kind: TrapKind::Host,
                message,
            }),
            None => Err(CallError {
                callback,
                kind: trap_kind(&exception),
                message: exception,
            }),
        }
    }

    fn use_allocator(&mut self, allocator: WamrFunc) {
        // SAFETY: `data` is live and not borrowed elsewhere now.
        unsafe { (*self.data).alloc = allocator.raw };
    }
}

impl Drop for WamrInstance {
    fn drop(&mut self) {
        // SAFETY: created in `instantiate`; nothing uses them after this.
        unsafe {
            if !self.exec_env.is_null() {
                sys::wasm_runtime_destroy_exec_env(self.exec_env);
            }
            sys::wasm_runtime_deinstantiate(self.module_inst);
            drop(Box::from_raw(self.data));
        }
    }
}
