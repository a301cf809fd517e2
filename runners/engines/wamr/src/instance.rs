//! Modules and instances on one WAMR build ([`Runtime`]): loading, instantiation, calls into
//! the guest, and the hostcalls' view of the calling instance.

use crate::runtime::Runtime;
use filterbench_host::hostcalls::{Guest, HostTrap};
use filterbench_host::memory::GuestMemory;
use filterbench_host::vm::{self, Signature, WasmVm};
use filterbench_host::{
    CallError, FilterError, FilterInstance, HostState, LoadedModule, PluginSpec, TrapKind,
};
use std::ffi::{CStr, CString, c_char, c_void};
use std::marker::PhantomData;
use std::rc::Rc;
use wamrx_sys as sys;

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
pub(crate) struct WamrGuest<'a, R: Runtime> {
    module_inst: sys::wasm_module_inst_t,
    exec_env: sys::wasm_exec_env_t,
    data: &'a mut InstanceData,
    runtime: PhantomData<R>,
}

impl<R: Runtime> Guest for WamrGuest<'_, R> {
    fn state(&mut self) -> &mut HostState {
        &mut self.data.host
    }

    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState) {
        // SAFETY: the instance is live for the duration of the hostcall; the slice covers the
        // memory's current extent and is borrowed from `self`, so no guest code runs (and
        // could grow the memory) while it is alive.
        let api = R::api();
        let bytes: &mut [u8] = unsafe {
            let memory = (api.wasm_runtime_get_default_memory)(self.module_inst);
            let base = if memory.is_null() {
                std::ptr::null_mut()
            } else {
                (api.wasm_memory_get_base_address)(memory)
            };
            if base.is_null() {
                &mut []
            } else {
                let len = (api.wasm_memory_get_cur_page_count)(memory)
                    * (api.wasm_memory_get_bytes_per_page)(memory);
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
            (R::api().wasm_runtime_call_wasm)(self.exec_env, self.data.alloc, 1, argv.as_mut_ptr())
        };
        if ok {
            Ok(argv[0] as u64)
        } else {
            // A hostcall inside the allocator that stopped it left its reason here; the
            // exception itself then only says "host trap".
            let exception = take_exception::<R>(self.module_inst);
            let reason = self.data.host_trap.take().unwrap_or(exception);
            Err(HostTrap(format!(
                "proxy_on_memory_allocate trapped: {reason}"
            )))
        }
    }
}

/// Reads and clears the instance's pending exception.
fn take_exception<R: Runtime>(module_inst: sys::wasm_module_inst_t) -> String {
    let api = R::api();
    // SAFETY: a live instance; WAMR returns null or a NUL-terminated string it owns.
    unsafe {
        let text = (api.wasm_runtime_get_exception)(module_inst);
        let message = if text.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(text)
                .to_string_lossy()
                .trim_start_matches("Exception: ")
                .to_owned()
        };
        (api.wasm_runtime_clear_exception)(module_inst);
        message
    }
}

