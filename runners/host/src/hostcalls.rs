//! Every hostcall, written once against the [`Guest`] abstraction. Engine adapters expand the
//! tables in [`crate::abi`] into thin wrappers that convert argument types and call these.
//!
//! Each function returns the raw status (`proxy_status_t` for `env`, errno for WASI) or a
//! [`HostTrap`] when the call must abort the guest (`proc_exit`, a trap inside the guest's
//! allocator). Guest input is hostile: every pointer/length pair is bounds-checked and a bad one
//! yields `INVALID_MEMORY_ACCESS` (`FAULT` for WASI); nothing here panics on guest input.

use crate::abi::{BufferType, LogLevel, MapType, MetricType, Status, StreamType, errno};
use crate::memory::{GuestMemory, MemResult};
use crate::pairs;
use crate::restricted::Restriction;
use crate::state::{HeaderMap, HostState, PendingCall, UnitKind};
use filterbench_proxy_abi::{buffers, header_maps, local_reply, logging, metrics, properties};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A hostcall that must stop the guest: the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostTrap(pub String);

/// What each hostcall returns: a raw status/errno, or a trap.
pub type HostResult = Result<u32, HostTrap>;

/// The calling module as a hostcall sees it.
pub trait Guest {
    /// Guest memory and host state, borrowed together.
    fn parts(&mut self) -> (GuestMemory<'_>, &mut HostState);

    /// Allocates `size` bytes inside the guest with its `proxy_on_memory_allocate` (or `malloc`)
    /// and returns the address; 0 means the guest allocator failed.
    fn allocate(&mut self, size: u64) -> Result<u64, HostTrap>;

    /// The host state alone (no memory lookup).
    fn state(&mut self) -> &mut HostState;
}

/// Runs the hostcall `name` (its table name, e.g. `proxy_get_header_map_size`) with `call`,
/// unless the guest is inside a callback that restricts hostcalls and `name` is not on its
/// allow-list: then the trap `restricted_callback`, as in Envoy ([`crate::restricted`]). Engine
/// adapters call every table hostcall through this.
#[inline(always)]
pub fn guarded<G: Guest + ?Sized>(
    g: &mut G,
    name: &'static str,
    call: impl FnOnce(&mut G) -> HostResult,
) -> HostResult {
    match g.state().restriction {
        Some(restriction) if !restriction.allows(name) => Err(HostTrap(restriction.refusal(name))),
        _ => call(g),
    }
}

fn done(result: Result<(), Status>) -> HostResult {
    Ok(match result {
        Ok(()) => Status::Ok.raw(),
        Err(status) => status.raw(),
    })
}

/// Runs `f` with memory and state; its `Err(status)` becomes the returned status.
fn simple<G: Guest + ?Sized>(
    g: &mut G,
    f: impl FnOnce(&mut GuestMemory<'_>, &mut HostState) -> Result<(), Status>,
) -> HostResult {
    let (mut mem, state) = g.parts();
    done(f(&mut mem, state))
}

/// Copies bytes produced by `fill` into a fresh guest allocation and writes its address and
/// size to `ret_data`/`ret_size`. An empty result writes a null pointer and size 0 (as
/// proxy-wasm-cpp-host does).
fn return_bytes<G: Guest + ?Sized>(
    g: &mut G,
    ret_data: u64,
    ret_size: u64,
    fill: impl FnOnce(&GuestMemory<'_>, &mut HostState, &mut Vec<u8>) -> Result<(), Status>,
) -> HostResult {
    let mut buf = {
        let (mem, state) = g.parts();
        let mut buf = std::mem::take(&mut state.scratch);
        buf.clear();
        if let Err(status) = fill(&mem, state, &mut buf) {
            state.scratch = buf;
            return Ok(status.raw());
        }
        buf
    };
    let result = copy_to_guest(g, &buf, ret_data, ret_size);
    buf.clear();
    g.parts().1.scratch = buf;
    result
}

/// Allocates space for `data` in the guest, copies it and writes pointer and size.
fn copy_to_guest<G: Guest + ?Sized>(
    g: &mut G,
    data: &[u8],
    ret_data: u64,
    ret_size: u64,
) -> HostResult {
    let addr = if data.is_empty() {
        0
    } else {
        let outer = g.state().restriction.replace(Restriction::Allocate);
        let allocated = g.allocate(data.len() as u64);
        g.state().restriction = outer;
        let addr = allocated?;
        if addr == 0 {
            return Ok(Status::InvalidMemoryAccess.raw());
        }
        addr
    };
    let (mut mem, _) = g.parts();
    done((|| {
        mem.write(addr, data)?;
        mem.write_word(ret_data, addr)?;
        mem.write_word(ret_size, data.len() as u64)
    })())
}

fn read_map<'m>(
    mem: &'m GuestMemory<'_>,
    ptr: u64,
    size: u64,
) -> Result<pairs::PairRefs<'m>, Status> {
    let bytes = mem.read(ptr, size)?;
    pairs::deserialize(bytes).map_err(|_| Status::BadArgument)
}

fn read_header_map(mem: &GuestMemory<'_>, ptr: u64, size: u64) -> Result<HeaderMap, Status> {
    Ok(HeaderMap::from_pairs(&read_map(mem, ptr, size)?))
}

fn buffer(state: &HostState, raw: u32) -> Result<&[u8], Status> {
    let kind = BufferType::from_raw(raw).ok_or(Status::BadArgument)?;
    let tcp = state.stream.kind == UnitKind::Tcp;
    let found = match kind {
        // A body that has not arrived reads as empty (Envoy 1.40: OK in the response headers
        // callback; the conformance kit's buffers probe).
        BufferType::HttpRequestBody if !tcp => {
            Some(state.stream.request_body.as_deref().unwrap_or(&[]))
        }
        BufferType::HttpResponseBody if !tcp => {
            Some(state.stream.response_body.as_deref().unwrap_or(&[]))
        }
        BufferType::DownstreamData if tcp => state.stream.request_body.as_deref(),
        BufferType::UpstreamData if tcp => state.stream.response_body.as_deref(),
        BufferType::HttpCallResponseBody => state.call_response.as_ref().map(|r| r.body.as_slice()),
        BufferType::VmConfiguration => Some(state.plugin.vm_configuration.as_slice()),
        BufferType::PluginConfiguration => Some(state.plugin.plugin_configuration.as_slice()),
        BufferType::GrpcCallMessage => state.grpc.message(),
        BufferType::HttpRequestBody
        | BufferType::HttpResponseBody
        | BufferType::DownstreamData
        | BufferType::UpstreamData
        | BufferType::ForeignFunctionArguments => None,
    };
    found.ok_or(Status::NotFound)
}

fn buffer_mut(state: &mut HostState, raw: u32) -> Result<&mut Vec<u8>, Status> {
    let tcp = state.stream.kind == UnitKind::Tcp;
    match BufferType::from_raw(raw).ok_or(Status::BadArgument)? {
        // A body that has not arrived cannot be written (Envoy 1.40: BAD_ARGUMENT).
        BufferType::HttpRequestBody if !tcp => state
            .stream
            .request_body
            .as_mut()
            .ok_or(Status::BadArgument),
        BufferType::HttpResponseBody if !tcp => state
            .stream
            .response_body
            .as_mut()
            .ok_or(Status::BadArgument),
        BufferType::DownstreamData if tcp => {
            state.stream.request_body.as_mut().ok_or(Status::NotFound)
        }
        BufferType::UpstreamData if tcp => {
            state.stream.response_body.as_mut().ok_or(Status::NotFound)
        }
        BufferType::HttpRequestBody
        | BufferType::HttpResponseBody
        | BufferType::DownstreamData
        | BufferType::UpstreamData => Err(Status::NotFound),
        _ => Err(Status::BadArgument),
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// ---------------------------------------------------------------------------------------------
// env: logging, time, ticks

/// `proxy_log(level, message, size)`: stores the message if `level` ≥ the plugin's log level.
pub fn proxy_log<G: Guest + ?Sized>(
    g: &mut G,
    level: u32,
    message: u64,
    message_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        logging::log(state, level, mem.read(message, message_size)?)
    })
}

/// `proxy_get_log_level(ret)`: writes the plugin's log level.
pub fn proxy_get_log_level<G: Guest + ?Sized>(g: &mut G, return_level: u64) -> HostResult {
    simple(g, |mem, state| {
        mem.write_u32(return_level, logging::log_level(state))
    })
}

/// `proxy_get_current_time_nanoseconds(ret)`: time in ns since the Unix epoch — the wall
/// clock, or the plugin's virtual clock when it has one.
pub fn proxy_get_current_time_nanoseconds<G: Guest + ?Sized>(
    g: &mut G,
    return_time: u64,
) -> HostResult {
    simple(g, |mem, state| {
        mem.write_u64(return_time, state.now_ns(now_nanos))
    })
}

/// `proxy_set_tick_period_milliseconds(period)`: 0 disables the tick; on a virtual clock the
/// first tick is due one period from now.
pub fn proxy_set_tick_period_milliseconds<G: Guest + ?Sized>(g: &mut G, period: u32) -> HostResult {
    simple(g, |_, state| {
        state.tick_period_ms = period;
        state.clock.next_tick_ns = state.clock.now_ns + u64::from(period) * 1_000_000;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// env: buffers

/// `proxy_get_buffer_bytes(type, start, max_size, ret_data, ret_size)`.
pub fn proxy_get_buffer_bytes<G: Guest + ?Sized>(
    g: &mut G,
    buffer_type: u32,
    start: u64,
    max_size: u64,
    return_data: u64,
    return_size: u64,
) -> HostResult {
    return_bytes(g, return_data, return_size, |_, state, out| {
        let bytes = buffer(state, buffer_type)?;
        let range = buffers::read_range(bytes.len(), word(start), word(max_size))?;
        out.extend_from_slice(&bytes[range]);
        Ok(())
    })
}

/// `proxy_set_buffer_bytes(type, start, size, data, data_size)`: by Envoy's rules, `start` 0
/// replaces the first `size` bytes with `data` (so `(0, 0)` prepends), `start ≥ len` appends,
/// anything else is `BAD_ARGUMENT`.
pub fn proxy_set_buffer_bytes<G: Guest + ?Sized>(
    g: &mut G,
    buffer_type: u32,
    start: u64,
    size: u64,
    data: u64,
    data_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let data = mem.read(data, data_size)?;
        let buf = buffer_mut(state, buffer_type)?;
        buffers::Write::of(buf.len(), word(start), word(size))?.apply(buf, data);
        Ok(())
    })
}

/// A 64-bit argument as a host size (saturating: no buffer is that long).
fn word(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// `proxy_get_buffer_status(type, ret_size, ret_flags)`: buffer length and flags (0).
pub fn proxy_get_buffer_status<G: Guest + ?Sized>(
    g: &mut G,
    buffer_type: u32,
    return_size: u64,
    return_flags: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let len = buffer(state, buffer_type)?.len() as u64;
        mem.write_word(return_size, len)?;
        mem.write_u32(return_flags, 0)
    })
}

// ---------------------------------------------------------------------------------------------
// env: header maps (the rules: `filterbench_proxy_abi::header_maps`)

/// `proxy_get_header_map_size(map, ret_size)`: serialized size of the map.
pub fn proxy_get_header_map_size<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    return_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let size = header_maps::serialized_size(state, map_type)?;
        mem.write_word(return_size, size as u64)
    })
}

