//! Every hostcall of the filterbench host as a WAMR native, and a build's one-time
//! initialisation that registers them. WAMR resolves imports from a process-global registry at
//! module load time, so a build is set up once per process; each native finds its instance's
//! host state through the module instance's custom data (see `instance`).

use crate::api::Api;
use crate::instance::dispatch;
use crate::runtime::Runtime;
use filterbench_host::abi::{PROXY_MODULE, WASI_MODULES};
use filterbench_host::hostcalls;
use std::ffi::{CStr, CString, c_void};
use wamrx_sys as sys;

macro_rules! signature_char {
    (i64) => {
        "I"
    };
    ($other:ident) => {
        "i"
    };
}

macro_rules! native_type {
    (i64) => {
        i64
    };
    ($other:ident) => {
        i32
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
                pub(super) unsafe extern "C" fn $name<R: Runtime>(exec_env: sys::wasm_exec_env_t, argv: *mut u64) {
                    let mut slots = (0..).map(|i| unsafe { *argv.add(i) });
                    $( let $arg = raw_slot!($kind, slots.next().unwrap_or(0)); )*
                    // SAFETY: WAMR calls natives with the calling instance's environment.
                    let status = unsafe {
                        dispatch::<R>(exec_env, |guest| hostcalls::guarded(guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*)))
                    };
                    unsafe { *argv = status as u64 };
                }
            )*

            /// (name, function of `convention`, signature), NUL-terminated for WAMR.
            pub(super) fn symbols<R: Runtime>(convention: Convention) -> Vec<(&'static CStr, *mut c_void, &'static CStr)> {
                vec![ $( (
                    CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()).expect("NUL-terminated"),
                    match convention {
                        Convention::Raw => $name::<R> as *mut c_void,
                        Convention::Typed => typed::$name::<R> as *mut c_void,
                    },
                    CStr::from_bytes_with_nul(concat!("(", $( signature_char!($kind), )* ")i\0").as_bytes()).expect("NUL-terminated"),
                ), )* ]
            }

            /// The same hostcalls as WAMR natives with typed parameters, for WAMR's compiled
            /// code (its LLVM JIT calls every native with the typed convention).
            pub(super) mod typed {
                use super::*;
                $(
                    /// WAMR native with typed parameters; returns the status.
                    pub(super) unsafe extern "C" fn $name<R: Runtime>(exec_env: sys::wasm_exec_env_t, $( $arg: native_type!($kind) ),*) -> i32 {
                        // SAFETY: WAMR calls natives with the calling instance's environment.
                        (unsafe {
                            dispatch::<R>(exec_env, |guest| hostcalls::guarded(guest, stringify!($name), |guest| hostcalls::$name(guest, $( filterbench_host::wasm32_to_host!($kind, $arg) ),*)))
                        }) as i32
                    }
                )*
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
unsafe extern "C" fn proc_exit<R: Runtime>(exec_env: sys::wasm_exec_env_t, argv: *mut u64) {
    // SAFETY: WAMR passes one i32 argument in slot 0.
    let code = unsafe { *argv } as u32;
    // SAFETY: WAMR calls natives with the calling instance's environment.
    unsafe { dispatch::<R>(exec_env, |_| Err(hostcalls::proc_exit(code))) };
}

/// WASI `proc_exit(code)` with a typed parameter.
unsafe extern "C" fn proc_exit_typed<R: Runtime>(exec_env: sys::wasm_exec_env_t, code: i32) {
    // SAFETY: WAMR calls natives with the calling instance's environment.
    unsafe { dispatch::<R>(exec_env, |_| Err(hostcalls::proc_exit(code as u32))) };
}

/// How a build calls its natives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Convention {
    /// One 64-bit slot per argument (cheapest for WAMR's interpreters).
    Raw,
    /// Typed C parameters (what WAMR's LLVM JIT and AOT code call).
    #[cfg_attr(not(feature = "llvm"), allow(dead_code))]
    Typed,
}

/// Registered native tables; WAMR keeps pointers into them for the life of the process.
pub(crate) struct Natives {
    _tables: Vec<Box<[sys::NativeSymbol]>>,
}

// SAFETY: the tables are written once, before any use, and only read by WAMR afterwards.
unsafe impl Send for Natives {}
// SAFETY: as above.
unsafe impl Sync for Natives {}

fn register(
    api: &Api,
    convention: Convention,
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
        let register = match convention {
            Convention::Raw => api.wasm_runtime_register_natives_raw,
            Convention::Typed => api.wasm_runtime_register_natives,
        };
        register(module.as_ptr(), table.as_mut_ptr(), table.len() as u32)
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

/// Initialises the build behind `R` with `args` and registers every hostcall with the
/// `convention` its code calls natives with.
///
/// # Safety
/// Once per process and build, before any other call into it; `R::api()` must be callable.
pub(crate) unsafe fn initialise<R: Runtime>(
    args: &mut sys::RuntimeInitArgs,
    convention: Convention,
) -> Result<Natives, String> {
    let api = R::api();
    // SAFETY: per the contract above.
    if !unsafe { (api.wasm_runtime_full_init)(args) } {
        return Err("WAMR runtime initialisation failed".to_owned());
    }
    // Errors come back through the API; WAMR's own warnings (e.g. that a memory limit above
    // what a module can grow to is not applied) would only clutter the output.
    // SAFETY: the runtime is initialised.
    unsafe { (api.wasm_runtime_set_log_level)(sys::WASM_LOG_LEVEL_ERROR) };
    let proxy = CString::new(PROXY_MODULE).expect("no NUL");
    let proxy: &'static CStr = Box::leak(proxy.into_boxed_c_str());
    let proc_exit = match convention {
        Convention::Raw => proc_exit::<R> as *mut c_void,
        Convention::Typed => proc_exit_typed::<R> as *mut c_void,
    };
    let mut tables = vec![register(
        api,
        convention,
        proxy,
        proxy_natives_table::symbols::<R>(convention),
    )?];
    for wasi_module in WASI_MODULES {
        let wasi = CString::new(wasi_module).expect("no NUL");
        let wasi: &'static CStr = Box::leak(wasi.into_boxed_c_str());
        let mut symbols = wasi_natives_table::symbols::<R>(convention);
        symbols.push((c"proc_exit", proc_exit, c"(i)"));
        tables.push(register(api, convention, wasi, symbols)?);
    }
    Ok(Natives { _tables: tables })
}
