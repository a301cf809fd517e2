//! The context lifecycle, written once for every engine.
//!
//! Root: `proxy_on_context_create(root, 0)` → `proxy_on_vm_start` → `proxy_on_configure`.
//! Stream: `proxy_on_context_create(ctx, root)` → request headers → request body chunks →
//! request trailers → response headers → response body → response trailers → `proxy_on_log`
//! → `proxy_on_done` → `proxy_on_delete` (Envoy 1.40 logs an HTTP stream before it is done; a
//! TCP connection is done, then logged). After each callback the host delivers follow-up events
//! (scripted answers to HTTP and gRPC calls, queue notifications), which may resume a paused
//! stream or send a local response — the order Envoy and proxy-wasm-cpp-host use.
//! A workload may instead push a TCP connection through a network filter, or fire a root
//! context's tick or queue delivery (see [`Unit`]).

use crate::abi::{Action, MapType};
use crate::error::{CallError, FilterError};
use crate::grpc::{GrpcEvent, GrpcEventKind};
use crate::state::{CallResponse, HeaderMap, HostState, StreamState, UnitKind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Allocates a context id unique in this process (native filters share one process image, so
/// ids must never repeat across instances).
pub fn next_context_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The host-side Rust type of a callback argument kind of [`crate::for_each_callback`]
/// (`u32`, `size` → `u32`; `flag` → `bool`). For engine adapters expanding that table.
#[macro_export]
macro_rules! callback_arg_type {
    (u32) => {
        u32
    };
    (size) => {
        u32
    };
    (flag) => {
        bool
    };
}

/// The host-side Rust type of a callback result kind of [`crate::for_each_callback`]
/// (`none` → `()`, `flag` → `bool`, `action` → [`crate::abi::Action`]).
#[macro_export]
macro_rules! callback_result_type {
    (none) => {
        ()
    };
    (flag) => {
        bool
    };
    (action) => {
        $crate::abi::Action
    };
}

/// What a callback the module does not export returns, per the spec: nothing, `true`, or
/// `Continue`.
#[macro_export]
macro_rules! callback_default {
    (none) => {
        ()
    };
    (flag) => {
        true
    };
    (action) => {
        $crate::abi::Action::Continue
    };
}

macro_rules! declare_callbacks {
    ($( $method:ident = $export:literal ( $( $arg:ident : $kind:ident ),* ) -> $ret:ident ; )*) => {
        /// Calls into one module instance. Engine adapters implement this (usually by expanding
        /// [`crate::for_each_callback`]); a missing export behaves as the spec's default
        /// (no-op, `true`, or `Continue`).
        pub trait Callbacks {
            /// The instance's host state.
            fn host(&mut self) -> &mut HostState;
            /// Module name used in error messages.
            fn module_name(&self) -> &str;
            /// Engine name used in error messages.
            fn engine_name(&self) -> &str;
            /// Size of the instance's linear memory, bytes (`None` where there is none, e.g.
            /// native code).
            fn linear_memory_bytes(&mut self) -> Option<u64> {
                None
            }
            /// Whether the module exports network (TCP) callbacks and no HTTP ones.
            fn is_network_filter(&self) -> bool {
                false
            }
            /// Whether this is the host floor (no module): a queue workload's queue counts as
            /// registered, so the floor does the host's part of the delivery.
            fn is_floor(&self) -> bool {
                false
            }
            /// Callbacks made into the module so far (0 where not counted).
            fn guest_calls(&self) -> u64 {
                0
            }
            $(
                #[doc = concat!("Calls `", $export, "`.")]
                fn $method(&mut self, $( $arg: $crate::callback_arg_type!($kind) ),*) -> Result<$crate::callback_result_type!($ret), CallError>;
            )*
        }
    };
}

crate::for_each_callback!(declare_callbacks);

/// A TCP connection pushed through a network filter: the data each way, in chunks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpExchange {
    /// Data the client sends, in arrival order; the last chunk ends the client's side.
    pub downstream: Vec<Vec<u8>>,
    /// Data the upstream sends back; the last chunk ends the upstream's side.
    pub upstream: Vec<Vec<u8>>,
}

/// What one unit of work through the filter is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Unit {
    /// An HTTP stream: the exchange's request and response.
    #[default]
    Http,
    /// A TCP connection (network filters): `proxy_on_new_connection`, the downstream data,
    /// the upstream data, the upstream's then the downstream's close (`proxy_on_upstream_
    /// connection_close` with peer UNKNOWN, `proxy_on_downstream_connection_close` with LOCAL,
    /// as Envoy 1.40 calls them when the upstream answered and closed), then done, log, delete.
    Tcp(TcpExchange),
    /// `proxy_on_tick` on the root context, and what it causes (a root-only plugin's work).
    Tick,
    /// One item enqueued on the module's shared queue `queue` (registered under its VM id),
    /// delivered with `proxy_on_queue_ready`.
    QueueItem {
        /// Queue name.
        queue: String,
        /// The item's bytes.
        item: Vec<u8>,
    },
}