/// `proxy_get_header_map_pairs(map, ret_data, ret_size)`: the serialized map.
pub fn proxy_get_header_map_pairs<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    return_data: u64,
    return_size: u64,
) -> HostResult {
    return_bytes(g, return_data, return_size, |_, state, out| {
        header_maps::serialize(state, map_type, out)
    })
}

/// `proxy_set_header_map_pairs(map, data, size)`: replaces the whole map.
pub fn proxy_set_header_map_pairs<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    data: u64,
    data_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        header_maps::set_pairs(state, map_type, mem.read(data, data_size)?)
    })
}

/// `proxy_get_header_map_value(map, key, key_size, ret_data, ret_size)`: NOT_FOUND if absent.
pub fn proxy_get_header_map_value<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    key: u64,
    key_size: u64,
    return_data: u64,
    return_size: u64,
) -> HostResult {
    return_bytes(g, return_data, return_size, |mem, state, out| {
        let value = header_maps::value(state, map_type, mem.read(key, key_size)?)?;
        out.extend_from_slice(value);
        Ok(())
    })
}

/// A shared header-map edit (`header_maps::add` or `header_maps::replace`).
type MapEdit = fn(&mut HostState, u32, &[u8], &[u8]) -> Result<(), Status>;

/// Reads a key and a value from guest memory and applies `edit` to header map `map_type`.
fn edit_map_value<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    (key, key_size): (u64, u64),
    (value, value_size): (u64, u64),
    edit: MapEdit,
) -> HostResult {
    simple(g, |mem, state| {
        let (key, value) = (mem.read(key, key_size)?, mem.read(value, value_size)?);
        edit(state, map_type, key, value)
    })
}

