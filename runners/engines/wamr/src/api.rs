//! The WAMR C functions the adapter calls, as a table: one filled from the WAMR linked into the
//! binary (`wamrx-sys`, the fast interpreter), one per separately loaded WAMR build (the LLVM
//! build behind `wamr-aot` and `wamr-jit`). Both builds come from the same WAMR sources, so the
//! types and struct layouts of `wamrx-sys`'s bindings hold for both.

use std::ffi::{c_char, c_void};
use wamrx_sys as sys;

macro_rules! wamr_api {
    ($( $name:ident ( $( $arg:ty ),* ) $( -> $ret:ty )? ; )*) => {
        /// Entry points of one WAMR build (the C functions of the same names).
        pub(crate) struct Api {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub(crate) $name: unsafe extern "C" fn( $( $arg ),* ) $( -> $ret )?,
            )*
        }

        impl Api {
            /// The WAMR linked into this binary.
            pub(crate) const LINKED: Api = Api { $( $name: sys::$name, )* };

            /// The functions of a loaded WAMR shared library.
            ///
            /// # Safety
            /// `library` must be a WAMR build of the sources `wamrx-sys` binds, and must stay
            /// loaded for as long as the table is used.
            #[cfg(feature = "llvm")]
            pub(crate) unsafe fn open(library: &libloading::Library) -> Result<Api, String> {
                Ok(Api { $(
                    // SAFETY: the symbol is the WAMR function with this signature (per the
                    // contract above).
                    $name: unsafe {
                        *library
                            .get::<unsafe extern "C" fn( $( $arg ),* ) $( -> $ret )?>(
                                concat!(stringify!($name), "\0").as_bytes(),
                            )
                            .map_err(|e| format!("{}: {e}", stringify!($name)))?
                    },
                )* })
            }
        }
    };
}

wamr_api! {
    wasm_runtime_full_init(*mut sys::RuntimeInitArgs) -> bool;
    wasm_runtime_set_log_level(sys::log_level_t);
    wasm_runtime_register_natives(*const c_char, *mut sys::NativeSymbol, u32) -> bool;
    wasm_runtime_register_natives_raw(*const c_char, *mut sys::NativeSymbol, u32) -> bool;
    wasm_runtime_init_thread_env() -> bool;
    wasm_runtime_destroy_thread_env();
    wasm_runtime_load(*mut u8, u32, *mut c_char, u32) -> sys::wasm_module_t;
    wasm_runtime_unload(sys::wasm_module_t);
    wasm_runtime_instantiate_ex(
        sys::wasm_module_t,
        *const sys::InstantiationArgs,
        *mut c_char,
        u32
    ) -> sys::wasm_module_inst_t;
    wasm_runtime_deinstantiate(sys::wasm_module_inst_t);
    wasm_runtime_get_running_mode(sys::wasm_module_inst_t) -> sys::RunningMode;
    wasm_runtime_set_custom_data(sys::wasm_module_inst_t, *mut c_void);
    wasm_runtime_get_custom_data(sys::wasm_module_inst_t) -> *mut c_void;
    wasm_runtime_create_exec_env(sys::wasm_module_inst_t, u32) -> sys::wasm_exec_env_t;
    wasm_runtime_destroy_exec_env(sys::wasm_exec_env_t);
    wasm_runtime_get_module_inst(sys::wasm_exec_env_t) -> sys::wasm_module_inst_t;
    wasm_runtime_lookup_function(sys::wasm_module_inst_t, *const c_char) -> sys::wasm_function_inst_t;
    wasm_func_get_param_count(sys::wasm_function_inst_t, sys::wasm_module_inst_t) -> u32;
    wasm_func_get_result_count(sys::wasm_function_inst_t, sys::wasm_module_inst_t) -> u32;
    wasm_runtime_call_wasm(sys::wasm_exec_env_t, sys::wasm_function_inst_t, u32, *mut u32) -> bool;
    wasm_runtime_get_exception(sys::wasm_module_inst_t) -> *const c_char;
    wasm_runtime_set_exception(sys::wasm_module_inst_t, *const c_char);
    wasm_runtime_clear_exception(sys::wasm_module_inst_t);
    wasm_runtime_get_default_memory(sys::wasm_module_inst_t) -> sys::wasm_memory_inst_t;
    wasm_memory_get_base_address(sys::wasm_memory_inst_t) -> *mut c_void;
    wasm_memory_get_cur_page_count(sys::wasm_memory_inst_t) -> u64;
    wasm_memory_get_bytes_per_page(sys::wasm_memory_inst_t) -> u64;
}