/// One HTTP request/response exchange pushed through a filter (or, per [`Unit`], a TCP
/// connection or a root-context event).
#[derive(Clone, Debug, Default)]
pub struct HttpExchange {
    /// What one unit of work is (an HTTP stream unless set).
    pub unit: Unit,
    /// Request headers as the client sent them (pseudo-headers included).
    pub request_headers: HeaderMap,
    /// Request body chunks, in arrival order (empty: no body).
    pub request_body: Vec<Vec<u8>>,
    /// Request trailers, if the request has them.
    pub request_trailers: Option<HeaderMap>,
    /// Response headers the upstream sends (including `:status`).
    pub response_headers: HeaderMap,
    /// Response body chunks.
    pub response_body: Vec<Vec<u8>>,
    /// Response trailers.
    pub response_trailers: Option<HeaderMap>,
}

/// A started module instance, driven through the stream lifecycle. Object-safe so the harness
/// can hold instances of every engine side by side; each adapter gets it for free from
/// [`Callbacks`].
pub trait FilterInstance {
    /// Runs the root lifecycle: context create, `proxy_on_vm_start`, `proxy_on_configure`.
    fn start(&mut self) -> Result<(), FilterError>;
    /// Pushes one exchange through the full stream lifecycle. Afterwards [`Self::state`] holds
    /// the headers and bodies as the filter left them.
    fn run_stream(&mut self, exchange: &HttpExchange) -> Result<(), FilterError> {
        self.run_stream_started(exchange, std::time::Instant::now())
    }
    /// [`Self::run_stream`] for a stream that started at `started` (property
    /// `request.duration` counts from there): a caller that reads the clock anyway passes its
    /// reading, so the host does not read it again.
    fn run_stream_started(
        &mut self,
        exchange: &HttpExchange,
        started: std::time::Instant,
    ) -> Result<(), FilterError>;
    /// Fires `proxy_on_tick` on the root context.
    fn tick(&mut self) -> Result<(), FilterError>;
    /// The host state of this instance.
    fn state(&mut self) -> &mut HostState;
    /// Size of the instance's linear memory, bytes (`None` for native code).
    fn linear_memory_bytes(&mut self) -> Option<u64>;
    /// Callbacks made into the module so far (exported lifecycle callbacks only: not the
    /// allocator); 0 for the host floor.
    fn guest_calls(&self) -> u64;
}

/// How many follow-up events one callback may cause before the filter is declared runaway.
const MAX_FOLLOW_UPS: usize = 1024;

#[derive(Copy, Clone, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// What happens after a callback returned.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Flow {
    /// Go on with the next step.
    Continue,
    /// Keep the body buffered and feed the next chunk.
    Buffer,
    /// The filter answered locally: skip the rest of the request.
    LocalResponse,
    /// The filter reset the stream.
    Reset,
    /// The filter paused the stream and nothing resumed it (recorded in
    /// [`StreamState::paused_in`]): the stream goes no further.
    Paused,
}

/// How many of the module's last log lines a trap's message shows.
const TRAP_LOG_LINES: usize = 3;