/// `proxy_add_header_map_value(map, key, key_size, value, value_size)`.
pub fn proxy_add_header_map_value<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    key: u64,
    key_size: u64,
    value: u64,
    value_size: u64,
) -> HostResult {
    edit_map_value(
        g,
        map_type,
        (key, key_size),
        (value, value_size),
        header_maps::add,
    )
}

/// `proxy_replace_header_map_value(map, key, key_size, value, value_size)`: add or replace.
pub fn proxy_replace_header_map_value<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    key: u64,
    key_size: u64,
    value: u64,
    value_size: u64,
) -> HostResult {
    edit_map_value(
        g,
        map_type,
        (key, key_size),
        (value, value_size),
        header_maps::replace,
    )
}

/// `proxy_remove_header_map_value(map, key, key_size)`: OK even if absent.
pub fn proxy_remove_header_map_value<G: Guest + ?Sized>(
    g: &mut G,
    map_type: u32,
    key: u64,
    key_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        header_maps::remove(state, map_type, mem.read(key, key_size)?)
    })
}

// ---------------------------------------------------------------------------------------------
// env: stream control

fn resume(state: &mut HostState, stream_type: StreamType) -> Result<(), Status> {
    if state.stream.context_id == 0 {
        return Err(Status::NotFound);
    }
    if !state.in_stream() {
        // Envoy's root context has no stream to continue: OK, and nothing happens.
        return Ok(());
    }
    let tcp = state.stream.kind == UnitKind::Tcp;
    if !tcp
        && matches!(
            stream_type,
            StreamType::HttpRequest | StreamType::HttpResponse
        )
    {
        // Envoy lets the request's maps go on either continue (its `continueStream`).
        state.release(MapType::HttpRequestHeaders);
        state.release(MapType::HttpRequestTrailers);
    }
    match stream_type {
        StreamType::HttpRequest if !tcp => state.stream.request_resumed = true,
        StreamType::HttpResponse if !tcp => state.stream.response_resumed = true,
        StreamType::Downstream if tcp => state.stream.request_resumed = true,
        StreamType::Upstream if tcp => state.stream.response_resumed = true,
        _ => return Err(Status::BadArgument),
    }
    Ok(())
}

