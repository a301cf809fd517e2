//! C declarations: the Envoy callbacks the bridge calls (`envoy_dynamic_module_callback_*`,
//! written from the names and signatures documented in Envoy's dynamic-module `abi.h`, ABI
//! v0.2.0) and the Proxy-Wasm callbacks the filter's SDK exports (`proxy_on_*`, `_initialize`).
//!
//! C enums cross as `u32`, `bool` as Rust `bool`, `size_t` as `usize`. Every Envoy symbol named
//! here must exist in the Envoy binary or the module fails to load; they are listed in
//! [`crate::envoy_abi::ENVOY_CALLBACKS`], which the runner checks against the installed Envoy.

use std::ffi::c_void;

/// `envoy_dynamic_module_type_envoy_buffer`: bytes owned by Envoy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EnvoyBuffer {
    /// Start (may be null when `length` is 0).
    pub ptr: *const u8,
    /// Length in bytes.
    pub length: usize,
}

impl EnvoyBuffer {
    /// An empty buffer, for Envoy to fill in.
    pub const EMPTY: Self = Self {
        ptr: std::ptr::null(),
        length: 0,
    };

    /// The bytes (valid as long as Envoy keeps them: until the stream changes).
    ///
    /// # Safety
    /// `ptr`/`length` must describe live memory, as Envoy guarantees during a hook.
    pub unsafe fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.length == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees the buffer is live.
            unsafe { std::slice::from_raw_parts(self.ptr, self.length) }
        }
    }
}

/// `envoy_dynamic_module_type_module_buffer`: bytes owned by the module.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ModuleBuffer {
    /// Start (null for "no value").
    pub ptr: *const u8,
    /// Length in bytes.
    pub length: usize,
}

impl ModuleBuffer {
    /// A buffer over `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            length: bytes.len(),
        }
    }

    /// The null buffer ("no value": removes a header).
    pub const NULL: Self = Self {
        ptr: std::ptr::null(),
        length: 0,
    };
}

/// `envoy_dynamic_module_type_envoy_http_header`: a header owned by Envoy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EnvoyHttpHeader {
    /// Key start.
    pub key_ptr: *const u8,
    /// Key length.
    pub key_length: usize,
    /// Value start.
    pub value_ptr: *const u8,
    /// Value length.
    pub value_length: usize,
}

/// `envoy_dynamic_module_type_module_http_header`: a header owned by the module.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ModuleHttpHeader {
    /// Key start.
    pub key_ptr: *const u8,
    /// Key length.
    pub key_length: usize,
    /// Value start.
    pub value_ptr: *const u8,
    /// Value length.
    pub value_length: usize,
}

/// `envoy_dynamic_module_type_http_filter_envoy_ptr`.
pub type FilterEnvoyPtr = *mut c_void;
/// `envoy_dynamic_module_type_http_filter_config_envoy_ptr`.
pub type ConfigEnvoyPtr = *mut c_void;