/// The error for a trapped callback: the engine's message, a hint when the memory limit was the
/// cause, and the module's last log lines (where a Rust SDK filter writes its panic message).
fn trap<C: Callbacks + ?Sized>(c: &mut C, mut source: CallError) -> FilterError {
    let state = c.host();
    if state.memory_limit_hit {
        source.message.push_str(&format!(
            " (the instance had been refused memory beyond its limit of {} MiB; raise it with --memory-limit)",
            state.plugin.memory_limit_bytes >> 20
        ));
    }
    // A Rust filter logs its panic message just before it traps: show it with the trap.
    let last = state.logs.last(TRAP_LOG_LINES);
    if !last.is_empty() {
        source.message.push_str("; the module's last log lines: ");
        source.message.push_str(&last);
    }
    // The Rust SDK's words when an HTTP callback reaches a TCP context (a network filter).
    if source.callback == "proxy_on_request_headers" && last.contains("invalid context_id") {
        source.message.push_str(
            " (the module made a TCP context for this stream: it is a network (TCP) filter; run it on a \
             tcp workload of a spec file)",
        );
    }
    // The Rust SDK's words when a root context with no context type is asked for a stream.
    if last.contains("missing ContextType on root_context") {
        source.message.push_str(
            " (a root-only plugin: it has no HTTP or TCP context; measure it with tick or queue \
             workloads of a spec file)",
        );
    }
    FilterError::Trap {
        module: c.module_name().to_owned(),
        engine: c.engine_name().to_owned(),
        source,
    }
}

/// Delivers queued HTTP-call answers and queue notifications until none are left. Runs after
/// every callback, so the usual case (nothing queued) is one inlined check.
#[inline]
fn deliver_follow_ups<C: Callbacks + ?Sized>(c: &mut C) -> Result<(), FilterError> {
    let host = c.host();
    if host.pending_calls.is_empty() && !host.grpc.has_events() && host.ready_queues.is_empty() {
        return Ok(());
    }
    deliver_queued(c)
}

/// [`deliver_follow_ups`] when something is queued.
#[inline(never)]
fn deliver_queued<C: Callbacks + ?Sized>(c: &mut C) -> Result<(), FilterError> {
    for _ in 0..MAX_FOLLOW_UPS {
        let host = c.host();
        if let Some(call) = (!host.pending_calls.is_empty()).then(|| host.pending_calls.remove(0)) {
            let reply = host.plugin.answer(&call.upstream, &call.headers);
            let (nh, nb, nt) = (
                reply.headers.len() as u32,
                reply.body.len() as u32,
                reply.trailers.len() as u32,
            );
            host.call_response = Some(CallResponse {
                headers: reply.headers,
                body: reply.body,
                trailers: reply.trailers,
            });
            let current = std::mem::replace(&mut host.effective_context_id, call.context_id);
            let result = c.on_http_call_response(call.context_id, call.token, nh, nb, nt);
            let host = c.host();
            host.call_response = None;
            host.effective_context_id = current;
            result.map_err(|e| trap(c, e))?;
        } else if let Some(event) = host.grpc.next_event() {
            deliver_grpc(c, event)?;
        } else if let Some(queue_id) = host.ready_queues.pop() {
            let owner = host.queues[queue_id as usize - 1].owner_context_id;
            c.on_queue_ready(owner, queue_id).map_err(|e| trap(c, e))?;
        } else {
            return Ok(());
        }
    }
    Err(FilterError::Runaway {
        module: c.module_name().to_owned(),
        limit: MAX_FOLLOW_UPS,
    })
}

/// Delivers one gRPC callback (see [`crate::grpc`]); what it delivers is readable during it.
fn deliver_grpc<C: Callbacks + ?Sized>(c: &mut C, event: GrpcEvent) -> Result<(), FilterError> {
    let (ctx, token) = (event.context_id, event.token);
    let (which, n) = match &event.kind {
        GrpcEventKind::InitialMetadata(m) => (0, m.len() as u32),
        GrpcEventKind::Message(m) => (1, m.len() as u32),
        GrpcEventKind::TrailingMetadata(m) => (2, m.len() as u32),
        GrpcEventKind::Close { status, .. } => (3, *status),
    };
    let host = c.host();
    host.grpc.delivering = Some(event.kind);
    let current = std::mem::replace(&mut host.effective_context_id, ctx);
    let result = match which {
        0 => c.on_grpc_receive_initial_metadata(ctx, token, n),
        1 => c.on_grpc_receive(ctx, token, n),
        2 => c.on_grpc_receive_trailing_metadata(ctx, token, n),
        _ => c.on_grpc_close(ctx, token, n),
    };
    let host = c.host();
    host.grpc.delivering = None;
    host.effective_context_id = current;
    result.map_err(|e| trap(c, e))
}