/// `proxy_continue_stream(stream_type)`: resumes a paused HTTP request or response (or a
/// connection's downstream or upstream data); BAD_ARGUMENT for a type the stream does not have.
pub fn proxy_continue_stream<G: Guest + ?Sized>(g: &mut G, stream_type: u32) -> HostResult {
    simple(g, |_, state| {
        resume(
            state,
            StreamType::from_raw(stream_type).ok_or(Status::BadArgument)?,
        )
    })
}

/// `proxy_close_stream(stream_type)`: resets the stream.
pub fn proxy_close_stream<G: Guest + ?Sized>(g: &mut G, stream_type: u32) -> HostResult {
    simple(g, |_, state| {
        StreamType::from_raw(stream_type).ok_or(Status::BadArgument)?;
        if state.stream.context_id == 0 {
            return Err(Status::NotFound);
        }
        state.stream.closed = true;
        Ok(())
    })
}

/// `proxy_continue_request()` (ABI 0.1.0).
pub fn proxy_continue_request<G: Guest + ?Sized>(g: &mut G) -> HostResult {
    simple(g, |_, state| resume(state, StreamType::HttpRequest))
}

/// `proxy_continue_response()` (ABI 0.1.0).
pub fn proxy_continue_response<G: Guest + ?Sized>(g: &mut G) -> HostResult {
    simple(g, |_, state| resume(state, StreamType::HttpResponse))
}

/// `proxy_clear_route_cache()` (ABI 0.1.0): no route cache here, so nothing to clear.
pub fn proxy_clear_route_cache<G: Guest + ?Sized>(_g: &mut G) -> HostResult {
    Ok(Status::Ok.raw())
}

/// `proxy_get_status(ret_code, ret_message, ret_message_size)`: the status of the gRPC call
/// or stream being closed (`proxy_on_grpc_close`: its code and message), or 0 with no message
/// while an HTTP call's answer or another gRPC callback is delivered; NOT_FOUND otherwise.
pub fn proxy_get_status<G: Guest + ?Sized>(
    g: &mut G,
    return_code: u64,
    return_message: u64,
    return_message_size: u64,
) -> HostResult {
    let message = {
        let (mut mem, state) = g.parts();
        let (code, message) = match &state.grpc.delivering {
            Some(crate::grpc::GrpcEventKind::Close { status, message }) => {
                (*status, message.clone())
            }
            Some(_) => (0, Vec::new()),
            None if state.call_response.is_some() => (0, Vec::new()),
            None => return Ok(Status::NotFound.raw()),
        };
        if let Err(status) = mem.write_u32(return_code, code) {
            return Ok(status.raw());
        }
        message
    };
    copy_to_guest(g, &message, return_message, return_message_size)
}

/// `proxy_send_local_response(...)`: the filter answers the request itself.
#[allow(clippy::too_many_arguments)]
pub fn proxy_send_local_response<G: Guest + ?Sized>(
    g: &mut G,
    status_code: u32,
    details: u64,
    details_size: u64,
    body: u64,
    body_size: u64,
    headers: u64,
    headers_size: u64,
    grpc_status: i32,
) -> HostResult {
    simple(g, |mem, state| {
        let details = mem.read(details, details_size)?;
        let body = mem.read(body, body_size)?;
        let headers = mem.read(headers, headers_size)?;
        local_reply::send(state, status_code, details, body, headers, grpc_status)
    })
}

// ---------------------------------------------------------------------------------------------
// env: HTTP and gRPC calls

/// `proxy_http_call(...)`: queues a call to the scripted upstream; the answer is delivered with
/// `proxy_on_http_call_response` after the current callback returns.
#[allow(clippy::too_many_arguments)]
pub fn proxy_http_call<G: Guest + ?Sized>(
    g: &mut G,
    upstream: u64,
    upstream_size: u64,
    headers: u64,
    headers_size: u64,
    body: u64,
    body_size: u64,
    trailers: u64,
    trailers_size: u64,
    _timeout_ms: u32,
    return_token: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let upstream = String::from_utf8_lossy(mem.read(upstream, upstream_size)?).into_owned();
        let headers = read_header_map(mem, headers, headers_size)?;
        let body = mem.read(body, body_size)?.to_vec();
        read_map(mem, trailers, trailers_size)?;
        let required = [&b":method"[..], b":path", b":authority"];
        if required.iter().any(|k| headers.get(k).is_none())
            || !state.plugin.knows_cluster(&upstream)
        {
            return Err(Status::BadArgument);
        }
        let token = next_token(state);
        mem.write_u32(return_token, token)?;
        let context_id = calling_context(state);
        state.pending_calls.push(PendingCall {
            token,
            context_id,
            upstream,
            headers,
            body,
        });
        Ok(())
    })
}

/// The context a call made now belongs to: always the root context (proxy-wasm-cpp-host makes
/// HTTP and gRPC calls on the root context, and Envoy delivers their answers there; a module
/// selects its stream with `proxy_set_effective_context` to act on it).
fn calling_context(state: &HostState) -> u32 {
    state.root_context_id
}

