//! The Proxy-Wasm ABI as data: enums, and declarative tables of every hostcall and callback.
//!
//! The tables are macros that call back another macro with one entry per function, so each engine
//! adapter expands them into its own import/export mechanism instead of hand-writing 40 wrappers.
//! Argument kinds in the tables:
//! - `u32`: an id, an enum value or a small integer (wasm `i32`, native `u32`);
//! - `ptr`: an address in guest memory (wasm `i32`, native pointer-sized);
//! - `size`: a byte count or element count (wasm `i32`, native `usize`);
//! - `out`: the address where the host writes a result (wasm `i32`, native pointer-sized);
//! - `i64`: a 64-bit integer (both);
//! - `i32`: a signed 32-bit integer (both);
//! - `flag`: a boolean (wasm `i32`, native `bool`).

pub use filterbench_proxy_abi::{
    Action, BufferType, LogLevel, MapType, MetricType, Status, StreamType,
};

/// WASI errno values the host returns.
pub mod errno {
    /// Success.
    pub const SUCCESS: u32 = 0;
    /// Bad file descriptor.
    pub const BADF: u32 = 8;
    /// Bad address.
    pub const FAULT: u32 = 21;
    /// Invalid argument.
    pub const INVAL: u32 = 28;
    /// Function not implemented.
    pub const NOSYS: u32 = 52;
    /// Not supported.
    pub const NOTSUP: u32 = 58;
}

/// The ABI versions a module can declare with a `proxy_abi_version_*` marker export.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_1_0`.
    V0_1_0,
    /// `proxy_abi_version_0_2_0`.
    V0_2_0,
    /// `proxy_abi_version_0_2_1`.
    V0_2_1,
}

impl AbiVersion {
    /// The marker export name for this version.
    pub const fn marker(self) -> &'static str {
        match self {
            Self::V0_1_0 => "proxy_abi_version_0_1_0",
            Self::V0_2_0 => "proxy_abi_version_0_2_0",
            Self::V0_2_1 => "proxy_abi_version_0_2_1",
        }
    }

    /// All versions, newest first.
    pub const ALL: [AbiVersion; 3] = [Self::V0_2_1, Self::V0_2_0, Self::V0_1_0];

    /// Finds the newest declared version among a module's function export names.
    pub fn detect(mut exports: impl FnMut(&str) -> bool) -> Option<Self> {
        Self::ALL.into_iter().find(|v| exports(v.marker()))
    }

    /// Human-readable version, e.g. `0.2.1`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V0_1_0 => "0.1.0",
            Self::V0_2_0 => "0.2.0",
            Self::V0_2_1 => "0.2.1",
        }
    }
}

/// Calls `$m!` with every `env.proxy_*` hostcall the host provides:
/// `name(arg: kind, ...);` — each returns a status (`u32`).
#[macro_export]
macro_rules! for_each_proxy_hostcall {
    ($m:ident) => {
        $m! {
            proxy_log(level: u32, message: ptr, message_size: size);
            proxy_get_log_level(return_level: out);
            proxy_get_current_time_nanoseconds(return_time: out);
            proxy_set_tick_period_milliseconds(period: u32);
            proxy_get_buffer_bytes(buffer_type: u32, start: size, max_size: size, return_data: out, return_size: out);
            proxy_set_buffer_bytes(buffer_type: u32, start: size, size: size, data: ptr, data_size: size);
            proxy_get_buffer_status(buffer_type: u32, return_size: out, return_flags: out);
            proxy_get_header_map_size(map_type: u32, return_size: out);
            proxy_get_header_map_pairs(map_type: u32, return_data: out, return_size: out);
            proxy_set_header_map_pairs(map_type: u32, data: ptr, data_size: size);
            proxy_get_header_map_value(map_type: u32, key: ptr, key_size: size, return_data: out, return_size: out);
            proxy_add_header_map_value(map_type: u32, key: ptr, key_size: size, value: ptr, value_size: size);
            proxy_replace_header_map_value(map_type: u32, key: ptr, key_size: size, value: ptr, value_size: size);
            proxy_remove_header_map_value(map_type: u32, key: ptr, key_size: size);
            proxy_continue_stream(stream_type: u32);
            proxy_close_stream(stream_type: u32);
            proxy_get_status(return_code: out, return_message: out, return_message_size: out);
            proxy_send_local_response(status_code: u32, details: ptr, details_size: size, body: ptr, body_size: size, headers: ptr, headers_size: size, grpc_status: i32);
            proxy_http_call(upstream: ptr, upstream_size: size, headers: ptr, headers_size: size, body: ptr, body_size: size, trailers: ptr, trailers_size: size, timeout_ms: u32, return_token: out);
            proxy_grpc_call(upstream: ptr, upstream_size: size, service: ptr, service_size: size, method: ptr, method_size: size, metadata: ptr, metadata_size: size, message: ptr, message_size: size, timeout_ms: u32, return_token: out);
            proxy_grpc_stream(upstream: ptr, upstream_size: size, service: ptr, service_size: size, method: ptr, method_size: size, metadata: ptr, metadata_size: size, return_token: out);
            proxy_grpc_send(token: u32, message: ptr, message_size: size, end_stream: flag);
            proxy_grpc_cancel(token: u32);
            proxy_grpc_close(token: u32);
            proxy_set_shared_data(key: ptr, key_size: size, value: ptr, value_size: size, cas: u32);
            proxy_get_shared_data(key: ptr, key_size: size, return_value: out, return_value_size: out, return_cas: out);
            proxy_register_shared_queue(name: ptr, name_size: size, return_id: out);
            proxy_resolve_shared_queue(vm_id: ptr, vm_id_size: size, name: ptr, name_size: size, return_id: out);
            proxy_enqueue_shared_queue(queue_id: u32, value: ptr, value_size: size);
            proxy_dequeue_shared_queue(queue_id: u32, return_value: out, return_value_size: out);
            proxy_define_metric(metric_type: u32, name: ptr, name_size: size, return_id: out);
            proxy_record_metric(metric_id: u32, value: i64);
            proxy_increment_metric(metric_id: u32, offset: i64);
            proxy_get_metric(metric_id: u32, return_value: out);
            proxy_get_property(path: ptr, path_size: size, return_value: out, return_value_size: out);
            proxy_set_property(path: ptr, path_size: size, value: ptr, value_size: size);
            proxy_call_foreign_function(name: ptr, name_size: size, args: ptr, args_size: size, return_results: out, return_results_size: out);
            proxy_done();
            proxy_set_effective_context(context_id: u32);
            proxy_get_configuration(return_data: out, return_size: out);
            proxy_continue_request();
            proxy_continue_response();
            proxy_clear_route_cache();
        }
    };
}

