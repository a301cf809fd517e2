//! WAMR's LLVM build (feature `llvm`): two shared libraries built by this crate's build script
//! from the WAMR sources `wamrx-sys` ships, loaded on first use.
//!
//! - the runtime (AOT loader and LLVM JIT), on which `wamr-aot` and `wamr-jit` instances run;
//! - the AOT compiler, built as `wamrc` is (its loader without the JIT, in compiler mode), which
//!   turns Wasm bytes into an AOT image in process.
//!
//! Each library is its own WAMR with its own process-global state, loaded with `RTLD_LOCAL` and
//! linked with `-Bsymbolic`, so neither meets the fast interpreter linked into the binary.

use crate::api::Api;
use crate::instance::c_message;
use crate::natives::{Convention, Natives, initialise};
use crate::runtime::{Runtime, ThreadEnv};
use libloading::Library;
use libloading::os::unix::{Library as UnixLibrary, RTLD_LOCAL, RTLD_NOW};
use std::ffi::c_char;
use std::sync::{Mutex, OnceLock};
use wamrx_sys as sys;

/// The runtime library, built by this crate's build script.
const RUNTIME_LIBRARY: &str = env!("FILTERBENCH_WAMR_LLVM_LIBRARY");
/// The AOT compiler library, built by this crate's build script.
const AOT_COMPILER_LIBRARY: &str = env!("FILTERBENCH_WAMR_AOT_COMPILER_LIBRARY");
/// The LLVM release both are linked against.
pub(crate) const LLVM_VERSION: &str = env!("FILTERBENCH_WAMR_LLVM_VERSION");
/// LLVM optimisation level of the JIT and of the AOT compiler (`wamrc`'s default).
pub(crate) const OPT_LEVEL: u32 = 3;

/// The loaded runtime library and its entry points.
struct Loaded {
    api: Api,
    _library: Library,
}

static RUNTIME: OnceLock<Result<Loaded, String>> = OnceLock::new();

/// `filterbench_wamr_llvm_options` (llvm/aot_compile.c), in both libraries.
type OptionsFn = unsafe extern "C" fn();

/// Opens one of the two libraries and, the first time, sets the LLVM options they share.
fn open(path: &str) -> Result<Library, String> {
    let library = open_library(path)?;
    static OPTIONS: OnceLock<()> = OnceLock::new();
    // SAFETY: the shim's entry point of this signature, in a library built by this crate.
    let options = unsafe { library.get::<OptionsFn>(b"filterbench_wamr_llvm_options\0") }
        .map(|symbol| *symbol)
        .map_err(|e| format!("{path}: missing filterbench_wamr_llvm_options: {e}"))?;
    // SAFETY: called once per process (LLVM parses its options once), before any compilation.
    OPTIONS.get_or_init(|| unsafe { options() });
    Ok(library)
}

fn open_library(path: &str) -> Result<Library, String> {
    // SAFETY: a WAMR library built by this crate; its initialisers only set up WAMR's globals.
    let library = unsafe { UnixLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
        format!("cannot load {path} ({e}); rebuild with `--features wamr-llvm` (LLVM 22 from apt)")
    })?;
    Ok(Library::from(library))
}

/// WAMR's LLVM build: the runtime library.
pub(crate) struct Llvm;

impl Runtime for Llvm {
    fn api() -> &'static Api {
        match RUNTIME.get() {
            Some(Ok(loaded)) => &loaded.api,
            // Modules and instances of this runtime exist only after `initialised` succeeded.
            _ => unreachable!("WAMR's LLVM runtime used before it was loaded"),
        }
    }

    fn initialised() -> Result<(), String> {
        RUNTIME
            .get_or_init(|| {
                let library = open(RUNTIME_LIBRARY)?;
                // SAFETY: the library is WAMR built from the sources `wamrx-sys` binds; it is
                // kept loaded for the rest of the process (in `RUNTIME`).
                let api = unsafe { Api::open(&library) }
                    .map_err(|e| format!("{RUNTIME_LIBRARY}: missing {e}"))?;
                Ok(Loaded {
                    api,
                    _library: library,
                })
            })
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)?;
        static NATIVES: OnceLock<Result<Natives, String>> = OnceLock::new();
        NATIVES
            .get_or_init(|| {
                let mut args = sys::RuntimeInitArgs {
                    mem_alloc_type: sys::Alloc_With_System_Allocator,
                    // Wasm modules run as LLVM JIT code, compiled when they are loaded; AOT
                    // images always run as what they are.
                    running_mode: sys::Mode_LLVM_JIT,
                    llvm_jit_opt_level: OPT_LEVEL,
                    llvm_jit_size_level: 3,
                    ..Default::default()
                };
                // SAFETY: once per process, before any other call into this library (whose
                // table `Llvm::api()` now returns).
                unsafe { initialise::<Self>(&mut args, Convention::Typed) }
            })
            .as_ref()
            .map(|_| ())
            .map_err(Clone::clone)
    }

    fn ensure_thread_env() {
        thread_local! {
            static THREAD_ENV: ThreadEnv = ThreadEnv::new(Llvm::api());
        }
        THREAD_ENV.with(|_| {});
    }
}