/// Opens a gRPC call or stream: reads its target — the (pointer, size) pairs of its upstream,
/// service, method and metadata — looks up its scripted answer and writes a fresh token to
/// `return_token`; returns (token, calling context, answer). PARSE_FAILURE for a cluster no rule
/// names (as Envoy answers a cluster it does not know), BAD_ARGUMENT for malformed metadata.
fn open_grpc(
    mem: &mut GuestMemory<'_>,
    state: &mut HostState,
    [upstream, service, method, metadata]: [(u64, u64); 4],
    return_token: u64,
) -> Result<(u32, u32, crate::grpc::GrpcReply), Status> {
    let text = |(ptr, size)| mem.read(ptr, size).map(String::from_utf8_lossy);
    let (upstream, service, method) = (text(upstream)?, text(service)?, text(method)?);
    read_map(mem, metadata.0, metadata.1)?;
    let reply = crate::grpc::answer(&state.plugin.grpc_upstreams, &upstream, &service, &method)
        .ok_or(Status::ParseFailure)?;
    let token = next_token(state);
    mem.write_u32(return_token, token)?;
    Ok((token, calling_context(state), reply))
}

/// Hands out the next call token.
fn next_token(state: &mut HostState) -> u32 {
    let token = state.next_call_token;
    state.next_call_token = token.wrapping_add(1).max(1);
    token
}

/// `proxy_grpc_call(...)`: a unary call to the scripted gRPC upstream; its answer is delivered
/// after the current callback returns (see [`crate::grpc`]).
#[allow(clippy::too_many_arguments)]
pub fn proxy_grpc_call<G: Guest + ?Sized>(
    g: &mut G,
    upstream: u64,
    upstream_size: u64,
    service: u64,
    service_size: u64,
    method: u64,
    method_size: u64,
    metadata: u64,
    metadata_size: u64,
    message: u64,
    message_size: u64,
    _timeout_ms: u32,
    return_token: u64,
) -> HostResult {
    simple(g, |mem, state| {
        mem.read(message, message_size)?;
        let target = [
            (upstream, upstream_size),
            (service, service_size),
            (method, method_size),
            (metadata, metadata_size),
        ];
        let (token, context_id, reply) = open_grpc(mem, state, target, return_token)?;
        state.grpc.call(token, context_id, reply);
        Ok(())
    })
}

/// `proxy_grpc_stream(...)`: opens a stream to the scripted gRPC upstream (see
/// [`crate::grpc`]).
#[allow(clippy::too_many_arguments)]
pub fn proxy_grpc_stream<G: Guest + ?Sized>(
    g: &mut G,
    upstream: u64,
    upstream_size: u64,
    service: u64,
    service_size: u64,
    method: u64,
    method_size: u64,
    metadata: u64,
    metadata_size: u64,
    return_token: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let target = [
            (upstream, upstream_size),
            (service, service_size),
            (method, method_size),
            (metadata, metadata_size),
        ];
        let (token, context_id, reply) = open_grpc(mem, state, target, return_token)?;
        state.grpc.open_stream(token, context_id, reply);
        Ok(())
    })
}

/// `proxy_grpc_send(token, message, end_stream)`: sends a message on a stream.
pub fn proxy_grpc_send<G: Guest + ?Sized>(
    g: &mut G,
    token: u32,
    message: u64,
    message_size: u64,
    end_stream: bool,
) -> HostResult {
    simple(g, |mem, state| {
        mem.read(message, message_size)?;
        state.grpc.send(token, end_stream)
    })
}

/// `proxy_grpc_cancel(token)`: drops a call or stream; nothing more is delivered for it.
pub fn proxy_grpc_cancel<G: Guest + ?Sized>(g: &mut G, token: u32) -> HostResult {
    simple(g, |_, state| state.grpc.cancel(token))
}

/// `proxy_grpc_close(token)`: ends the module's side of a stream, or cancels a unary call.
pub fn proxy_grpc_close<G: Guest + ?Sized>(g: &mut G, token: u32) -> HostResult {
    simple(g, |_, state| state.grpc.close(token))
}

// ---------------------------------------------------------------------------------------------
// env: shared data and queues

/// `proxy_set_shared_data(key, key_size, value, value_size, cas)`: CAS 0 always writes;
/// otherwise the stored CAS must match (CAS_MISMATCH if not).
pub fn proxy_set_shared_data<G: Guest + ?Sized>(
    g: &mut G,
    key: u64,
    key_size: u64,
    value: u64,
    value_size: u64,
    cas: u32,
) -> HostResult {
    simple(g, |mem, state| {
        let (key, value) = (mem.read(key, key_size)?, mem.read(value, value_size)?);
        state.shared_data.set(key, value, cas)
    })
}

/// `proxy_get_shared_data(key, key_size, ret_value, ret_value_size, ret_cas)`.
pub fn proxy_get_shared_data<G: Guest + ?Sized>(
    g: &mut G,
    key: u64,
    key_size: u64,
    return_value: u64,
    return_value_size: u64,
    return_cas: u64,
) -> HostResult {
    let mut cas = 0;
    let status = return_bytes(g, return_value, return_value_size, |mem, state, out| {
        let (value, stored_cas) = state.shared_data.get(mem.read(key, key_size)?)?;
        out.extend_from_slice(value);
        cas = stored_cas;
        Ok(())
    })?;
    if status != Status::Ok.raw() {
        return Ok(status);
    }
    simple(g, |mem, _| mem.write_u32(return_cas, cas))
}

