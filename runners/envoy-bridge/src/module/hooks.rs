//! Envoy's hooks (`envoy_dynamic_module_on_*`): the module's entry points. Each one runs the
//! matching Proxy-Wasm callback of the filter with the stream (or configuration) as the
//! hostcalls' target, then does what the filter deferred (local reply, resume).

use super::context::{self, ConfigState, Current, Enter, StreamState};
use super::envoy::{self, EnvoyConfig, EnvoyStream};
use super::ffi::{self, ConfigEnvoyPtr, EnvoyBuffer, EnvoyHttpHeader, FilterEnvoyPtr};
use crate::envoy_abi::{self, HeaderType};
use crate::host::StreamHost;
use crate::metrics::Metrics;
use crate::properties::PluginNames;
use crate::proxy_abi::{Action, LogLevel};
use crate::stream::StreamCore;
use std::ffi::{c_char, c_void};

/// The ABI version string `on_program_init` returns (must equal [`envoy_abi::ABI_VERSION`]).
const ABI_VERSION_C: &std::ffi::CStr = c"v0.2.0";

/// Called once when Envoy loads the module: the ABI version it was written against.
#[unsafe(no_mangle)]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    debug_assert_eq!(ABI_VERSION_C.to_str(), Ok(envoy_abi::ABI_VERSION));
    #[cfg(feature = "loader")]
    if let Err(e) = super::loader::load() {
        // Envoy refuses the module (its log names the module); the reason goes to its stderr.
        eprintln!("filterbench bridge: {e}");
        return std::ptr::null();
    }
    ABI_VERSION_C.as_ptr()
}

/// A new filter configuration (main thread): the filter's root context is created and
/// configured here; if the filter refuses its configuration, so does Envoy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: ConfigEnvoyPtr,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    // SAFETY: Envoy's buffers are valid during this hook.
    let (name, config) = unsafe { (name.bytes(), config.bytes()) };
    let name = String::from_utf8_lossy(name).into_owned();
    let state = Box::into_raw(Box::new(ConfigState {
        id: context::next_config_id(),
        envoy: EnvoyConfig(config_envoy),
        plugin: PluginNames {
            name: name.clone(),
            vm_id: name.clone(),
        },
        plugin_config: config.to_vec(),
        metrics: Metrics::default(),
    }));
    if context::root_for(state).is_none() {
        envoy::log(
            LogLevel::Error,
            format!(
                "filterbench envoy-bridge: filter {name:?} refused its plugin configuration \
                 (proxy_on_configure returned false); see the filter's log line above"
            )
            .as_bytes(),
        );
        // SAFETY: allocated above and never handed to Envoy.
        drop(unsafe { Box::from_raw(state) });
        return std::ptr::null();
    }
    state as *const c_void
}

/// The configuration is going away: its root context on this (main) thread is deleted.
/// Worker threads' root contexts stay until the process ends, as their threads do.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    let config = config as *mut ConfigState;
    context::drop_root(config);
    // SAFETY: created by `config_new`; Envoy destroys it once, after its filters.
    drop(unsafe { Box::from_raw(config) });
}

/// A new HTTP stream: a Proxy-Wasm stream context under this thread's root context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    filter_envoy: FilterEnvoyPtr,
) -> *const c_void {
    let config = config as *const ConfigState;
    let Some(root) = context::root_for(config) else {
        return std::ptr::null();
    };
    let id = context::next_context_id();
    let stream = Box::into_raw(Box::new(StreamState {
        core: StreamCore::new(id),
        envoy: EnvoyStream(filter_envoy),
        config,
        completed: false,
    }));
    let _enter = Enter::new(Current::Stream(stream));
    // SAFETY: the SDK's export; `root` is this thread's root context of the configuration.
    unsafe { ffi::proxy_on_context_create(id, root) };
    stream as *const c_void
}

/// Runs `callback` (a call into the filter) with the stream as the hostcalls' target, then
/// does what the filter deferred. Only raw pointers are held across calls into the filter or
/// Envoy, which may re-enter the module (a local reply runs this filter's response hooks).
fn in_stream<R>(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    callback: impl FnOnce(*mut StreamState) -> R,
) -> R {
    let stream = module as *mut StreamState;
    // SAFETY: `module` is the pointer `filter_new` returned; Envoy passes it until destroy.
    unsafe { (*stream).envoy = EnvoyStream(filter_envoy) };
    let result = {
        let _enter = Enter::new(Current::Stream(stream));
        callback(stream)
    };
    // SAFETY: as above; the borrow ends before Envoy is called.
    let deferred = unsafe { (*stream).core.take_deferred() };
    for action in deferred {
        action.apply(&mut EnvoyStream(filter_envoy));
    }
    result
}

/// Context id and the count of entries in `map`, read through short borrows.
fn id_and_count(stream: *mut StreamState, map: HeaderType) -> (u32, usize) {
    // SAFETY: a live stream (see `in_stream`).
    let stream = unsafe { &*stream };
    (stream.core.context_id, stream.envoy.header_count(map))
}

/// Runs a headers callback (`map` is the headers it reports the count of); returns Envoy's
/// headers status.
fn headers_callback(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    map: HeaderType,
    end_of_stream: bool,
    call: unsafe extern "C" fn(u32, usize, bool) -> u32,
) -> u32 {
    in_stream(filter_envoy, module, |stream| {
        let (id, count) = id_and_count(stream, map);
        // SAFETY: the SDK's export for this stream's context.
        let raw = unsafe { call(id, count, end_of_stream) };
        envoy_abi::headers_status(Action::from_raw(raw))
    })
}