/// Calls `$m!` with every `wasi_snapshot_preview1` function the host provides that returns an
/// errno (`u32`). `proc_exit`, which returns nothing and never returns, is wired by each
/// adapter separately.
#[macro_export]
macro_rules! for_each_wasi_hostcall {
    ($m:ident) => {
        $m! {
            fd_write(fd: u32, iovs: ptr, iovs_len: size, return_written: out);
            fd_read(fd: u32, iovs: ptr, iovs_len: size, return_read: out);
            fd_close(fd: u32);
            fd_seek(fd: u32, offset: i64, whence: u32, return_offset: out);
            fd_fdstat_get(fd: u32, return_stat: out);
            fd_fdstat_set_flags(fd: u32, flags: u32);
            fd_prestat_get(fd: u32, return_prestat: out);
            fd_prestat_dir_name(fd: u32, path: ptr, path_len: size);
            clock_time_get(clock_id: u32, precision: i64, return_time: out);
            random_get(buf: ptr, buf_len: size);
            environ_sizes_get(return_count: out, return_buf_size: out);
            environ_get(environ: ptr, environ_buf: ptr);
            args_sizes_get(return_count: out, return_buf_size: out);
            args_get(argv: ptr, argv_buf: ptr);
            sched_yield();
            poll_oneoff(subscriptions: ptr, events: ptr, count: size, return_events: out);
        }
    };
}

/// Calls `$m!` with every module callback the host may call:
/// `method = "export_name" (arg: kind, ...) -> result;` where result is `none`, `flag` or `action`.
#[macro_export]
macro_rules! for_each_callback {
    ($m:ident) => {
        $m! {
            on_context_create = "proxy_on_context_create" (context_id: u32, parent_context_id: u32) -> none;
            on_vm_start = "proxy_on_vm_start" (context_id: u32, vm_configuration_size: size) -> flag;
            on_configure = "proxy_on_configure" (context_id: u32, plugin_configuration_size: size) -> flag;
            on_tick = "proxy_on_tick" (context_id: u32) -> none;
            on_request_headers = "proxy_on_request_headers" (context_id: u32, num_headers: size, end_of_stream: flag) -> action;
            on_request_body = "proxy_on_request_body" (context_id: u32, body_size: size, end_of_stream: flag) -> action;
            on_request_trailers = "proxy_on_request_trailers" (context_id: u32, num_trailers: size) -> action;
            on_response_headers = "proxy_on_response_headers" (context_id: u32, num_headers: size, end_of_stream: flag) -> action;
            on_response_body = "proxy_on_response_body" (context_id: u32, body_size: size, end_of_stream: flag) -> action;
            on_response_trailers = "proxy_on_response_trailers" (context_id: u32, num_trailers: size) -> action;
            on_done = "proxy_on_done" (context_id: u32) -> flag;
            on_log = "proxy_on_log" (context_id: u32) -> none;
            on_delete = "proxy_on_delete" (context_id: u32) -> none;
            on_http_call_response = "proxy_on_http_call_response" (context_id: u32, token: u32, num_headers: size, body_size: size, num_trailers: size) -> none;
            on_queue_ready = "proxy_on_queue_ready" (context_id: u32, queue_id: u32) -> none;
            on_new_connection = "proxy_on_new_connection" (context_id: u32) -> action;
            on_downstream_data = "proxy_on_downstream_data" (context_id: u32, data_size: size, end_of_stream: flag) -> action;
            on_upstream_data = "proxy_on_upstream_data" (context_id: u32, data_size: size, end_of_stream: flag) -> action;
            on_downstream_connection_close = "proxy_on_downstream_connection_close" (context_id: u32, peer_type: u32) -> none;
            on_upstream_connection_close = "proxy_on_upstream_connection_close" (context_id: u32, peer_type: u32) -> none;
            on_grpc_receive_initial_metadata = "proxy_on_grpc_receive_initial_metadata" (context_id: u32, token: u32, num_headers: size) -> none;
            on_grpc_receive = "proxy_on_grpc_receive" (context_id: u32, token: u32, message_size: size) -> none;
            on_grpc_receive_trailing_metadata = "proxy_on_grpc_receive_trailing_metadata" (context_id: u32, token: u32, num_trailers: size) -> none;
            on_grpc_close = "proxy_on_grpc_close" (context_id: u32, token: u32, status_code: u32) -> none;
        }
    };
}