fn find_queue(state: &HostState, vm_id: &str, name: &str) -> Option<u32> {
    state
        .queues
        .iter()
        .position(|q| q.vm_id == vm_id && q.name == name)
        .map(|i| i as u32 + 1)
}

/// `proxy_register_shared_queue(name, name_size, ret_id)`: opens the queue if it exists.
pub fn proxy_register_shared_queue<G: Guest + ?Sized>(
    g: &mut G,
    name: u64,
    name_size: u64,
    return_id: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let name = String::from_utf8_lossy(mem.read(name, name_size)?).into_owned();
        let vm_id = state.plugin.vm_id.clone();
        let id = match find_queue(state, &vm_id, &name) {
            Some(id) => id,
            None => {
                let owner_context_id = state.root_context_id;
                state.queues.push(crate::state::Queue {
                    vm_id,
                    name,
                    owner_context_id,
                    items: Default::default(),
                });
                state.queues.len() as u32
            }
        };
        mem.write_u32(return_id, id)
    })
}

/// `proxy_resolve_shared_queue(vm_id, vm_id_size, name, name_size, ret_id)`: NOT_FOUND if absent.
pub fn proxy_resolve_shared_queue<G: Guest + ?Sized>(
    g: &mut G,
    vm_id: u64,
    vm_id_size: u64,
    name: u64,
    name_size: u64,
    return_id: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let vm_id = String::from_utf8_lossy(mem.read(vm_id, vm_id_size)?).into_owned();
        let vm_id = if vm_id.is_empty() {
            state.plugin.vm_id.clone()
        } else {
            vm_id
        };
        let name = String::from_utf8_lossy(mem.read(name, name_size)?).into_owned();
        let id = find_queue(state, &vm_id, &name).ok_or(Status::NotFound)?;
        mem.write_u32(return_id, id)
    })
}

fn queue_mut(state: &mut HostState, id: u32) -> Result<&mut crate::state::Queue, Status> {
    (id as usize)
        .checked_sub(1)
        .and_then(|i| state.queues.get_mut(i))
        .ok_or(Status::NotFound)
}

/// `proxy_enqueue_shared_queue(id, value, value_size)`: the owner is notified after the
/// current callback with `proxy_on_queue_ready`.
pub fn proxy_enqueue_shared_queue<G: Guest + ?Sized>(
    g: &mut G,
    queue_id: u32,
    value: u64,
    value_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let value = mem.read(value, value_size)?.to_vec();
        queue_mut(state, queue_id)?.items.push_back(value);
        if !state.ready_queues.contains(&queue_id) {
            state.ready_queues.push(queue_id);
        }
        Ok(())
    })
}

/// `proxy_dequeue_shared_queue(id, ret_value, ret_value_size)`: EMPTY when nothing is queued.
pub fn proxy_dequeue_shared_queue<G: Guest + ?Sized>(
    g: &mut G,
    queue_id: u32,
    return_value: u64,
    return_value_size: u64,
) -> HostResult {
    let item = {
        let (_, state) = g.parts();
        match queue_mut(state, queue_id).and_then(|q| q.items.pop_front().ok_or(Status::Empty)) {
            Ok(item) => item,
            Err(status) => return Ok(status.raw()),
        }
    };
    copy_to_guest(g, &item, return_value, return_value_size)
}

// ---------------------------------------------------------------------------------------------
// env: metrics

/// `proxy_define_metric(type, name, name_size, ret_id)`: the same name and type give the same id.
pub fn proxy_define_metric<G: Guest + ?Sized>(
    g: &mut G,
    metric_type: u32,
    name: u64,
    name_size: u64,
    return_id: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let kind = MetricType::from_raw(metric_type).ok_or(Status::BadArgument)?;
        let name = metrics::name(mem.read(name, name_size)?).into_owned();
        let id = state.define_metric(kind, &name);
        mem.write_u32(return_id, id)
    })
}

/// `proxy_record_metric(id, value)`: adds to a counter, sets a gauge, records into a histogram
/// (`value` is a `u64` in the ABI; the table carries it as the wasm `i64` it crosses as).
pub fn proxy_record_metric<G: Guest + ?Sized>(g: &mut G, metric_id: u32, value: i64) -> HostResult {
    simple(g, |_, state| {
        let metric = state.metric_mut(metric_id)?;
        metric.apply(metrics::record(metric.kind, value as u64));
        Ok(())
    })
}

/// `proxy_increment_metric(id, offset)`: counters only grow (by a positive offset); histograms
/// cannot be incremented.
pub fn proxy_increment_metric<G: Guest + ?Sized>(
    g: &mut G,
    metric_id: u32,
    offset: i64,
) -> HostResult {
    simple(g, |_, state| {
        let metric = state.metric_mut(metric_id)?;
        metric.apply(metrics::increment(metric.kind, offset)?);
        Ok(())
    })
}

/// `proxy_get_metric(id, ret_value)`: BAD_ARGUMENT for histograms.
pub fn proxy_get_metric<G: Guest + ?Sized>(
    g: &mut G,
    metric_id: u32,
    return_value: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let metric = state.metric_mut(metric_id)?;
        metrics::readable(metric.kind)?;
        let value = metric.value as u64;
        mem.write_u64(return_value, value)
    })
}