/// Decides how the stream goes on after `callback` returned `action`.
fn settle<C: Callbacks + ?Sized>(
    c: &mut C,
    action: Action,
    direction: Direction,
    must_resume: bool,
    callback: &'static str,
) -> Result<Flow, FilterError> {
    deliver_follow_ups(c)?;
    let stream = &mut c.host().stream;
    if stream.closed {
        return Ok(Flow::Reset);
    }
    if direction == Direction::Request && stream.local_response.is_some() {
        return Ok(Flow::LocalResponse);
    }
    let resumed = match direction {
        Direction::Request => std::mem::take(&mut stream.request_resumed),
        Direction::Response => std::mem::take(&mut stream.response_resumed),
    };
    match action {
        Action::Continue => Ok(Flow::Continue),
        Action::Pause if resumed => Ok(Flow::Continue),
        Action::Pause if must_resume => {
            stream.paused_in = Some(callback);
            Ok(Flow::Paused)
        }
        Action::Pause => Ok(Flow::Buffer),
    }
}

/// How a body without trailers tells its filter that the stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyEnd {
    /// As Envoy's HTTP/1.1 codec delivers a body: its chunks, then an empty chunk that ends
    /// the stream (the conformance kit's `body-buffers` probe: two response body callbacks
    /// for a body of one piece, the last given 0 bytes).
    EmptyChunk,
    /// The last chunk ends the stream (a local reply's body).
    InLastChunk,
}

/// Runs headers, body chunks and trailers of one direction. Returns the flow that ended it.
fn run_direction<C: Callbacks + ?Sized>(
    c: &mut C,
    ctx: u32,
    direction: Direction,
    body: &[Vec<u8>],
    has_trailers: bool,
    ending: BodyEnd,
) -> Result<Flow, FilterError> {
    let is_request = direction == Direction::Request;
    let headers_len = {
        let stream = &c.host().stream;
        let map = if is_request {
            &stream.request_headers
        } else {
            &stream.response_headers
        };
        map.as_ref().map_or(0, HeaderMap::len) as u32
    };
    let headers_eos = body.is_empty() && !has_trailers;
    let (action, name) = if is_request {
        (
            c.on_request_headers(ctx, headers_len, headers_eos),
            "proxy_on_request_headers",
        )
    } else {
        (
            c.on_response_headers(ctx, headers_len, headers_eos),
            "proxy_on_response_headers",
        )
    };
    let action = action.map_err(|e| trap(c, e))?;
    release_after(c, action, headers_map(is_request));
    match settle(c, action, direction, true, name)? {
        Flow::Continue => {}
        other => return Ok(other),
    }
    let empty_end = ending == BodyEnd::EmptyChunk && !body.is_empty() && !has_trailers;
    let chunks = body.iter().map(Vec::as_slice);
    let chunks = chunks.chain(empty_end.then_some(&[][..]));
    let count = body.len() + usize::from(empty_end);
    for (i, chunk) in chunks.enumerate() {
        let last = i + 1 == count;
        let eos = last && !has_trailers;
        let size = {
            let stream = &mut c.host().stream;
            let spares = &mut stream.spare_buffers;
            let slot = match direction {
                Direction::Request => &mut stream.request_body,
                Direction::Response => &mut stream.response_body,
            };
            let buf = slot.get_or_insert_with(|| {
                let mut spare = spares.pop().unwrap_or_default();
                spare.clear();
                spare
            });
            buf.extend_from_slice(chunk);
            buf.len() as u32
        };
        c.host().stream.addable_trailers = eos.then_some(trailers_map(is_request));
        let (action, name) = if is_request {
            (c.on_request_body(ctx, size, eos), "proxy_on_request_body")
        } else {
            (c.on_response_body(ctx, size, eos), "proxy_on_response_body")
        };
        c.host().stream.addable_trailers = None;
        let action = action.map_err(|e| trap(c, e))?;
        match settle(c, action, direction, last, name)? {
            Flow::Continue => forward_body(&mut c.host().stream, direction),
            Flow::Buffer => {}
            other => return Ok(other),
        }
    }
    if has_trailers {
        let trailers_len = {
            let stream = &c.host().stream;
            let map = if is_request {
                &stream.request_trailers
            } else {
                &stream.response_trailers
            };
            map.as_ref().map_or(0, HeaderMap::len) as u32
        };
        let (action, name) = if is_request {
            (
                c.on_request_trailers(ctx, trailers_len),
                "proxy_on_request_trailers",
            )
        } else {
            (
                c.on_response_trailers(ctx, trailers_len),
                "proxy_on_response_trailers",
            )
        };
        let action = action.map_err(|e| trap(c, e))?;
        release_after(c, action, trailers_map(is_request));
        let flow = settle(c, action, direction, true, name)?;
        if flow != Flow::Continue {
            return Ok(flow);
        }
    }
    Ok(Flow::Continue)
}