macro_rules! collect_names {
    ($( $name:ident ( $( $arg:ident : $kind:ident ),* ) ; )*) => {
        &[ $( stringify!($name) ),* ]
    };
}

/// Names of every `env` hostcall the host provides.
pub const PROXY_HOSTCALL_NAMES: &[&str] = for_each_proxy_hostcall!(collect_names);

/// Names of every `wasi_snapshot_preview1` function the host provides (including `proc_exit`).
pub const WASI_HOSTCALL_NAMES: &[&str] = {
    const ERRNO_FNS: &[&str] = for_each_wasi_hostcall!(collect_names);
    const ALL: [&str; ERRNO_FNS.len() + 1] = {
        let mut all = ["proc_exit"; ERRNO_FNS.len() + 1];
        let mut i = 0;
        while i < ERRNO_FNS.len() {
            all[i] = ERRNO_FNS[i];
            i += 1;
        }
        all
    };
    &ALL
};

/// The import module name of the Proxy-Wasm hostcalls.
pub const PROXY_MODULE: &str = "env";
/// The import module name of the WASI functions.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Every module name the WASI functions are provided under: `wasi_snapshot_preview1` and the
/// older `wasi_unstable`, which AssemblyScript 0.14's runtime imports `proc_exit` from (Envoy
/// provides both too).
pub const WASI_MODULES: [&str; 2] = [WASI_MODULE, "wasi_unstable"];

/// Whether the host provides the import `module.name` (for a clear error before linking).
pub fn host_provides(module: &str, name: &str) -> bool {
    match module {
        PROXY_MODULE => PROXY_HOSTCALL_NAMES.contains(&name),
        m if WASI_MODULES.contains(&m) => WASI_HOSTCALL_NAMES.contains(&name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_cover_the_hostcalls_a_rust_sdk_filter_imports() {
        // The 32 env imports of a proxy-wasm 0.2.x filter (see the ABI notes).
        for name in [
            "proxy_close_stream",
            "proxy_send_local_response",
            "proxy_continue_stream",
            "proxy_get_buffer_bytes",
            "proxy_set_buffer_bytes",
            "proxy_add_header_map_value",
            "proxy_replace_header_map_value",
            "proxy_remove_header_map_value",
            "proxy_get_header_map_value",
            "proxy_get_header_map_pairs",
            "proxy_set_header_map_pairs",
            "proxy_get_property",
            "proxy_set_property",
            "proxy_get_shared_data",
            "proxy_set_shared_data",
            "proxy_register_shared_queue",
            "proxy_resolve_shared_queue",
            "proxy_enqueue_shared_queue",
            "proxy_dequeue_shared_queue",
            "proxy_grpc_call",
            "proxy_grpc_stream",
            "proxy_grpc_send",
            "proxy_grpc_cancel",
            "proxy_grpc_close",
            "proxy_http_call",
            "proxy_call_foreign_function",
            "proxy_done",
            "proxy_log",
            "proxy_get_status",
            "proxy_get_current_time_nanoseconds",
            "proxy_set_tick_period_milliseconds",
            "proxy_set_effective_context",
        ] {
            assert!(host_provides("env", name), "{name} missing");
        }
        for name in ["fd_write", "environ_get", "environ_sizes_get", "proc_exit"] {
            assert!(
                host_provides("wasi_snapshot_preview1", name),
                "{name} missing"
            );
        }
        assert!(!host_provides("env", "proxy_made_up"));
        assert!(!host_provides("other", "proxy_log"));
    }

    #[test]
    fn abi_version_detection_prefers_the_newest_marker() {
        let exports = ["proxy_abi_version_0_2_0", "proxy_abi_version_0_2_1"];
        assert_eq!(
            AbiVersion::detect(|n| exports.contains(&n)),
            Some(AbiVersion::V0_2_1)
        );
        assert_eq!(AbiVersion::detect(|_| false), None);
    }
}