// ---------------------------------------------------------------------------------------------
// env: properties, foreign functions, contexts, configuration

/// `proxy_get_property(path, path_size, ret_value, ret_value_size)`: path segments are
/// separated by NUL bytes.
pub fn proxy_get_property<G: Guest + ?Sized>(
    g: &mut G,
    path: u64,
    path_size: u64,
    return_value: u64,
    return_value_size: u64,
) -> HostResult {
    return_bytes(g, return_value, return_value_size, |mem, state, out| {
        out.extend_from_slice(&properties::get(state, mem.read(path, path_size)?)?);
        Ok(())
    })
}

/// `proxy_set_property(path, path_size, value, value_size)`.
pub fn proxy_set_property<G: Guest + ?Sized>(
    g: &mut G,
    path: u64,
    path_size: u64,
    value: u64,
    value_size: u64,
) -> HostResult {
    simple(g, |mem, state| {
        let path = properties::dotted(mem.read(path, path_size)?);
        let value = mem.read(value, value_size)?.to_vec();
        state.properties.insert(path, value);
        Ok(())
    })
}

/// `proxy_call_foreign_function(...)`: no foreign functions are registered: NOT_FOUND.
#[allow(clippy::too_many_arguments)]
pub fn proxy_call_foreign_function<G: Guest + ?Sized>(
    g: &mut G,
    name: u64,
    name_size: u64,
    args: u64,
    args_size: u64,
    _return_results: u64,
    _return_results_size: u64,
) -> HostResult {
    simple(g, |mem, _| {
        mem.read(name, name_size)?;
        mem.read(args, args_size)?;
        Err(Status::NotFound)
    })
}

/// `proxy_done()`: the stream context that returned false from `proxy_on_done` is finished.
pub fn proxy_done<G: Guest + ?Sized>(g: &mut G) -> HostResult {
    simple(g, |_, state| {
        if state.stream.context_id == 0 {
            return Err(Status::NotFound);
        }
        state.stream.done_called = true;
        Ok(())
    })
}

/// `proxy_set_effective_context(id)`: BAD_ARGUMENT for an unknown context.
pub fn proxy_set_effective_context<G: Guest + ?Sized>(g: &mut G, context_id: u32) -> HostResult {
    simple(g, |_, state| {
        let known = context_id != 0
            && (context_id == state.root_context_id || context_id == state.stream.context_id);
        if !known {
            return Err(Status::BadArgument);
        }
        state.effective_context_id = context_id;
        Ok(())
    })
}