/// The headers map of a direction.
fn headers_map(is_request: bool) -> MapType {
    if is_request {
        MapType::HttpRequestHeaders
    } else {
        MapType::HttpResponseHeaders
    }
}

/// The trailers map of a direction.
fn trailers_map(is_request: bool) -> MapType {
    if is_request {
        MapType::HttpRequestTrailers
    } else {
        MapType::HttpResponseTrailers
    }
}

/// After `map`'s callback answered `action`: Envoy lets the map go when it was told to
/// continue, and keeps it (for the rest of the stream) when the callback paused.
fn release_after<C: Callbacks + ?Sized>(c: &mut C, action: Action, map: MapType) {
    if action == Action::Continue {
        c.host().release(map);
    }
}

fn body_slot(stream: &mut StreamState, direction: Direction) -> &mut Option<Vec<u8>> {
    match direction {
        Direction::Request => &mut stream.request_body,
        Direction::Response => &mut stream.response_body,
    }
}

fn forward_body(stream: &mut StreamState, direction: Direction) {
    let (buf, forwarded) = match direction {
        Direction::Request => (&mut stream.request_body, &mut stream.request_body_forwarded),
        Direction::Response => (
            &mut stream.response_body,
            &mut stream.response_body_forwarded,
        ),
    };
    if let Some(buf) = buf.as_mut().filter(|buf| !buf.is_empty()) {
        if !stream.discard_forwarded {
            forwarded.extend_from_slice(buf);
        }
        match direction {
            Direction::Request => stream.request_body_forwarded_len += buf.len() as u64,
            Direction::Response => stream.response_body_forwarded_len += buf.len() as u64,
        }
        buf.clear();
    }
}

/// Sets an optional map slot to a copy of `source`, reusing the slot's map or a spare one; a
/// map no longer needed goes to the spares.
fn assign_optional(
    slot: &mut Option<HeaderMap>,
    source: Option<&HeaderMap>,
    spare: &mut Vec<HeaderMap>,
) {
    match (slot.as_mut(), source) {
        (Some(map), Some(source)) => map.assign(source),
        (None, Some(source)) => {
            let mut map = spare.pop().unwrap_or_default();
            map.assign(source);
            *slot = Some(map);
        }
        (Some(_), None) => spare.extend(slot.take()),
        (None, None) => {}
    }
}

/// Resets the stream state for a new stream, reusing allocations (nothing is allocated once
/// the buffers have held a stream this large).
fn begin_stream(host: &mut HostState, ctx: u32, exchange: &HttpExchange, started: Instant) {
    let stream = &mut host.stream;
    stream.context_id = ctx;
    let http = matches!(exchange.unit, Unit::Http);
    stream.kind = if http { UnitKind::Http } else { UnitKind::Tcp };
    assign_optional(
        &mut stream.request_headers,
        http.then_some(&exchange.request_headers),
        &mut stream.spare_maps,
    );
    assign_optional(
        &mut stream.request_trailers,
        exchange.request_trailers.as_ref().filter(|_| http),
        &mut stream.spare_maps,
    );
    assign_optional(&mut stream.response_headers, None, &mut stream.spare_maps);
    assign_optional(&mut stream.response_trailers, None, &mut stream.spare_maps);
    if let Some(body) = stream.request_body.take() {
        stream.spare_buffers.push(body);
    }
    if let Some(body) = stream.response_body.take() {
        stream.spare_buffers.push(body);
    }
    stream.request_body_forwarded.clear();
    stream.response_body_forwarded.clear();
    stream.request_body_forwarded_len = 0;
    stream.response_body_forwarded_len = 0;
    stream.local_response = None;
    stream.request_resumed = false;
    stream.response_resumed = false;
    stream.closed = false;
    stream.done_called = false;
    stream.paused_in = None;
    stream.started = Some(started);
    stream.completed = false;
    stream.released = 0;
    stream.request_forwarded = false;
    stream.addable_trailers = None;
    host.effective_context_id = ctx;
}

