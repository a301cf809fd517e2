//! The loader build (feature `loader`): instead of a filter linked in, a prebuilt native filter
//! library — the `.so` the in-process native engine loads, its `proxy_*` hostcalls undefined —
//! is opened when Envoy loads the module, and the bridge calls the `proxy_on_*` callbacks it
//! exports through pointers. The library is the file (or link) [`LIBRARY_FILE`] in the loader's
//! own directory: the runner puts a copy of the loader next to a link to the library, so the
//! Envoy configuration alone says what runs.
//!
//! The filter's undefined hostcalls must bind to this module's: Envoy opens dynamic modules
//! with `RTLD_LOCAL`, so this module first re-opens itself (found in `/proc/self/maps`) with
//! `RTLD_NOLOAD | RTLD_GLOBAL`, which puts its symbols in the global scope, then opens the
//! filter with `RTLD_NOW` (every hostcall resolved at once, or the load fails with the missing
//! name). A callback the filter does not export does what the SDK's default does.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

/// The filter library's name, in the loader's directory.
pub const LIBRARY_FILE: &str = "filter.so";

// glibc's dlfcn.h values on Linux.
const RTLD_NOW: c_int = 0x2;
const RTLD_NOLOAD: c_int = 0x4;
const RTLD_GLOBAL: c_int = 0x100;

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *mut c_char;
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated message owned by libc.
    let message = unsafe { dlerror() };
    if message.is_null() {
        "unknown error".to_owned()
    } else {
        // SAFETY: non-null, NUL-terminated (above).
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The path of the object this function's code is in, from `/proc/self/maps`.
fn own_path() -> Result<String, String> {
    let here = own_path as *const () as usize;
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map_err(|e| format!("cannot read /proc/self/maps: {e}"))?;
    maps.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let (start, end) = (
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            );
            let path = fields.nth(4)?;
            (start <= here && here < end && path.starts_with('/')).then(|| path.to_owned())
        })
        .ok_or_else(|| "cannot find the bridge's own file in /proc/self/maps".to_owned())
}

/// Opens `path` with `flags`.
fn open(path: &str, flags: c_int) -> Result<*mut c_void, String> {
    let c_path = CString::new(path).map_err(|_| format!("{path}: a NUL in the path"))?;
    // SAFETY: a valid C string; loading runs the library's initializers (trusted native code).
    let handle = unsafe { dlopen(c_path.as_ptr(), flags) };
    if handle.is_null() {
        Err(last_dl_error())
    } else {
        Ok(handle)
    }
}

/// Declares the filter callbacks the bridge calls: a table of pointers filled by [`load`], and
/// a function of the same name and signature as the linked build's declaration for each.
macro_rules! callbacks {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) $(-> $ret:ty)? = $default:expr;)*) => {
        #[allow(non_snake_case)]
        struct Callbacks {
            $($name: Option<unsafe extern "C" fn($($ty),*) $(-> $ret)?>,)*
        }

        fn look_up(handle: *mut c_void) -> Callbacks {
            Callbacks {
                $($name: {
                    let name = CString::new(stringify!($name)).expect("no NUL in a name");
                    // SAFETY: a handle from dlopen and a C string.
                    let symbol = unsafe { dlsym(handle, name.as_ptr()) };
                    // SAFETY: the Proxy-Wasm ABI fixes this export's signature (native form).
                    (!symbol.is_null()).then(|| unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($ty),*) $(-> $ret)?>(symbol)
                    })
                },)*
            }
        }

        $(
            /// Calls the filter's export of the same name (the SDK's default when it has none).
            #[allow(unused_variables)]
            pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
                match callbacks().$name {
                    // SAFETY: the caller upholds the callback's contract, as when linked.
                    Some(f) => unsafe { f($($arg),*) },
                    None => $default,
                }
            }
        )*
    };
}

callbacks! {
    _initialize() = ();
    proxy_on_memory_allocate(size: usize) -> *mut u8 = std::ptr::null_mut();
    proxy_on_context_create(context_id: u32, parent_context_id: u32) = ();
    proxy_on_vm_start(context_id: u32, vm_configuration_size: usize) -> bool = true;
    proxy_on_configure(context_id: u32, plugin_configuration_size: usize) -> bool = true;
    proxy_on_request_headers(context_id: u32, headers: usize, end_of_stream: bool) -> u32 = 0;
    proxy_on_request_body(context_id: u32, body_size: usize, end_of_stream: bool) -> u32 = 0;
    proxy_on_request_trailers(context_id: u32, trailers: usize) -> u32 = 0;
    proxy_on_response_headers(context_id: u32, headers: usize, end_of_stream: bool) -> u32 = 0;
    proxy_on_response_body(context_id: u32, body_size: usize, end_of_stream: bool) -> u32 = 0;
    proxy_on_response_trailers(context_id: u32, trailers: usize) -> u32 = 0;
    proxy_on_done(context_id: u32) -> bool = true;
    proxy_on_log(context_id: u32) = ();
    proxy_on_delete(context_id: u32) = ();
}

static LOADED: OnceLock<Result<Callbacks, String>> = OnceLock::new();

/// Opens the filter library (once); `Err` says why it cannot be used.
pub fn load() -> Result<(), String> {
    LOADED
        .get_or_init(|| {
            let own = own_path()?;
            open(&own, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)
                .map_err(|e| format!("cannot make the bridge's hostcalls global: {e}"))?;
            let library = std::path::Path::new(&own)
                .with_file_name(LIBRARY_FILE)
                .display()
                .to_string();
            let target = std::fs::canonicalize(&library)
                .map_or_else(|_| library.clone(), |p| p.display().to_string());
            let handle = open(&library, RTLD_NOW).map_err(|e| {
                format!("cannot load the native filter library {target} (linked as {library}): {e}")
            })?;
            let callbacks = look_up(handle);
            if callbacks.proxy_on_memory_allocate.is_none() {
                return Err(format!(
                    "{target} exports no proxy_on_memory_allocate: not a Proxy-Wasm filter built \
                     for the host"
                ));
            }
            Ok(callbacks)
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn callbacks() -> &'static Callbacks {
    match LOADED.get() {
        Some(Ok(callbacks)) => callbacks,
        // Envoy refuses the module when `load` fails at program init, so no callback runs.
        _ => unreachable!("the filter library is loaded at program init"),
    }
}