/// `filterbench_wamr_aot_compile` (llvm/aot_compile.c).
type CompileFn = unsafe extern "C" fn(sys::wasm_module_t, *mut u32, *mut c_char, u32) -> *mut u8;
/// `filterbench_wamr_aot_free`.
type FreeFn = unsafe extern "C" fn(*mut u8);

/// The loaded AOT compiler library.
struct Compiler {
    api: Api,
    compile: CompileFn,
    free: FreeFn,
    _library: Library,
}

static COMPILER: OnceLock<Result<Compiler, String>> = OnceLock::new();

fn compiler() -> Result<&'static Compiler, String> {
    COMPILER
        .get_or_init(|| {
            let library = open(AOT_COMPILER_LIBRARY)?;
            let missing = |e: String| format!("{AOT_COMPILER_LIBRARY}: missing {e}");
            // SAFETY: WAMR built from the sources `wamrx-sys` binds, with this crate's entry
            // points of these signatures; kept loaded for the rest of the process.
            let (api, compile, free) = unsafe {
                let api = Api::open(&library).map_err(missing)?;
                let compile = *library
                    .get::<CompileFn>(b"filterbench_wamr_aot_compile\0")
                    .map_err(|e| missing(e.to_string()))?;
                let free = *library
                    .get::<FreeFn>(b"filterbench_wamr_aot_free\0")
                    .map_err(|e| missing(e.to_string()))?;
                (api, compile, free)
            };
            let mut args = sys::RuntimeInitArgs {
                mem_alloc_type: sys::Alloc_With_System_Allocator,
                ..Default::default()
            };
            // SAFETY: once per process, before any other call into this library. Nothing runs
            // on it, so no natives; its warnings about unresolved imports and the compiler's
            // banner stay quiet.
            unsafe {
                if !(api.wasm_runtime_full_init)(&mut args) {
                    return Err("the WAMR AOT compiler failed to initialise".to_owned());
                }
                (api.wasm_runtime_set_log_level)(sys::WASM_LOG_LEVEL_ERROR);
            }
            Ok(Compiler {
                api,
                compile,
                free,
                _library: library,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiles Wasm `bytes` to a WAMR AOT image, as `wamrc` does (LLVM, opt level 3, the host's
/// CPU). `Err` carries WAMR's message.
pub(crate) fn compile_aot(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let compiler = compiler()?;
    // WAMR's compiler keeps its last error in a global: one compilation at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let api = &compiler.api;
    let mut wasm = bytes.to_vec();
    let size = u32::try_from(wasm.len()).map_err(|_| "module larger than 4 GiB".to_owned())?;
    let mut error = [0 as c_char; 256];
    // SAFETY: the library is initialised; `wasm` outlives the module (unloaded below); the
    // error buffer is writable for its length; the image is copied before it is freed.
    unsafe {
        let module = (api.wasm_runtime_load)(
            wasm.as_mut_ptr(),
            size,
            error.as_mut_ptr(),
            error.len() as u32,
        );
        if module.is_null() {
            return Err(c_message(&error));
        }
        let mut image_size = 0u32;
        let image = (compiler.compile)(
            module,
            &mut image_size,
            error.as_mut_ptr(),
            error.len() as u32,
        );
        (api.wasm_runtime_unload)(module);
        if image.is_null() {
            return Err(c_message(&error));
        }
        let copy = std::slice::from_raw_parts(image, image_size as usize).to_vec();
        (compiler.free)(image);
        Ok(copy)
    }
}