/// Makes the response the filter will see: the upstream's, or the filter's local response.
fn begin_response(host: &mut HostState, exchange: &HttpExchange) -> Vec<Vec<u8>> {
    let stream = &mut host.stream;
    match &stream.local_response {
        Some(local) => {
            let mut headers = stream.spare_maps.pop().unwrap_or_default();
            headers.clear();
            headers.add(b":status", local.status_code.to_string().as_bytes());
            for (k, v) in local.headers.iter() {
                headers.add(k, v);
            }
            // As Envoy's local reply: a body brings its length and, unless the module gave
            // one, `content-type: text/plain` (seen in the module's response callbacks there;
            // an empty body gets no header until the codec's `content-length: 0`).
            if !local.body.is_empty() {
                headers.replace(b"content-length", local.body.len().to_string().as_bytes());
                if headers.get(b"content-type").is_none() {
                    headers.add(b"content-type", b"text/plain");
                }
            }
            stream.response_headers = Some(headers);
            assign_optional(&mut stream.response_trailers, None, &mut stream.spare_maps);
            if local.body.is_empty() {
                Vec::new()
            } else {
                vec![local.body.clone()]
            }
        }
        None => {
            assign_optional(
                &mut stream.response_headers,
                Some(&exchange.response_headers),
                &mut stream.spare_maps,
            );
            assign_optional(
                &mut stream.response_trailers,
                exchange.response_trailers.as_ref(),
                &mut stream.spare_maps,
            );
            Vec::new()
        }
    }
}

/// Most ticks one stream's clock step may fire (a period far below the step would otherwise
/// turn one request into a flood of ticks).
pub const MAX_TICKS_PER_STREAM: u64 = 1000;

/// Advances the plugin's virtual clock by one step and fires the ticks that fell due (each
/// with its follow-ups, e.g. the answer to an HTTP call the tick made).
fn advance_virtual_clock<C: Callbacks + ?Sized>(c: &mut C) -> Result<(), FilterError> {
    let host = c.host();
    host.clock.now_ns += host.plugin.clock_step_ns;
    for _ in 0..MAX_TICKS_PER_STREAM {
        let host = c.host();
        let period_ns = u64::from(host.tick_period_ms) * 1_000_000;
        if period_ns == 0 || host.clock.now_ns < host.clock.next_tick_ns {
            return Ok(());
        }
        host.clock.next_tick_ns += period_ns;
        host.clock.ticks_fired += 1;
        fire_tick(c)?;
    }
    Ok(())
}

/// Fires `proxy_on_tick` on the root context, then what it caused (an HTTP call's answer).
fn fire_tick<C: Callbacks + ?Sized>(c: &mut C) -> Result<(), FilterError> {
    let root = c.host().root_context_id;
    c.on_tick(root).map_err(|e| trap(c, e))?;
    deliver_follow_ups(c)
}

/// Runs a TCP connection's callbacks on context `ctx` (see [`Unit::Tcp`]).
fn run_connection<C: Callbacks + ?Sized>(
    c: &mut C,
    ctx: u32,
    tcp: &TcpExchange,
) -> Result<(), FilterError> {
    // Peer types as Envoy 1.40 reports them for a tcp_proxy connection whose client sent and
    // half-closed and whose upstream answered and closed (seen running bench-filters/
    // network-probe): the upstream's close as UNKNOWN, then the client's as LOCAL.
    const PEER_UNKNOWN: u32 = 0;
    const PEER_LOCAL: u32 = 1;
    let action = c.on_new_connection(ctx).map_err(|e| trap(c, e))?;
    let mut flow = settle(
        c,
        action,
        Direction::Request,
        true,
        "proxy_on_new_connection",
    )?;
    for (direction, chunks) in [
        (Direction::Request, &tcp.downstream),
        (Direction::Response, &tcp.upstream),
    ] {
        if flow != Flow::Continue {
            break;
        }
        flow = run_data(c, ctx, direction, chunks)?;
    }
    c.on_upstream_connection_close(ctx, PEER_UNKNOWN)
        .map_err(|e| trap(c, e))?;
    c.on_downstream_connection_close(ctx, PEER_LOCAL)
        .map_err(|e| trap(c, e))
}

