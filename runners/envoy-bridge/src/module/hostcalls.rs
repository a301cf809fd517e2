//! The `proxy_*` hostcalls the filter's SDK imports, defined as C symbols of the module. Each
//! one reads its arguments, hands them to the translation layer (`crate::headers`,
//! `crate::stream`, …) with the current stream or configuration, and copies results into
//! memory from the filter's own allocator (`proxy_on_memory_allocate`), as a Wasm host copies
//! into the VM. Signatures follow the Rust SDK's declarations (enums cross as `u32`).

use super::context::{self, ConfigState, Current, StreamState};
use super::envoy::{self, EnvoyLogger};
use super::ffi;
use crate::headers::EnvoyMaps;
use crate::host::{ConfigHost, MetricUpdate, StreamHost};
use crate::logging::EnvoyLog;
use crate::properties::EnvoyProperties;
use crate::proxy_abi::{
    BufferType, LogLevel, Status, buffers, header_maps, local_reply, logging, properties,
};
use crate::shared_data::SharedData;

/// Shared data of every filter in this module, across worker threads.
static SHARED_DATA: SharedData = SharedData::new();

/// The bytes at `ptr..ptr+len` of the filter's memory.
///
/// # Safety
/// The filter is trusted native code: its pointers are valid for their lengths.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: see the function's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Copies `data` into a fresh allocation of the filter and stores its address and length.
fn give(data: &[u8], ret_ptr: *mut *mut u8, ret_len: *mut usize) -> Status {
    if ret_ptr.is_null() || ret_len.is_null() {
        return Status::InvalidMemoryAccess;
    }
    let ptr = if data.is_empty() {
        std::ptr::null_mut()
    } else {
        // SAFETY: the SDK's allocator; the filter frees the block.
        let ptr = unsafe { ffi::proxy_on_memory_allocate(data.len()) };
        if ptr.is_null() {
            return Status::InternalFailure;
        }
        // SAFETY: a fresh block of `data.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
        ptr
    };
    // SAFETY: non-null out-pointers of the caller.
    unsafe {
        *ret_ptr = ptr;
        *ret_len = data.len();
    }
    Status::Ok
}

/// `give` for a translation result.
fn give_result(result: Result<&[u8], Status>, ret_ptr: *mut *mut u8, ret_len: *mut usize) -> u32 {
    match result {
        Ok(data) => give(data, ret_ptr, ret_len) as u32,
        Err(status) => status as u32,
    }
}

/// A shared rule's result as the status to return.
fn status(result: Result<(), Status>) -> Status {
    result.err().unwrap_or(Status::Ok)
}

/// Runs `f` on the current stream; outside a stream callback, `BAD_ARGUMENT`.
fn with_stream(f: impl FnOnce(&mut StreamState) -> Status) -> u32 {
    match context::current() {
        // SAFETY: the hook that set the target holds only raw pointers to the stream.
        Current::Stream(stream) => f(unsafe { &mut *stream }) as u32,
        _ => Status::BadArgument as u32,
    }
}