/// Runs a hostcall for the instance that called the native function.
///
/// # Safety
/// `exec_env` must be the environment WAMR passed to a native of an instance created by
/// this adapter (whose custom data is its [`InstanceData`]).
pub(crate) unsafe fn dispatch<R: Runtime>(
    exec_env: sys::wasm_exec_env_t,
    call: impl FnOnce(&mut WamrGuest<'_, R>) -> Result<u32, HostTrap>,
) -> u32 {
    let api = R::api();
    // SAFETY: per the contract above.
    unsafe {
        let module_inst = (api.wasm_runtime_get_module_inst)(exec_env);
        let data = (api.wasm_runtime_get_custom_data)(module_inst) as *mut InstanceData;
        if data.is_null() {
            return filterbench_host::abi::Status::InternalFailure.raw();
        }
        let mut guest = WamrGuest {
            module_inst,
            exec_env,
            data: &mut *data,
            runtime: PhantomData,
        };
        match call(&mut guest) {
            Ok(status) => status,
            Err(trap) => {
                guest.data.host_trap = Some(trap.0);
                (api.wasm_runtime_set_exception)(module_inst, c"host trap".as_ptr());
                0
            }
        }
    }
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

pub(crate) fn c_message(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What a module was loaded from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Image {
    /// Wasm bytes (interpreted, or compiled by the JIT at load time).
    Wasm,
    /// A WAMR AOT image (what `wamrc` writes).
    #[cfg_attr(not(feature = "llvm"), allow(dead_code))]
    Aot,
}

/// Loads `bytes` on the build behind `R`. `memory_pages` are the module's initial and declared
/// maximum linear memory (pages); `running_mode`, when given, is the mode every instance must
/// run in (checked at instantiation).
pub(crate) fn load<R: Runtime>(
    name: &str,
    engine_name: &'static str,
    bytes: Vec<u8>,
    image: Image,
    memory_pages: MemoryPages,
    running_mode: Option<sys::RunningMode>,
) -> Result<Box<dyn LoadedModule>, FilterError> {
    let load_error = |detail: String| FilterError::Load {
        module: name.to_owned(),
        engine: engine_name.to_owned(),
        detail,
    };
    let size = u32::try_from(bytes.len())
        .map_err(|_| load_error("module larger than 4 GiB".to_owned()))?;
    // WAMR keeps referring to the bytes it loaded: they live as long as the module.
    let mut owned = bytes.into_boxed_slice();
    let mut error = [0 as c_char; 256];
    R::ensure_thread_env();
    // SAFETY: `owned` outlives the module (both live in `ModuleHandle`); the error buffer is
    // writable for its length.
    let raw = unsafe {
        (R::api().wasm_runtime_load)(
            owned.as_mut_ptr(),
            size,
            error.as_mut_ptr(),
            error.len() as u32,
        )
    };
    if raw.is_null() {
        return Err(load_error(c_message(&error)));
    }
    Ok(Box::new(WamrModule(Rc::new(ModuleHandle::<R> {
        raw,
        bytes: owned,
        image,
        name: name.to_owned(),
        engine_name,
        memory_pages,
        running_mode,
        runtime: PhantomData,
    }))))
}

/// Marks an artifact of `wamr-aot`: the module's memory shape, then the AOT image.
const ARTIFACT_MAGIC: &[u8; 8] = b"fbwamr1\0";
/// Magic, then three little-endian u64: has a memory (0 or 1), initial pages, maximum pages
/// (`u64::MAX` for none).
const ARTIFACT_HEADER: usize = 8 + 3 * 8;

/// The serialized form of an AOT module: its memory shape (which the image does not carry in a
/// form WAMR's API returns) and the AOT image.
pub(crate) fn join_artifact(memory_pages: MemoryPages, image: &[u8]) -> Vec<u8> {
    let (has, initial, maximum) = match memory_pages {
        Some((initial, maximum)) => (1, initial, maximum.unwrap_or(u64::MAX)),
        None => (0, 0, u64::MAX),
    };
    let mut artifact = Vec::with_capacity(ARTIFACT_HEADER + image.len());
    artifact.extend_from_slice(ARTIFACT_MAGIC);
    for value in [has, initial, maximum] {
        artifact.extend_from_slice(&u64::to_le_bytes(value));
    }
    artifact.extend_from_slice(image);
    artifact
}

/// Initial and declared maximum linear memory of a module, pages (`None`: no memory).
pub(crate) type MemoryPages = Option<(u64, Option<u64>)>;

/// Splits what [`join_artifact`] wrote; `None` if `artifact` is not one.
#[cfg_attr(not(feature = "llvm"), allow(dead_code))]
pub(crate) fn split_artifact(artifact: &[u8]) -> Option<(MemoryPages, &[u8])> {
    let (header, image) = artifact.split_at_checked(ARTIFACT_HEADER)?;
    let (magic, numbers) = header.split_at(8);
    if magic != ARTIFACT_MAGIC {
        return None;
    }
    let number =
        |i: usize| u64::from_le_bytes(numbers[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let memory_pages = match number(0) {
        0 => None,
        _ => Some((number(1), Some(number(2)).filter(|m| *m != u64::MAX))),
    };
    Some((memory_pages, image))
}

/// A loaded WAMR module and the bytes it was loaded from.
struct ModuleHandle<R: Runtime> {
    raw: sys::wasm_module_t,
    bytes: Box<[u8]>,
    image: Image,
    name: String,
    engine_name: &'static str,
    /// Initial and declared maximum linear memory, pages.
    memory_pages: MemoryPages,
    /// The running mode every instance must have, if it matters.
    running_mode: Option<sys::RunningMode>,
    runtime: PhantomData<R>,
}

/// WAMR's `max_memory_pages` for a memory `limit` in bytes: 0 (keep the module's own maximum)
/// when the limit does not lower it, else the limit in pages, never below the initial size.
fn max_memory_pages(memory_pages: MemoryPages, limit: u64) -> u32 {
    let Some((initial, maximum)) = memory_pages else {
        return 0;
    };
    let limit_pages = limit >> 16;
    if limit_pages >= maximum.unwrap_or(65536) {
        return 0;
    }
    u32::try_from(limit_pages.max(initial).max(1)).unwrap_or(0)
}

impl<R: Runtime> Drop for ModuleHandle<R> {
    fn drop(&mut self) {
        // SAFETY: every instance holds an `Rc` to this handle, so none is left.
        unsafe { (R::api().wasm_runtime_unload)(self.raw) };
    }
}

struct WamrModule<R: Runtime>(Rc<ModuleHandle<R>>);

/// An export of one instance, with its parameter count.
#[derive(Copy, Clone)]
struct WamrFunc {
    raw: sys::wasm_function_inst_t,
    params: u32,
    returns: bool,
}

impl<R: Runtime> LoadedModule for WamrModule<R> {
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError> {
        let handle = &self.0;
        let api = R::api();
        let fail = |message: String| FilterError::Trap {
            module: handle.name.clone(),
            engine: handle.engine_name.to_owned(),
            source: CallError {
                callback: "instantiation",
                kind: trap_kind(&message),
                message,
            },
        };
        R::ensure_thread_env();
        let mut error = [0 as c_char; 256];
        // The plugin's memory limit caps linear memory (WAMR counts 64 KiB pages).
        let args = sys::InstantiationArgs {
            default_stack_size: AUX_STACK_SIZE,
            host_managed_heap_size: 0,
            max_memory_pages: max_memory_pages(handle.memory_pages, plugin.memory_limit_bytes),
        };
        // SAFETY: a loaded module; the error buffer is writable for its length.
        let module_inst = unsafe {
            (api.wasm_runtime_instantiate_ex)(
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
        unsafe { (api.wasm_runtime_set_custom_data)(module_inst, data as *mut c_void) };
        // SAFETY: a live instance.
        let exec_env = unsafe { (api.wasm_runtime_create_exec_env)(module_inst, EXEC_STACK_SIZE) };
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
        if let Some(expected) = handle.running_mode {
            // SAFETY: a live instance.
            let actual = unsafe { (api.wasm_runtime_get_running_mode)(module_inst) };
            if actual != expected {
                return Err(fail(format!(
                    "the instance runs in WAMR running mode {actual}, not {expected}"
                )));
            }
        }
        vm::start(instance)
    }

    fn serialize(&self) -> Result<Vec<u8>, String> {
        match self.0.image {
            Image::Aot => Ok(join_artifact(self.0.memory_pages, &self.0.bytes)),
            Image::Wasm => Err(filterbench_host::engine::NO_SERIALIZED_FORMAT.to_owned()),
        }
    }
}

/// One instance with its execution environment and host state.
struct WamrInstance<R: Runtime> {
    module: Rc<ModuleHandle<R>>,
    module_inst: sys::wasm_module_inst_t,
    exec_env: sys::wasm_exec_env_t,
    data: *mut InstanceData,
}

impl<R: Runtime> WasmVm for WamrInstance<R> {
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
        let api = R::api();
        // SAFETY: `module_inst` is alive for as long as this instance.
        unsafe {
            let memory = (api.wasm_runtime_get_default_memory)(self.module_inst);
            (!memory.is_null()).then(|| {
                (api.wasm_memory_get_cur_page_count)(memory)
                    * (api.wasm_memory_get_bytes_per_page)(memory)
            })
        }
    }

    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<WamrFunc>, String> {
        let api = R::api();
        let name = CString::new(name).map_err(|e| e.to_string())?;
        // SAFETY: a live instance and a NUL-terminated name.
        let (raw, params, results) = unsafe {
            let raw = (api.wasm_runtime_lookup_function)(self.module_inst, name.as_ptr());
            if raw.is_null() {
                return Ok(None);
            }
            (
                raw,
                (api.wasm_func_get_param_count)(raw, self.module_inst),
                (api.wasm_func_get_result_count)(raw, self.module_inst),
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
        R::ensure_thread_env();
        // SAFETY: a live exec env and function of this instance; argv has room for every
        // argument and the result.
        let ok = unsafe {
            (R::api().wasm_runtime_call_wasm)(
                self.exec_env,
                func.raw,
                func.params,
                argv.as_mut_ptr(),
            )
        };
        if ok {
            return Ok(if func.returns { argv[0] } else { 0 });
        }
        let exception = take_exception::<R>(self.module_inst);
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

impl<R: Runtime> Drop for WamrInstance<R> {
    fn drop(&mut self) {
        let api = R::api();
        // SAFETY: created in `instantiate`; nothing uses them after this.
        unsafe {
            if !self.exec_env.is_null() {
                (api.wasm_runtime_destroy_exec_env)(self.exec_env);
            }
            (api.wasm_runtime_deinstantiate)(self.module_inst);
            drop(Box::from_raw(self.data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_keep_the_memory_shape_and_refuse_other_bytes() {
        for shape in [None, Some((2, None)), Some((1, Some(16)))] {
            let artifact = join_artifact(shape, b"\0aot image");
            assert_eq!(
                split_artifact(&artifact),
                Some((shape, &b"\0aot image"[..]))
            );
        }
        assert_eq!(split_artifact(b"\0asm\x01\0\0\0"), None);
        let mut wrong = join_artifact(None, b"x");
        wrong[0] = b'F';
        assert_eq!(split_artifact(&wrong), None);
    }
}