/// Feeds one direction's data chunks of a connection; returns the flow that ended it.
fn run_data<C: Callbacks + ?Sized>(
    c: &mut C,
    ctx: u32,
    direction: Direction,
    chunks: &[Vec<u8>],
) -> Result<Flow, FilterError> {
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let size = {
            let buf = body_slot(&mut c.host().stream, direction).get_or_insert_with(Vec::new);
            buf.extend_from_slice(chunk);
            buf.len() as u32
        };
        let (action, name) = match direction {
            Direction::Request => (
                c.on_downstream_data(ctx, size, last),
                "proxy_on_downstream_data",
            ),
            Direction::Response => (
                c.on_upstream_data(ctx, size, last),
                "proxy_on_upstream_data",
            ),
        };
        let action = action.map_err(|e| trap(c, e))?;
        match settle(c, action, direction, last, name)? {
            Flow::Continue => forward_body(&mut c.host().stream, direction),
            Flow::Buffer => {}
            other => return Ok(other),
        }
    }
    Ok(Flow::Continue)
}

/// The index of the module's shared queue `name` (registered under its VM id). The host floor
/// has no module: for it the queue is made, owned by its root context.
fn queue_index<C: Callbacks + ?Sized>(c: &mut C, name: &str) -> Result<usize, FilterError> {
    let floor = c.is_floor();
    let host = c.host();
    let vm_id = &host.plugin.vm_id;
    if let Some(index) = host
        .queues
        .iter()
        .position(|q| q.vm_id == *vm_id && q.name == name)
    {
        return Ok(index);
    }
    if floor {
        let queue = crate::state::Queue {
            vm_id: vm_id.clone(),
            name: name.to_owned(),
            owner_context_id: host.root_context_id,
            items: Default::default(),
        };
        host.queues.push(queue);
        return Ok(host.queues.len() - 1);
    }
    let detail = format!(
        "the workload enqueues on shared queue '{name}', which the module did not register \
         (proxy_register_shared_queue) under its VM id '{vm_id}'"
    );
    Err(FilterError::Unsupported {
        engine: c.engine_name().to_owned(),
        module: c.module_name().to_owned(),
        detail,
    })
}

/// Runs a root-context unit ([`Unit::Tick`], [`Unit::QueueItem`]).
fn run_root_unit<C: Callbacks + ?Sized>(c: &mut C, unit: &Unit) -> Result<(), FilterError> {
    let host = c.host();
    host.stream.kind = UnitKind::Root;
    host.stream.local_response = None;
    host.stream.paused_in = None;
    host.stream.closed = false;
    match unit {
        Unit::QueueItem { queue, item } => {
            let index = queue_index(c, queue)?;
            let q = &mut c.host().queues[index];
            q.items.push_back(item.clone());
            let owner = q.owner_context_id;
            c.on_queue_ready(owner, index as u32 + 1)
                .map_err(|e| trap(c, e))?;
            if c.is_floor() {
                // Nothing dequeues on the floor.
                c.host().queues[index].items.clear();
            }
            deliver_follow_ups(c)
        }
        _ => {
            c.host().clock.ticks_fired += 1;
            fire_tick(c)
        }
    }
}

fn run_stream_lifecycle<C: Callbacks + ?Sized>(
    c: &mut C,
    exchange: &HttpExchange,
    started: Instant,
) -> Result<(), FilterError> {
    if c.host().plugin.clock_step_ns != 0 {
        advance_virtual_clock(c)?;
    }
    if matches!(exchange.unit, Unit::Tick | Unit::QueueItem { .. }) {
        return run_root_unit(c, &exchange.unit);
    }
    if matches!(exchange.unit, Unit::Http) && c.is_network_filter() {
        return Err(FilterError::Unsupported {
            engine: c.engine_name().to_owned(),
            module: c.module_name().to_owned(),
            detail: "it is a network (TCP) filter (it exports proxy_on_new_connection and no \
                     HTTP callback): run it on a tcp workload of a spec file \
                     (`workloads: [{name: echo, tcp: {downstream: ping, upstream: pong}}]`)"
                .to_owned(),
        });
    }
    let ctx = next_context_id();
    let root = c.host().root_context_id;
    begin_stream(c.host(), ctx, exchange, started);
    c.on_context_create(ctx, root).map_err(|e| trap(c, e))?;
    if let Unit::Tcp(tcp) = &exchange.unit {
        run_connection(c, ctx, tcp)?;
        return end_stream(c, ctx);
    }
    let request = run_direction(
        c,
        ctx,
        Direction::Request,
        &exchange.request_body,
        exchange.request_trailers.is_some(),
        BodyEnd::EmptyChunk,
    )?;
    c.host().stream.request_forwarded = matches!(request, Flow::Continue | Flow::Buffer);
    if !matches!(request, Flow::Reset | Flow::Paused) {
        let local_body = begin_response(c.host(), exchange);
        let (body, has_trailers) = if c.host().stream.local_response.is_some() {
            (local_body.as_slice(), false)
        } else {
            (
                exchange.response_body.as_slice(),
                exchange.response_trailers.is_some(),
            )
        };
        // A local reply's body comes in one piece that ends the stream (Envoy's
        // sendLocalReply); an upstream's through the HTTP/1.1 codec.
        let ending = if c.host().stream.local_response.is_some() {
            BodyEnd::InLastChunk
        } else {
            BodyEnd::EmptyChunk
        };
        run_direction(c, ctx, Direction::Response, body, has_trailers, ending)?;
    }
    end_stream(c, ctx)
}