unsafe extern "C" {
    pub fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    pub fn envoy_dynamic_module_callback_log_enabled(level: u32) -> bool;

    pub fn envoy_dynamic_module_callback_http_get_header(
        filter: FilterEnvoyPtr,
        header_type: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_size: *mut usize,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_get_headers_size(
        filter: FilterEnvoyPtr,
        header_type: u32,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_headers(
        filter: FilterEnvoyPtr,
        header_type: u32,
        result_headers: *mut EnvoyHttpHeader,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_add_header(
        filter: FilterEnvoyPtr,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_set_header(
        filter: FilterEnvoyPtr,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;

    pub fn envoy_dynamic_module_callback_http_send_response(
        filter: FilterEnvoyPtr,
        status_code: u32,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );

    pub fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter: FilterEnvoyPtr,
        body_type: u32,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter: FilterEnvoyPtr,
        body_type: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_append_body(
        filter: FilterEnvoyPtr,
        body_type: u32,
        data: ModuleBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_drain_body(
        filter: FilterEnvoyPtr,
        body_type: u32,
        bytes: usize,
    ) -> bool;

    pub fn envoy_dynamic_module_callback_http_filter_continue_decoding(filter: FilterEnvoyPtr);
    pub fn envoy_dynamic_module_callback_http_filter_continue_encoding(filter: FilterEnvoyPtr);

    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: FilterEnvoyPtr,
        attribute_id: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_int(
        filter: FilterEnvoyPtr,
        attribute_id: u32,
        result: *mut u64,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_bool(
        filter: FilterEnvoyPtr,
        attribute_id: u32,
        result: *mut bool,
    ) -> bool;

    pub fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: ConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: ConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_histogram(
        config: ConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
}

/// The per-stream and per-config metric updates share one shape:
/// `(owner, id, label_values, label_values_length, value) -> metrics_result`.
macro_rules! metric_updates {
    ($owner:ty: $($name:ident),* $(,)?) => {
        unsafe extern "C" {
            $(pub fn $name(
                owner: $owner,
                id: usize,
                label_values: *mut ModuleBuffer,
                label_values_length: usize,
                value: u64,
            ) -> u32;)*
        }
    };
}

metric_updates!(FilterEnvoyPtr:
    envoy_dynamic_module_callback_http_filter_increment_counter,
    envoy_dynamic_module_callback_http_filter_increment_gauge,
    envoy_dynamic_module_callback_http_filter_decrement_gauge,
    envoy_dynamic_module_callback_http_filter_set_gauge,
    envoy_dynamic_module_callback_http_filter_record_histogram_value,
);

metric_updates!(ConfigEnvoyPtr:
    envoy_dynamic_module_callback_http_filter_config_increment_counter,
    envoy_dynamic_module_callback_http_filter_config_increment_gauge,
    envoy_dynamic_module_callback_http_filter_config_decrement_gauge,
    envoy_dynamic_module_callback_http_filter_config_set_gauge,
    envoy_dynamic_module_callback_http_filter_config_record_histogram_value,
);

// The Proxy-Wasm side: exported by the filter's SDK, linked into the same module (or, in the
// loader build, looked up in the filter library it opens).
#[cfg(feature = "loader")]
pub use super::loader::{
    _initialize, proxy_on_configure, proxy_on_context_create, proxy_on_delete, proxy_on_done,
    proxy_on_log, proxy_on_memory_allocate, proxy_on_request_body, proxy_on_request_headers,
    proxy_on_request_trailers, proxy_on_response_body, proxy_on_response_headers,
    proxy_on_response_trailers, proxy_on_vm_start,
};

#[cfg(not(feature = "loader"))]
unsafe extern "C" {
    pub fn _initialize();
    pub fn proxy_on_memory_allocate(size: usize) -> *mut u8;
    pub fn proxy_on_context_create(context_id: u32, parent_context_id: u32);
    pub fn proxy_on_vm_start(context_id: u32, vm_configuration_size: usize) -> bool;
    pub fn proxy_on_configure(context_id: u32, plugin_configuration_size: usize) -> bool;
    pub fn proxy_on_request_headers(context_id: u32, headers: usize, end_of_stream: bool) -> u32;
    pub fn proxy_on_request_body(context_id: u32, body_size: usize, end_of_stream: bool) -> u32;
    pub fn proxy_on_request_trailers(context_id: u32, trailers: usize) -> u32;
    pub fn proxy_on_response_headers(context_id: u32, headers: usize, end_of_stream: bool) -> u32;
    pub fn proxy_on_response_body(context_id: u32, body_size: usize, end_of_stream: bool) -> u32;
    pub fn proxy_on_response_trailers(context_id: u32, trailers: usize) -> u32;
    pub fn proxy_on_done(context_id: u32) -> bool;
    pub fn proxy_on_log(context_id: u32);
    pub fn proxy_on_delete(context_id: u32);
}
