//! A conformance probe without an SDK, so that it sees the host's raw statuses (an SDK turns
//! most of them into a panic): the same behaviours as the kit's WebAssembly-text probes
//! (`runners/conformance/src/probes.rs`), for the hosts that run native code — the in-process
//! native engine and Envoy's dynamic modules through the bridge. The plugin configuration names
//! the probe: `phases`, `local-reply` or `local-reply-empty` (no trap probe: native code that
//! panics aborts its process). Answers are one-letter gauges, defined once when configured
//! (dynamic modules refuse metrics defined later).

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

unsafe extern "C" {
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(
        kind: u32,
        name: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

// Proxy-Wasm values.
const PLUGIN_CONFIGURATION: u32 = 7;
const REQUEST_HEADERS: u32 = 0;
const RESPONSE_HEADERS: u32 = 2;
const RESPONSE_TRAILERS: u32 = 3;
const GAUGE: u32 = 1;
const CONTINUE: u32 = 0;
const STOP_ITERATION: u32 = 1;

/// The probes this module can be.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Probe {
    Phases,
    LocalReply,
    LocalReplyEmpty,
}

static PROBE: AtomicU32 = AtomicU32::new(0);
/// The gauges, in the order of `GAUGES`: their ids once defined.
const GAUGES: &[u8] = b"htdlLDckrq";
static GAUGE_IDS: [AtomicU32; 10] = [const { AtomicU32::new(u32::MAX) }; 10];
static SEQUENCE: AtomicI64 = AtomicI64::new(0);

fn probe() -> Probe {
    match PROBE.load(Ordering::Relaxed) {
        1 => Probe::LocalReply,
        2 => Probe::LocalReplyEmpty,
        _ => Probe::Phases,
    }
}

/// Sets gauge `name` (a letter of `GAUGES`) to `value`.
fn gauge(name: u8, value: i64) {
    if let Some(at) = GAUGES.iter().position(|&g| g == name) {
        let id = GAUGE_IDS[at].load(Ordering::Relaxed);
        // SAFETY: a hostcall with plain values.
        unsafe { proxy_record_metric(id, value as u64) };
    }
}

fn next() -> i64 {
    SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1
}

/// The status of reading `key` from map `map` (the value is left to the allocator).
fn read_header(map: u32, key: &[u8]) -> u32 {
    let mut data = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: valid pointers for the host to write to.
    unsafe { proxy_get_header_map_value(map, key.as_ptr(), key.len(), &mut data, &mut size) }
}

/// The status of reading property `path` (segments separated by NUL).
fn read_property(path: &[u8]) -> u32 {
    let mut data = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: valid pointers for the host to write to.
    unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) }
}

const DURATION: &[u8] = b"request\0duration";

#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut block = Vec::<u8>::with_capacity(size.max(1));
    let at = block.as_mut_ptr();
    std::mem::forget(block);
    at
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_context_create(_context: u32, _parent: u32) {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_vm_start(_context: u32, _size: usize) -> bool {
    true
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_configure(_context: u32, size: usize) -> bool {
    let mut data = std::ptr::null_mut();
    let mut len = 0;
    // SAFETY: valid pointers for the host to write to; the host's allocation is ours.
    let configuration = unsafe {
        if proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, size, &mut data, &mut len) != 0
            || data.is_null()
        {
            Vec::new()
        } else {
            Vec::from_raw_parts(data, len, len.max(1))
        }
    };
    let which = match configuration.trim_ascii() {
        b"local-reply" => 1,
        b"local-reply-empty" => 2,
        _ => 0,
    };
    PROBE.store(which, Ordering::Relaxed);
    for (at, name) in GAUGES.iter().enumerate() {
        let mut id = 0;
        // SAFETY: a one-byte name and a valid place for the id.
        if unsafe { proxy_define_metric(GAUGE, name, 1, &mut id) } == 0 {
            GAUGE_IDS[at].store(id, Ordering::Relaxed);
        }
    }
    true
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_headers(_context: u32, _headers: usize, _end: bool) -> u32 {
    match probe() {
        Probe::Phases => {
            gauge(b'd', i64::from(read_property(DURATION)));
            CONTINUE
        }
        Probe::LocalReply | Probe::LocalReplyEmpty => {
            let body: &[u8] = if probe() == Probe::LocalReply {
                b"denied"
            } else {
                b""
            };
            // An empty serialized header map: zero pairs.
            let headers = 0u32.to_le_bytes();
            // SAFETY: valid pointers and lengths.
            unsafe {
                proxy_send_local_response(
                    403,
                    std::ptr::null(),
                    0,
                    body.as_ptr(),
                    body.len(),
                    headers.as_ptr(),
                    headers.len(),
                    -1,
                )
            };
            STOP_ITERATION
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_headers(_context: u32, _headers: usize, _end: bool) -> u32 {
    if matches!(probe(), Probe::LocalReply | Probe::LocalReplyEmpty) {
        gauge(
            b'c',
            i64::from(read_header(RESPONSE_HEADERS, b"content-type")),
        );
        gauge(
            b'k',
            i64::from(read_header(RESPONSE_HEADERS, b"content-length")),
        );
    }
    CONTINUE
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_body(_context: u32, _size: usize, end: bool) -> u32 {
    if probe() == Probe::Phases && end {
        gauge(
            b'h',
            i64::from(read_header(RESPONSE_HEADERS, b"content-type")),
        );
        let (key, value) = (b"x-added-trailer", b"1");
        // SAFETY: valid pointers and lengths.
        let added = unsafe {
            proxy_add_header_map_value(
                RESPONSE_TRAILERS,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        gauge(b't', i64::from(added));
    }
    CONTINUE
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_log(_context: u32) {
    if probe() == Probe::Phases {
        gauge(b'l', i64::from(read_property(DURATION)));
        gauge(
            b'r',
            i64::from(read_header(RESPONSE_HEADERS, b"content-type")),
        );
        gauge(b'q', i64::from(read_header(REQUEST_HEADERS, b":path")));
        gauge(b'L', next());
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_done(_context: u32) -> bool {
    if probe() == Probe::Phases {
        gauge(b'D', next());
    }
    true
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_delete(_context: u32) {}