/// Runs a trailers callback; returns Envoy's trailers status.
fn trailers_callback(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    map: HeaderType,
    call: unsafe extern "C" fn(u32, usize) -> u32,
) -> u32 {
    in_stream(filter_envoy, module, |stream| {
        let (id, count) = id_and_count(stream, map);
        // SAFETY: the SDK's export for this stream's context.
        let raw = unsafe { call(id, count) };
        envoy_abi::trailers_status(Action::from_raw(raw))
    })
}

/// Runs a body callback of the request (`true`) or response; returns Envoy's data status.
fn body_callback(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    request: bool,
    end_of_stream: bool,
    call: unsafe extern "C" fn(u32, usize, bool) -> u32,
) -> u32 {
    in_stream(filter_envoy, module, |stream| {
        // SAFETY: a live stream; short borrows only.
        let (id, size) = unsafe {
            let s = &mut *stream;
            s.core.enter_body(request);
            (s.core.context_id, s.core.body_size(&s.envoy, request))
        };
        // SAFETY: the SDK's export for this stream's context.
        let action = Action::from_raw(unsafe { call(id, size, end_of_stream) });
        // SAFETY: a live stream.
        unsafe { (*stream).core.leave_body(request, action) }
    })
}

/// Request headers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    end_of_stream: bool,
) -> u32 {
    headers_callback(
        filter_envoy,
        module,
        HeaderType::RequestHeader,
        end_of_stream,
        ffi::proxy_on_request_headers,
    )
}

/// A request body frame.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    end_of_stream: bool,
) -> u32 {
    body_callback(
        filter_envoy,
        module,
        true,
        end_of_stream,
        ffi::proxy_on_request_body,
    )
}

/// Request trailers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
) -> u32 {
    trailers_callback(
        filter_envoy,
        module,
        HeaderType::RequestTrailer,
        ffi::proxy_on_request_trailers,
    )
}

/// Response headers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    end_of_stream: bool,
) -> u32 {
    headers_callback(
        filter_envoy,
        module,
        HeaderType::ResponseHeader,
        end_of_stream,
        ffi::proxy_on_response_headers,
    )
}

/// A response body frame.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
    end_of_stream: bool,
) -> u32 {
    body_callback(
        filter_envoy,
        module,
        false,
        end_of_stream,
        ffi::proxy_on_response_body,
    )
}

/// Response trailers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
) -> u32 {
    // SAFETY: `module` is the stream `filter_new` returned (see `in_stream`).
    unsafe { (*(module as *mut StreamState)).core.response_headers_sent = true };
    trailers_callback(
        filter_envoy,
        module,
        HeaderType::ResponseTrailer,
        ffi::proxy_on_response_trailers,
    )
}

/// The stream is complete: `proxy_on_log`, then `proxy_on_done` (the order of Envoy's Wasm
/// filter, whose access-log hook runs before the filter is destroyed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    filter_envoy: FilterEnvoyPtr,
    module: *const c_void,
) {
    in_stream(filter_envoy, module, |stream| {
        // SAFETY: a live stream; the SDK's exports for its context.
        unsafe {
            (*stream).completed = true;
            // Envoy's Wasm host reads the access log's copies of the headers from here on:
            // the response headers are readable again.
            (*stream).core.response_headers_sent = false;
            let id = (*stream).core.context_id;
            ffi::proxy_on_log(id);
            ffi::proxy_on_done(id);
        }
    });
}

/// Envoy destroys the filter: `proxy_on_delete` (after `proxy_on_done` if the stream never
/// completed, e.g. on a reset).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(module: *const c_void) {
    // SAFETY: created by `filter_new`; Envoy destroys it once.
    let stream = unsafe { Box::from_raw(module as *mut StreamState) };
    let id = stream.core.context_id;
    let _enter = Enter::new(Current::Root(stream.config, 0));
    // SAFETY: the SDK's exports for this stream's context; Envoy's stream is gone, so the
    // hostcalls' target is the configuration.
    unsafe {
        if !stream.completed {
            ffi::proxy_on_done(id);
        }
        ffi::proxy_on_delete(id);
    }
}

/// HTTP callouts are not bridged (`proxy_http_call` is UNIMPLEMENTED), so none completes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _callout_id: u64,
    _result: u32,
    _headers: *mut EnvoyHttpHeader,
    _headers_size: usize,
    _body_chunks: *mut EnvoyBuffer,
    _body_chunks_size: usize,
) {
}

/// Streamed callouts are not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _stream_id: u64,
    _headers: *mut EnvoyHttpHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

/// Streamed callouts are not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _stream_id: u64,
    _data: *const EnvoyBuffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

/// Streamed callouts are not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _stream_id: u64,
    _trailers: *mut EnvoyHttpHeader,
    _trailers_size: usize,
) {
}

/// Streamed callouts are not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _stream_id: u64,
) {
}

/// Streamed callouts are not used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _stream_id: u64,
    _reason: u32,
) {
}

/// The scheduler is not used (ticks are not bridged).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
    _event_id: u64,
) {
}

/// Write-buffer watermarks concern terminal filters; a Proxy-Wasm filter has no callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
) {
}

/// See the high watermark hook.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _filter_envoy: FilterEnvoyPtr,
    _module: *const c_void,
) {
}