/// The current configuration (a root or stream callback).
fn config() -> Option<&'static ConfigState> {
    // SAFETY: configurations outlive every callback made on their behalf.
    match context::current() {
        Current::Root(config, _) => Some(unsafe { &*config }),
        Current::Stream(stream) => Some(unsafe { &*(*stream).config }),
        Current::Idle => None,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_log(level: u32, message: *const u8, size: usize) -> u32 {
    // SAFETY: the filter's buffer.
    let message = unsafe { bytes(message, size) };
    status(logging::log(&mut EnvoyLog(EnvoyLogger), level, message)) as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_log_level(ret_level: *mut u32) -> u32 {
    if ret_level.is_null() {
        return Status::InvalidMemoryAccess as u32;
    }
    // SAFETY: non-null out-pointer.
    unsafe { *ret_level = logging::log_level(&EnvoyLog(EnvoyLogger)) };
    Status::Ok as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_current_time_nanoseconds(ret_time: *mut u64) -> u32 {
    if ret_time.is_null() {
        return Status::InvalidMemoryAccess as u32;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // SAFETY: non-null out-pointer.
    unsafe { *ret_time = now };
    Status::Ok as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_tick_period_milliseconds(period: u32) -> u32 {
    // Ticks would need Envoy's config scheduler and a timer: not bridged. Turning them off is.
    (if period == 0 {
        Status::Ok
    } else {
        Status::Unimplemented
    }) as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_buffer_bytes(
    buffer: u32,
    start: usize,
    max: usize,
    ret_ptr: *mut *mut u8,
    ret_len: *mut usize,
) -> u32 {
    match BufferType::from_raw(buffer) {
        Some(BufferType::PluginConfiguration) => {
            let Some(config) = config() else {
                return Status::NotFound as u32;
            };
            let bytes = &config.plugin_config;
            let range = buffers::read_range(bytes.len(), start, max);
            give_result(range.map(|r| &bytes[r]), ret_ptr, ret_len)
        }
        Some(BufferType::VmConfiguration) => give_result(Ok(&[]), ret_ptr, ret_len),
        _ => with_stream(|s| match s.core.get_body(&s.envoy, buffer, start, max) {
            Ok(data) => give(&data, ret_ptr, ret_len),
            Err(status) => status,
        }),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_buffer_bytes(
    buffer: u32,
    start: usize,
    size: usize,
    data: *const u8,
    data_len: usize,
) -> u32 {
    // SAFETY: the filter's buffer.
    let data = unsafe { bytes(data, data_len) };
    with_stream(|s| s.core.set_body(&mut s.envoy, buffer, start, size, data))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_header_map_pairs(
    map: u32,
    ret_ptr: *mut *mut u8,
    ret_len: *mut usize,
) -> u32 {
    with_stream(|s| {
        let mut data = Vec::new();
        match header_maps::serialize(
            &EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            &mut data,
        ) {
            Ok(()) => give(&data, ret_ptr, ret_len),
            Err(status) => status,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_header_map_pairs(map: u32, data: *const u8, size: usize) -> u32 {
    // SAFETY: the filter's buffer.
    let data = unsafe { bytes(data, size) };
    with_stream(|s| {
        status(header_maps::set_pairs(
            &mut EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            data,
        ))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_header_map_value(
    map: u32,
    key: *const u8,
    key_len: usize,
    ret_ptr: *mut *mut u8,
    ret_len: *mut usize,
) -> u32 {
    // SAFETY: the filter's buffer.
    let key = unsafe { bytes(key, key_len) };
    with_stream(|s| {
        match header_maps::value(
            &EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            key,
        ) {
            Ok(value) => give(value, ret_ptr, ret_len),
            Err(status) => status,
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_remove_header_map_value(
    map: u32,
    key: *const u8,
    key_len: usize,
) -> u32 {
    // SAFETY: the filter's buffer.
    let key = unsafe { bytes(key, key_len) };
    with_stream(|s| {
        status(header_maps::remove(
            &mut EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            key,
        ))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_replace_header_map_value(
    map: u32,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> u32 {
    // SAFETY: the filter's buffers.
    let (key, value) = unsafe { (bytes(key, key_len), bytes(value, value_len)) };
    with_stream(|s| {
        status(header_maps::replace(
            &mut EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            key,
            value,
        ))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_add_header_map_value(
    map: u32,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> u32 {
    // SAFETY: the filter's buffers.
    let (key, value) = unsafe { (bytes(key, key_len), bytes(value, value_len)) };
    with_stream(|s| {
        status(header_maps::add(
            &mut EnvoyMaps::of(&mut s.envoy, s.core.response_headers_sent),
            map,
            key,
            value,
        ))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_property(
    path: *const u8,
    path_len: usize,
    ret_ptr: *mut *mut u8,
    ret_len: *mut usize,
) -> u32 {
    // SAFETY: the filter's buffer.
    let path = unsafe { bytes(path, path_len) };
    let result = match context::current() {
        Current::Stream(stream) => {
            // SAFETY: see `with_stream`.
            let stream = unsafe { &*stream };
            // SAFETY: configurations outlive their streams.
            let plugin = unsafe { &(*stream.config).plugin };
            let source = EnvoyProperties {
                stream: Some(&stream.envoy),
                plugin,
            };
            properties::get(&source, path)
        }
        Current::Root(config, _) => {
            // SAFETY: see `config`.
            let plugin = unsafe { &(*config).plugin };
            let source = EnvoyProperties {
                stream: None::<&envoy::EnvoyStream>,
                plugin,
            };
            properties::get(&source, path)
        }
        Current::Idle => Err(Status::NotFound),
    };
    match result {
        Ok(value) => give(&value, ret_ptr, ret_len) as u32,
        Err(status) => status as u32,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_property(
    _path: *const u8,
    _path_len: usize,
    _value: *const u8,
    _value_len: usize,
) -> u32 {
    // Dynamic modules can set filter state and metadata, not arbitrary attributes.
    Status::Unimplemented as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_get_shared_data(
    key: *const u8,
    key_len: usize,
    ret_ptr: *mut *mut u8,
    ret_len: *mut usize,
    ret_cas: *mut u32,
) -> u32 {
    // SAFETY: the filter's buffer.
    let key = unsafe { bytes(key, key_len) };
    match SHARED_DATA.get(key) {
        Ok((value, cas)) => {
            if !ret_cas.is_null() {
                // SAFETY: non-null out-pointer.
                unsafe { *ret_cas = cas };
            }
            give(&value, ret_ptr, ret_len) as u32
        }
        Err(status) => status as u32,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_shared_data(
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cas: u32,
) -> u32 {
    // SAFETY: the filter's buffers.
    let (key, value) = unsafe { (bytes(key, key_len), bytes(value, value_len)) };
    SHARED_DATA.set(key, value, cas) as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_continue_stream(stream: u32) -> u32 {
    with_stream(|s| s.core.continue_stream(stream))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_send_local_response(
    status: u32,
    details: *const u8,
    details_len: usize,
    body: *const u8,
    body_len: usize,
    headers: *const u8,
    headers_len: usize,
    grpc_status: i32,
) -> u32 {
    // SAFETY: the filter's buffers.
    let (details, body, headers) = unsafe {
        (
            bytes(details, details_len),
            bytes(body, body_len),
            bytes(headers, headers_len),
        )
    };
    with_stream(|s| {
        let sent = local_reply::send(&mut s.core, status, details, body, headers, grpc_status);
        self::status(sent)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_set_effective_context(context_id: u32) -> u32 {
    let current = match context::current() {
        // SAFETY: see `with_stream`.
        Current::Stream(stream) => unsafe { (*stream).core.context_id },
        Current::Root(_, root) => root,
        Current::Idle => return Status::BadArgument as u32,
    };
    // Only the context being called can be made effective: the bridge keeps no registry of
    // other streams (nothing it supports calls back into another context).
    (if context_id == current {
        Status::Ok
    } else {
        Status::BadArgument
    }) as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_done() -> u32 {
    Status::NotFound as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_define_metric(
    kind: u32,
    name: *const u8,
    name_len: usize,
    ret_id: *mut u32,
) -> u32 {
    let Some(config) = config() else {
        return Status::BadArgument as u32;
    };
    if ret_id.is_null() {
        return Status::InvalidMemoryAccess as u32;
    }
    // SAFETY: the filter's buffer.
    let name = unsafe { bytes(name, name_len) };
    match config.metrics.define(&config.envoy, kind, name) {
        Ok(id) => {
            // SAFETY: non-null out-pointer.
            unsafe { *ret_id = id };
            Status::Ok as u32
        }
        Err(status) => {
            if status == Status::InternalFailure {
                envoy::log(
                    LogLevel::Error,
                    format!(
                        "filterbench envoy-bridge: Envoy refused to define metric {:?}; dynamic \
                         modules define metrics only while the filter configuration is created \
                         (define them in proxy_on_configure)",
                        String::from_utf8_lossy(name)
                    )
                    .as_bytes(),
                );
            }
            status as u32
        }
    }
}

/// Applies a metric update on the current stream (or on the configuration outside one).
fn update_metric(update: Result<(usize, MetricUpdate), Status>) -> u32 {
    let (envoy_id, update) = match update {
        Ok(update) => update,
        Err(status) => return status as u32,
    };
    let applied = match context::current() {
        // SAFETY: see `with_stream`.
        Current::Stream(stream) => unsafe { &mut *stream }
            .envoy
            .update_metric(envoy_id, update),
        Current::Root(config, _) => unsafe { &*config }.envoy.update_metric(envoy_id, update),
        Current::Idle => return Status::BadArgument as u32,
    };
    (if applied {
        Status::Ok
    } else {
        Status::InternalFailure
    }) as u32
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_record_metric(id: u32, value: u64) -> u32 {
    match config() {
        Some(config) => update_metric(config.metrics.record(id, value)),
        None => Status::BadArgument as u32,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn proxy_increment_metric(id: u32, delta: i64) -> u32 {
    match config() {
        Some(config) => update_metric(config.metrics.increment(id, delta)),
        None => Status::BadArgument as u32,
    }
}

/// Hostcalls with no dynamic-module counterpart: they answer `UNIMPLEMENTED` (or, where the
/// ABI has a fitting "nothing here" status, that one) and touch nothing.
macro_rules! not_bridged {
    ($($name:ident ( $($arg:ident : $ty:ty),* ) => $status:expr;)*) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> u32 {
                $(let _ = $arg;)*
                $status as u32
            }
        )*
    };
}

not_bridged! {
    proxy_get_metric(id: u32, ret: *mut u64) => Status::Unimplemented;
    proxy_register_shared_queue(name: *const u8, len: usize, ret: *mut u32) => Status::Unimplemented;
    proxy_resolve_shared_queue(vm: *const u8, vm_len: usize, name: *const u8, len: usize, ret: *mut u32) => Status::Unimplemented;
    proxy_dequeue_shared_queue(id: u32, ret: *mut *mut u8, ret_len: *mut usize) => Status::Unimplemented;
    proxy_enqueue_shared_queue(id: u32, value: *const u8, len: usize) => Status::Unimplemented;
    proxy_close_stream(stream: u32) => Status::Unimplemented;
    proxy_http_call(upstream: *const u8, upstream_len: usize, headers: *const u8, headers_len: usize, body: *const u8, body_len: usize, trailers: *const u8, trailers_len: usize, timeout: u32, ret: *mut u32) => Status::Unimplemented;
    proxy_grpc_call(upstream: *const u8, upstream_len: usize, service: *const u8, service_len: usize, method: *const u8, method_len: usize, metadata: *const u8, metadata_len: usize, message: *const u8, message_len: usize, timeout: u32, ret: *mut u32) => Status::Unimplemented;
    proxy_grpc_stream(upstream: *const u8, upstream_len: usize, service: *const u8, service_len: usize, method: *const u8, method_len: usize, metadata: *const u8, metadata_len: usize, ret: *mut u32) => Status::Unimplemented;
    proxy_grpc_send(token: u32, message: *const u8, len: usize, end_stream: bool) => Status::Unimplemented;
    proxy_grpc_cancel(token: u32) => Status::Unimplemented;
    proxy_grpc_close(token: u32) => Status::Unimplemented;
    proxy_get_status(code: *mut u32, message: *mut *mut u8, len: *mut usize) => Status::Unimplemented;
    proxy_call_foreign_function(name: *const u8, name_len: usize, args: *const u8, args_len: usize, ret: *mut *mut u8, ret_len: *mut usize) => Status::NotFound;
}