/// `proxy_get_configuration(ret_data, ret_size)` (ABI 0.1.0): the plugin configuration.
pub fn proxy_get_configuration<G: Guest + ?Sized>(
    g: &mut G,
    return_data: u64,
    return_size: u64,
) -> HostResult {
    return_bytes(g, return_data, return_size, |_, state, out| {
        out.extend_from_slice(&state.plugin.plugin_configuration);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// WASI subset (errno results; memory faults give FAULT)

fn wasi(result: Result<(), u32>) -> HostResult {
    Ok(result.err().unwrap_or(errno::SUCCESS))
}

fn fault<T>(r: MemResult<T>) -> Result<T, u32> {
    r.map_err(|_| errno::FAULT)
}

/// `fd_write(fd, iovs, iovs_len, ret_written)`: stdout is logged at INFO, stderr at ERROR.
pub fn fd_write<G: Guest + ?Sized>(
    g: &mut G,
    fd: u32,
    iovs: u64,
    iovs_len: u64,
    return_written: u64,
) -> HostResult {
    let (mut mem, state) = g.parts();
    wasi((|| {
        let level = match fd {
            1 => LogLevel::Info,
            2 => LogLevel::Error,
            _ => return Err(errno::BADF),
        };
        let word = mem.pointer_size() as u64;
        let mut text = Vec::new();
        for i in 0..iovs_len.min(1024) {
            let iov = iovs.checked_add(i * 2 * word).ok_or(errno::FAULT)?;
            let ptr = fault(mem.read_word(iov))?;
            let len = fault(mem.read_word(iov + word))?;
            text.extend_from_slice(fault(mem.read(ptr, len))?);
        }
        logging::write(state, level, &text);
        fault(mem.write_word(return_written, text.len() as u64))
    })())
}

/// `fd_read`: there is no readable descriptor: BADF.
pub fn fd_read<G: Guest + ?Sized>(
    _g: &mut G,
    _fd: u32,
    _iovs: u64,
    _iovs_len: u64,
    _return_read: u64,
) -> HostResult {
    Ok(errno::BADF)
}

/// `fd_close`: BADF.
pub fn fd_close<G: Guest + ?Sized>(_g: &mut G, _fd: u32) -> HostResult {
    Ok(errno::BADF)
}

/// `fd_seek`: BADF.
pub fn fd_seek<G: Guest + ?Sized>(
    _g: &mut G,
    _fd: u32,
    _offset: i64,
    _whence: u32,
    _return_offset: u64,
) -> HostResult {
    Ok(errno::BADF)
}

/// `fd_fdstat_get(fd, ret_stat)`: stdout/stderr are character devices; others BADF.
pub fn fd_fdstat_get<G: Guest + ?Sized>(g: &mut G, fd: u32, return_stat: u64) -> HostResult {
    let (mut mem, _) = g.parts();
    wasi((|| {
        if fd != 1 && fd != 2 {
            return Err(errno::BADF);
        }
        let mut stat = [0u8; 24];
        stat[0] = 2; // filetype: character device
        fault(mem.write(return_stat, &stat))
    })())
}

/// `fd_fdstat_set_flags`: NOSYS, as Envoy answers it (Go's runtime imports it; the flags would
/// change nothing for the only descriptors there are, stdout and stderr).
pub fn fd_fdstat_set_flags<G: Guest + ?Sized>(_g: &mut G, _fd: u32, _flags: u32) -> HostResult {
    Ok(errno::NOSYS)
}

/// `fd_prestat_get`: no preopened directories: BADF (ends wasi-libc's preopen scan).
pub fn fd_prestat_get<G: Guest + ?Sized>(_g: &mut G, _fd: u32, _return_prestat: u64) -> HostResult {
    Ok(errno::BADF)
}

/// `fd_prestat_dir_name`: BADF.
pub fn fd_prestat_dir_name<G: Guest + ?Sized>(
    _g: &mut G,
    _fd: u32,
    _path: u64,
    _path_len: u64,
) -> HostResult {
    Ok(errno::BADF)
}

/// `clock_time_get(id, precision, ret_time)`: REALTIME (0) and MONOTONIC (1), in ns.
pub fn clock_time_get<G: Guest + ?Sized>(
    g: &mut G,
    clock_id: u32,
    _precision: i64,
    return_time: u64,
) -> HostResult {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let (mut mem, state) = g.parts();
    wasi((|| {
        let nanos = match clock_id {
            0 => state.now_ns(now_nanos),
            1 if state.plugin.clock_step_ns != 0 => state.clock.now_ns,
            1 => EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64,
            _ => return Err(errno::NOTSUP),
        };
        fault(mem.write_u64(return_time, nanos))
    })())
}

/// `random_get(buf, len)`: cryptographic random bytes; INVAL above 64 KiB.
pub fn random_get<G: Guest + ?Sized>(g: &mut G, buf: u64, buf_len: u64) -> HostResult {
    const MAX: u64 = 64 * 1024;
    let (mut mem, _) = g.parts();
    wasi((|| {
        if buf_len > MAX {
            return Err(errno::INVAL);
        }
        let mut bytes = vec![0u8; buf_len as usize];
        getrandom::fill(&mut bytes).map_err(|_| errno::NOTSUP)?;
        fault(mem.write(buf, &bytes))
    })())
}

/// `environ_sizes_get(ret_count, ret_buf_size)`: the plugin's environment (empty by default).
pub fn environ_sizes_get<G: Guest + ?Sized>(
    g: &mut G,
    return_count: u64,
    return_buf_size: u64,
) -> HostResult {
    let (mut mem, state) = g.parts();
    let env = &state.plugin.environment;
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    wasi((|| {
        fault(mem.write_word(return_count, env.len() as u64))?;
        fault(mem.write_word(return_buf_size, size as u64))
    })())
}

/// `environ_get(environ, environ_buf)`: writes `KEY=VALUE\0` strings and their pointers.
pub fn environ_get<G: Guest + ?Sized>(g: &mut G, environ: u64, environ_buf: u64) -> HostResult {
    let (mut mem, state) = g.parts();
    let word = mem.pointer_size() as u64;
    wasi((|| {
        let mut at = environ_buf;
        for (i, (k, v)) in state.plugin.environment.iter().enumerate() {
            let entry = format!("{k}={v}\0");
            fault(mem.write_word(environ + i as u64 * word, at))?;
            fault(mem.write(at, entry.as_bytes()))?;
            at = at.checked_add(entry.len() as u64).ok_or(errno::FAULT)?;
        }
        Ok(())
    })())
}

/// `args_sizes_get(ret_count, ret_buf_size)`: no arguments (writes 0, 0).
pub fn args_sizes_get<G: Guest + ?Sized>(
    g: &mut G,
    return_count: u64,
    return_buf_size: u64,
) -> HostResult {
    let (mut mem, _) = g.parts();
    wasi((|| {
        fault(mem.write_word(return_count, 0))?;
        fault(mem.write_word(return_buf_size, 0))
    })())
}

/// `args_get`: no arguments.
pub fn args_get<G: Guest + ?Sized>(_g: &mut G, _argv: u64, _argv_buf: u64) -> HostResult {
    Ok(errno::SUCCESS)
}

/// `sched_yield`: nothing to yield to.
pub fn sched_yield<G: Guest + ?Sized>(_g: &mut G) -> HostResult {
    Ok(errno::SUCCESS)
}

/// `poll_oneoff`: NOTSUP.
pub fn poll_oneoff<G: Guest + ?Sized>(
    _g: &mut G,
    _subscriptions: u64,
    _events: u64,
    _count: u64,
    _return_events: u64,
) -> HostResult {
    Ok(errno::NOTSUP)
}

/// `proc_exit(code)`: a filter must never exit the proxy; this stops the guest with a trap.
pub fn proc_exit(code: u32) -> HostTrap {
    HostTrap(format!(
        "module called WASI proc_exit({code}); a filter must not exit the proxy"
    ))
}