/// The end of a stream or connection, in Envoy's order: an HTTP stream is logged, done,
/// deleted (its access-log hook runs before the filter is destroyed); a TCP connection is done,
/// logged, deleted (`onCloseTCP`). Its calls and streams end with it.
fn end_stream<C: Callbacks + ?Sized>(c: &mut C, ctx: u32) -> Result<(), FilterError> {
    let stream = &mut c.host().stream;
    stream.completed = true;
    if c.host().stream.kind == UnitKind::Tcp {
        c.on_done(ctx).map_err(|e| trap(c, e))?;
        log(c, ctx)?;
    } else {
        log(c, ctx)?;
        c.on_done(ctx).map_err(|e| trap(c, e))?;
    }
    c.on_delete(ctx).map_err(|e| trap(c, e))?;
    let host = c.host();
    host.grpc.forget_context(ctx);
    host.stream.context_id = 0;
    host.effective_context_id = host.root_context_id;
    Ok(())
}

/// `proxy_on_log`, with the stream in its access-log phase while it runs.
fn log<C: Callbacks + ?Sized>(c: &mut C, ctx: u32) -> Result<(), FilterError> {
    c.host().stream.logging = true;
    let result = c.on_log(ctx);
    c.host().stream.logging = false;
    result.map_err(|e| trap(c, e))
}

fn start_root<C: Callbacks + ?Sized>(c: &mut C) -> Result<(), FilterError> {
    let root = next_context_id();
    let (vm_len, plugin_len) = {
        let host = c.host();
        host.root_context_id = root;
        host.effective_context_id = root;
        (
            host.plugin.vm_configuration.len() as u32,
            host.plugin.plugin_configuration.len() as u32,
        )
    };
    c.on_context_create(root, 0).map_err(|e| trap(c, e))?;
    let rejected = |c: &mut C, callback| FilterError::Rejected {
        module: c.module_name().to_owned(),
        callback,
        logs: match c.host().logs.summary(crate::abi::LogLevel::Trace) {
            s if s.is_empty() => String::new(),
            s => format!("; module log: {s}"),
        },
    };
    if !c.on_vm_start(root, vm_len).map_err(|e| trap(c, e))? {
        return Err(rejected(c, "proxy_on_vm_start"));
    }
    if !c.on_configure(root, plugin_len).map_err(|e| trap(c, e))? {
        return Err(rejected(c, "proxy_on_configure"));
    }
    deliver_follow_ups(c)
}

impl<T: Callbacks> FilterInstance for T {
    fn start(&mut self) -> Result<(), FilterError> {
        start_root(self)
    }

    fn run_stream_started(
        &mut self,
        exchange: &HttpExchange,
        started: Instant,
    ) -> Result<(), FilterError> {
        run_stream_lifecycle(self, exchange, started)
    }

    fn linear_memory_bytes(&mut self) -> Option<u64> {
        Callbacks::linear_memory_bytes(self)
    }

    fn tick(&mut self) -> Result<(), FilterError> {
        fire_tick(self)
    }

    fn state(&mut self) -> &mut HostState {
        self.host()
    }

    fn guest_calls(&self) -> u64 {
        Callbacks::guest_calls(self)
    }
}
