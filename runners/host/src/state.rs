//! Everything the host keeps for one VM: plugin configuration, the current stream's header maps
//! and bodies, shared data, queues, metrics, properties, pending HTTP and gRPC calls and logs.
//! Engine-independent: each engine adapter owns one `HostState` per instance.

use crate::abi::{LogLevel, MetricType, Status};
use crate::grpc::{GrpcRoute, GrpcState};
pub use crate::header_map::HeaderMap;
use crate::pairs::Bytes;
use crate::restricted::Restriction;
use filterbench_proxy_abi::metrics::MetricUpdate;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A response the filter generated itself with `proxy_send_local_response`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status_code: u32,
    /// Response code details (Envoy's `response_code_details`).
    pub details: Bytes,
    /// Response body.
    pub body: Bytes,
    /// Additional response headers.
    pub headers: HeaderMap,
    /// gRPC status, or -1 for plain HTTP.
    pub grpc_status: i32,
}

/// The answer the scripted upstream gives to `proxy_http_call` for one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UpstreamReply {
    /// Response headers, including `:status`.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// Response trailers.
    pub trailers: HeaderMap,
    /// How long the upstream waits before answering, ms. Applied by the scripted upstreams of
    /// Envoy runs; the in-process host answers at once (waiting is no filter's work).
    pub delay_ms: u64,
}

/// One rule of the scripted upstream: calls to `cluster` (whose request headers contain
/// `when_header`, if set) get `reply`. The first matching rule answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamRoute {
    /// Cluster name the filter passes to `proxy_http_call`.
    pub cluster: String,
    /// Only calls with this request header and value match (`None`: every call).
    pub when_header: Option<(String, String)>,
    /// The answer.
    pub reply: UpstreamReply,
}

/// Everything configured for one plugin (one VM) before it starts.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// Plugin name (property `plugin_name`).
    pub name: String,
    /// Root id (property `plugin_root_id`).
    pub root_id: String,
    /// VM id (property `plugin_vm_id`; also the namespace of shared queues).
    pub vm_id: String,
    /// Bytes returned for `VM_CONFIGURATION` during `proxy_on_vm_start`.
    pub vm_configuration: Bytes,
    /// Bytes returned for `PLUGIN_CONFIGURATION` during `proxy_on_configure`.
    pub plugin_configuration: Bytes,
    /// Log level reported by `proxy_get_log_level`; messages below it are not stored.
    pub log_level: LogLevel,
    /// Environment variables exposed through WASI `environ_*` (empty by default, as Envoy).
    pub environment: Vec<(String, String)>,
    /// Scripted answers for `proxy_http_call`, first match wins.
    pub upstreams: Arc<Vec<UpstreamRoute>>,
    /// Scripted answers for `proxy_grpc_call` and `proxy_grpc_stream`, first match wins.
    pub grpc_upstreams: Arc<Vec<GrpcRoute>>,
    /// Largest linear memory an instance may grow to, bytes; `memory.grow` beyond it fails
    /// (returns -1) on every WebAssembly engine (native code has no linear memory to cap).
    pub memory_limit_bytes: u64,
    /// Properties the module can read besides the host's own (`route_name`, `node.id`, …),
    /// by dotted path, with their values encoded as Envoy encodes them.
    pub properties: Vec<(String, Bytes)>,
    /// Virtual time between two streams, ns; 0 keeps the wall clock. When set, the module's
    /// clock (`proxy_get_current_time_nanoseconds`, WASI `clock_time_get`) reads a virtual
    /// clock that starts at [`VIRTUAL_EPOCH_NS`] and advances this much before each stream,
    /// and ticks (`proxy_on_tick`) fire when it passes the period the module set — the same
    /// on every engine and run, so time-dependent behaviour is reproducible.
    pub clock_step_ns: u64,
}

/// Where a virtual clock starts: 2026-01-01T00:00:00Z, ns since the Unix epoch.
pub const VIRTUAL_EPOCH_NS: u64 = 1_767_225_600_000_000_000;

/// The virtual clock of a plugin with [`PluginSpec::clock_step_ns`] set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtualClock {
    /// Time since [`VIRTUAL_EPOCH_NS`], ns.
    pub now_ns: u64,
    /// When the next tick is due, ns since [`VIRTUAL_EPOCH_NS`] (meaningful while a tick
    /// period is set).
    pub next_tick_ns: u64,
    /// Ticks fired since the instance started.
    pub ticks_fired: u64,
}

/// Default [`PluginSpec::memory_limit_bytes`]: 512 MiB, far above what the bench filters use.
pub const DEFAULT_MEMORY_LIMIT_BYTES: u64 = 512 << 20;

impl PluginSpec {
    /// Whether some scripted upstream answers calls to `cluster`.
    pub fn knows_cluster(&self, cluster: &str) -> bool {
        self.upstreams.iter().any(|r| r.cluster == cluster)
    }

    /// The scripted answer to a call to `cluster` with request `headers` (a 503 with no body
    /// when no rule matches).
    pub fn answer(&self, cluster: &str, headers: &HeaderMap) -> UpstreamReply {
        let matches = |r: &&UpstreamRoute| {
            r.cluster == cluster
                && r.when_header
                    .as_ref()
                    .is_none_or(|(k, v)| headers.get(k.as_bytes()) == Some(v.as_bytes()))
        };
        match self.upstreams.iter().find(matches) {
            Some(route) => route.reply.clone(),
            None => UpstreamReply {
                headers: HeaderMap::from_pairs(&[(":status", "503")]),
                ..UpstreamReply::default()
            },
        }
    }

    /// A plugin named `name` with the given plugin configuration and defaults for the rest.
    pub fn new(name: &str, plugin_configuration: impl Into<Bytes>) -> Self {
        Self {
            name: name.to_owned(),
            root_id: String::new(),
            vm_id: format!("filterbench.{name}"),
            vm_configuration: Bytes::new(),
            plugin_configuration: plugin_configuration.into(),
            log_level: LogLevel::Info,
            environment: Vec::new(),
            upstreams: Arc::new(Vec::new()),
            grpc_upstreams: Arc::new(Vec::new()),
            memory_limit_bytes: DEFAULT_MEMORY_LIMIT_BYTES,
            properties: Vec::new(),
            clock_step_ns: 0,
        }
    }
}

/// One message a module logged through `proxy_log` or WASI `fd_write`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// Message text (lossy UTF-8).
    pub message: String,
}

/// Logs kept per VM: the most recent records (bounded) and a count of everything logged.
#[derive(Clone, Debug, Default)]
pub struct LogSink {
    records: VecDeque<LogRecord>,
    /// Total messages received, including those no longer kept.
    pub total: u64,
}

impl LogSink {
    /// Most records kept; older ones are dropped first.
    pub const CAPACITY: usize = 256;

    /// Stores a record, dropping the oldest beyond `CAPACITY`.
    pub fn push(&mut self, level: LogLevel, message: &[u8]) {
        self.total += 1;
        if self.records.len() == Self::CAPACITY {
            self.records.pop_front();
        }
        let message = String::from_utf8_lossy(message).trim_end().to_owned();
        self.records.push_back(LogRecord { level, message });
    }

    /// Kept records, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &LogRecord> {
        self.records.iter()
    }

    /// Kept records at `level` or above, formatted one per line.
    pub fn summary(&self, level: LogLevel) -> String {
        self.records
            .iter()
            .filter(|r| r.level >= level)
            .map(|r| format!("[{:?}] {}", r.level, r.message))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last `count` kept records, oldest first, as `[level] message` joined by " | "
    /// (empty when nothing was logged).
    pub fn last(&self, count: usize) -> String {
        let skip = self.records.len().saturating_sub(count);
        self.records
            .iter()
            .skip(skip)
            .map(|r| format!("[{:?}] {}", r.level, r.message))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Forgets every record.
    pub fn clear(&mut self) {
        self.records.clear();
        self.total = 0;
    }
}

/// A `proxy_http_call` the filter made, waiting for the scripted upstream's answer.
#[derive(Clone, Debug)]
pub struct PendingCall {
    /// Token returned to the filter.
    pub token: u32,
    /// Context that made the call (it receives `proxy_on_http_call_response`).
    pub context_id: u32,
    /// Upstream (cluster) name.
    pub upstream: String,
    /// Request headers sent.
    pub headers: HeaderMap,
    /// Request body sent.
    pub body: Bytes,
}

/// The response delivered during `proxy_on_http_call_response`.
#[derive(Clone, Debug, Default)]
pub struct CallResponse {
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
    /// Response trailers.
    pub trailers: HeaderMap,
}

/// One defined metric.
#[derive(Clone, Debug)]
pub struct Metric {
    /// Kind.
    pub kind: MetricType,
    /// Name as defined.
    pub name: String,
    /// Counter/gauge value; for histograms the sum of recorded values.
    pub value: i64,
    /// Number of values recorded (histograms) or updates (counters, gauges).
    pub updates: u64,
}

impl Metric {
    /// Applies a metric hostcall's update (see [`filterbench_proxy_abi::metrics`]): counters and
    /// gauges keep their value, histograms the sum of recorded values; every update counts.
    pub fn apply(&mut self, update: MetricUpdate) {
        self.value = match update {
            MetricUpdate::Increment(v) | MetricUpdate::GaugeAdd(v) | MetricUpdate::Record(v) => {
                self.value.wrapping_add(v as i64)
            }
            MetricUpdate::GaugeSub(v) => self.value.wrapping_sub(v as i64),
            MetricUpdate::GaugeSet(v) => v as i64,
        };
        self.updates += 1;
    }
}

/// A shared queue.
#[derive(Clone, Debug)]
pub struct Queue {
    /// VM id that registered it.
    pub vm_id: String,
    /// Queue name.
    pub name: String,
    /// Root context that registered it (receives `proxy_on_queue_ready`).
    pub owner_context_id: u32,
    /// Items waiting.
    pub items: VecDeque<Bytes>,
}

/// What the last unit of work through the filter was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnitKind {
    /// An HTTP stream.
    #[default]
    Http,
    /// A TCP connection through a network filter: the request direction holds the downstream
    /// data, the response direction the upstream data.
    Tcp,
    /// A root-context event (a tick, a queue item): no stream.
    Root,
}

/// State of the HTTP stream (or TCP connection) currently going through the filter.
#[derive(Clone, Debug, Default)]
pub struct StreamState {
    /// Context id of the stream (0 when no stream is active).
    pub context_id: u32,
    /// Set while `proxy_on_log` runs (Envoy's access-log phase).
    pub logging: bool,
    /// What the stream is.
    pub kind: UnitKind,
    /// Request headers (present from the start of the stream).
    pub request_headers: Option<HeaderMap>,
    /// Request trailers (present once the request has them).
    pub request_trailers: Option<HeaderMap>,
    /// Response headers (present once the response has started).
    pub response_headers: Option<HeaderMap>,
    /// Response trailers.
    pub response_trailers: Option<HeaderMap>,
    /// Request body bytes the filter currently sees (buffered while it pauses).
    pub request_body: Option<Bytes>,
    /// Response body bytes the filter currently sees.
    pub response_body: Option<Bytes>,
    /// Request body bytes the filter let through, in order (empty when `discard_forwarded`).
    pub request_body_forwarded: Bytes,
    /// Response body bytes the filter let through, in order (empty when `discard_forwarded`).
    pub response_body_forwarded: Bytes,
    /// Number of request body bytes the filter let through, bytes.
    pub request_body_forwarded_len: u64,
    /// Number of response body bytes the filter let through, bytes.
    pub response_body_forwarded_len: u64,
    /// Whether forwarded body bytes are only counted, not kept: set while timing (keeping them
    /// is a copy only conformance checks need), clear while checking.
    pub discard_forwarded: bool,
    /// Emptied body buffers of earlier streams, reused so a stream allocates nothing.
    pub spare_buffers: Vec<Bytes>,
    /// Header maps of earlier streams (response headers, trailers), reused likewise.
    pub spare_maps: Vec<HeaderMap>,
    /// Local response sent by the filter, if any.
    pub local_response: Option<LocalResponse>,
    /// Set by `proxy_continue_stream(HTTP_REQUEST)` (`DOWNSTREAM` on a connection).
    pub request_resumed: bool,
    /// Set by `proxy_continue_stream(HTTP_RESPONSE)` (`UPSTREAM` on a connection).
    pub response_resumed: bool,
    /// Set by `proxy_close_stream`.
    pub closed: bool,
    /// Set by `proxy_done`.
    pub done_called: bool,
    /// The callback that paused the stream when nothing resumed it: as in Envoy, the stream
    /// stays paused (it never reaches the upstream, or its response never completes) until
    /// Envoy's timeout or a reset ends it (`proxy_on_log`, `proxy_on_done`, `proxy_on_delete`).
    pub paused_in: Option<&'static str>,
    /// When the stream started (property `request.duration` counts from here).
    pub started: Option<std::time::Instant>,
    /// The request went upstream (its direction ended without a local reply, a reset or a
    /// pause): what a report may call the forwarded request.
    pub request_forwarded: bool,
    /// The stream header maps Envoy has let go (bit `1 << map type`): a map's callback returned
    /// Continue, so its headers went on and Envoy's Wasm host no longer offers them
    /// (`BAD_ARGUMENT`; in `proxy_on_log` values and pairs are read from the access log's
    /// copies instead). A callback that paused keeps its map until the module continues the
    /// stream: Envoy's `continueStream` lets the request's maps go (for either direction).
    pub released: u8,
    /// The trailers a body callback ending its direction may add (Envoy creates them for an
    /// edit then: `addDecodedTrailers` / `addEncodedTrailers`); `None` outside such a callback.
    pub addable_trailers: Option<crate::abi::MapType>,
    /// The stream has completed (its end callbacks run): Envoy answers `request.duration` only
    /// then (its `requestComplete()`), so during the stream's other callbacks it is not found.
    pub completed: bool,
}

/// Address reported as `upstream.address` (the benchmark's upstream is simulated).
pub const UPSTREAM_ADDRESS: &str = "127.0.0.1:8080";
/// Address reported as `source.address`.
pub const SOURCE_ADDRESS: &str = "127.0.0.1:49152";

/// All host-side state of one VM.
#[derive(Debug)]
pub struct HostState {
    /// The plugin configuration.
    pub plugin: PluginSpec,
    /// Set when the instance was refused memory beyond `plugin.memory_limit_bytes`.
    pub memory_limit_hit: bool,
    /// Root context id (0 before start).
    pub root_context_id: u32,
    /// Context the module last selected with `proxy_set_effective_context`.
    pub effective_context_id: u32,
    /// The active stream.
    pub stream: StreamState,
    /// Shared data: key → (value, CAS).
    pub shared_data: filterbench_proxy_abi::shared_data::SharedDataMap,
    /// Shared queues; id = index + 1.
    pub queues: Vec<Queue>,
    /// Queues that received an item and whose owner must get `proxy_on_queue_ready`.
    pub ready_queues: Vec<u32>,
    /// Metrics; id = index + 1.
    pub metrics: Vec<Metric>,
    /// Properties set by the harness or the filter, by dotted path.
    pub properties: HashMap<String, Bytes>,
    /// Tick period set by the filter, in milliseconds (0 = off).
    pub tick_period_ms: u32,
    /// The virtual clock (used when [`PluginSpec::clock_step_ns`] is set).
    pub clock: VirtualClock,
    /// HTTP calls waiting for delivery.
    pub pending_calls: Vec<PendingCall>,
    /// The response being delivered, during `proxy_on_http_call_response`.
    pub call_response: Option<CallResponse>,
    /// Next token for `proxy_http_call`, `proxy_grpc_call` and `proxy_grpc_stream`.
    pub next_call_token: u32,
    /// gRPC calls and streams and their queued callbacks.
    pub grpc: GrpcState,
    /// Messages logged by the module.
    pub logs: LogSink,
    /// Buffer reused by hostcalls that copy data into the guest.
    pub(crate) scratch: Vec<u8>,
    /// Set while the host runs a callback that restricts hostcalls (the start function, the
    /// allocator); `None` otherwise.
    pub restriction: Option<Restriction>,
}

impl HostState {
    /// Fresh state for a plugin.
    pub fn new(plugin: PluginSpec) -> Self {
        let mut properties: HashMap<String, Bytes> = plugin.properties.iter().cloned().collect();
        properties.insert("plugin_name".to_owned(), plugin.name.clone().into_bytes());
        properties.insert(
            "plugin_root_id".to_owned(),
            plugin.root_id.clone().into_bytes(),
        );
        properties.insert("plugin_vm_id".to_owned(), plugin.vm_id.clone().into_bytes());
        Self {
            plugin,
            root_context_id: 0,
            effective_context_id: 0,
            stream: StreamState::default(),
            shared_data: Default::default(),
            queues: Vec::new(),
            ready_queues: Vec::new(),
            metrics: Vec::new(),
            properties,
            tick_period_ms: 0,
            clock: VirtualClock::default(),
            pending_calls: Vec::new(),
            call_response: None,
            next_call_token: 1,
            grpc: GrpcState::default(),
            logs: LogSink::default(),
            scratch: Vec::new(),
            restriction: None,
            memory_limit_hit: false,
        }
    }

    /// The time the module reads, ns since the Unix epoch: the virtual clock when the plugin
    /// has one, else `wall` (called only then).
    pub fn now_ns(&self, wall: impl FnOnce() -> u64) -> u64 {
        if self.plugin.clock_step_ns == 0 {
            wall()
        } else {
            VIRTUAL_EPOCH_NS + self.clock.now_ns
        }
    }

    /// Whether linear memory may grow to `desired` bytes; records a refusal, so a trap that
    /// follows can say the limit was the cause.
    pub fn memory_growing(&mut self, desired: usize) -> bool {
        let allowed = desired as u64 <= self.plugin.memory_limit_bytes;
        if !allowed {
            self.memory_limit_hit = true;
        }
        allowed
    }

    /// Marks stream map `map` as let go (see [`StreamState::released`]).
    #[inline]
    pub fn release(&mut self, map: crate::abi::MapType) {
        self.stream.released |= 1 << map as u8;
    }

    /// Whether stream map `map` was let go (see [`StreamState::released`]).
    #[inline]
    pub fn is_released(&self, map: crate::abi::MapType) -> bool {
        self.stream.released & (1 << map as u8) != 0
    }

    /// Whether the module's current context is the active stream's: stream hostcalls (its
    /// header maps, continue and close) act on it. From the root context (ticks, the answers to
    /// HTTP and gRPC calls, which Envoy delivers to the root context) they do not, until the
    /// module selects the stream with `proxy_set_effective_context`.
    #[inline]
    pub fn in_stream(&self) -> bool {
        self.stream.context_id != 0 && self.effective_context_id == self.stream.context_id
    }

    /// The header map `map` of the active stream or HTTP-call response, if it exists now.
    pub fn map(&self, map: crate::abi::MapType) -> Option<&HeaderMap> {
        use crate::abi::MapType as M;
        match map {
            M::HttpRequestHeaders => self.stream.request_headers.as_ref(),
            M::HttpRequestTrailers => self.stream.request_trailers.as_ref(),
            M::HttpResponseHeaders => self.stream.response_headers.as_ref(),
            M::HttpResponseTrailers => self.stream.response_trailers.as_ref(),
            M::HttpCallResponseHeaders => self.call_response.as_ref().map(|r| &r.headers),
            M::HttpCallResponseTrailers => self.call_response.as_ref().map(|r| &r.trailers),
            M::GrpcCallInitialMetadata => self.grpc.metadata(false),
            M::GrpcCallTrailingMetadata => self.grpc.metadata(true),
        }
    }

    /// Mutable access to header map `map`, if it exists now (trailers a body callback ending
    /// its direction may add are created here, see [`StreamState::addable_trailers`]).
    pub fn map_mut(&mut self, map: crate::abi::MapType) -> Option<&mut HeaderMap> {
        use crate::abi::MapType as M;
        match map {
            M::HttpRequestHeaders => self.stream.request_headers.as_mut(),
            M::HttpRequestTrailers | M::HttpResponseTrailers => {
                let stream = &mut self.stream;
                let slot = if map == M::HttpRequestTrailers {
                    &mut stream.request_trailers
                } else {
                    &mut stream.response_trailers
                };
                if slot.is_none() && stream.addable_trailers == Some(map) {
                    let mut trailers = stream.spare_maps.pop().unwrap_or_default();
                    trailers.clear();
                    *slot = Some(trailers);
                }
                slot.as_mut()
            }
            M::HttpResponseHeaders => self.stream.response_headers.as_mut(),
            M::HttpCallResponseHeaders => self.call_response.as_mut().map(|r| &mut r.headers),
            M::HttpCallResponseTrailers => self.call_response.as_mut().map(|r| &mut r.trailers),
            M::GrpcCallInitialMetadata => self.grpc.metadata_mut(false),
            M::GrpcCallTrailingMetadata => self.grpc.metadata_mut(true),
        }
    }

    /// Value of a property path (segments joined by '.'). Well-known request/response
    /// properties are derived from the active stream; the rest come from `properties`.
    pub fn property(&self, path: &str) -> Option<Bytes> {
        let header = |map: &Option<HeaderMap>, key: &str| {
            map.as_ref()
                .and_then(|m| m.get(key.as_bytes()))
                .map(<[u8]>::to_vec)
        };
        // Envoy reads request and response attributes from the headers it still offers (in
        // `proxy_on_log`: the access log's copies); see [`StreamState::released`].
        let offered = |map: crate::abi::MapType, headers| {
            if self.stream.logging || !self.is_released(map) {
                headers
            } else {
                &None
            }
        };
        let request = offered(
            crate::abi::MapType::HttpRequestHeaders,
            &self.stream.request_headers,
        );
        let response = offered(
            crate::abi::MapType::HttpResponseHeaders,
            &self.stream.response_headers,
        );
        match path {
            "request.path" => header(request, ":path"),
            "request.url_path" => header(request, ":path")
                .map(|p| p.split(|b| *b == b'?').next().unwrap_or(&[]).to_vec()),
            "request.method" => header(request, ":method"),
            "request.host" => header(request, ":authority"),
            "request.scheme" => header(request, ":scheme"),
            "request.id" => header(request, "x-request-id"),
            "request.useragent" => header(request, "user-agent"),
            "request.referer" => header(request, "referer"),
            "request.protocol" => self
                .properties
                .get(path)
                .cloned()
                .or_else(|| Some(b"HTTP/1.1".to_vec())),
            // Integers are 8-byte little-endian, durations nanoseconds, as Envoy encodes them.
            "response.code" => header(&self.stream.response_headers, ":status")
                .and_then(|s| std::str::from_utf8(&s).ok()?.parse::<i64>().ok())
                .or_else(|| {
                    self.stream
                        .local_response
                        .as_ref()
                        .map(|l| i64::from(l.status_code))
                })
                .map(|code| code.to_le_bytes().to_vec()),
            "request.duration" => self
                .stream
                .started
                .filter(|_| self.stream.completed)
                .map(|t| (t.elapsed().as_nanos() as i64).to_le_bytes().to_vec()),
            "request.total_size" | "request.size" => Some(
                (self.stream.request_body_forwarded_len as i64)
                    .to_le_bytes()
                    .to_vec(),
            ),
            // Known once the request went upstream (Envoy picks the upstream host after the
            // request headers callback).
            "upstream.address" => self
                .properties
                .get(path)
                .cloned()
                .or_else(|| Some(UPSTREAM_ADDRESS.as_bytes().to_vec()))
                .filter(|_| self.stream.request_forwarded),
            "source.address" => self
                .properties
                .get(path)
                .cloned()
                .or_else(|| Some(SOURCE_ADDRESS.as_bytes().to_vec())),
            _ if path.starts_with("request.headers.") => {
                header(request, &path["request.headers.".len()..])
            }
            _ if path.starts_with("response.headers.") => {
                header(response, &path["response.headers.".len()..])
            }
            _ => self.properties.get(path).cloned(),
        }
    }

    /// Defines (or finds) a metric and returns its id.
    pub fn define_metric(&mut self, kind: MetricType, name: &str) -> u32 {
        if let Some(i) = self
            .metrics
            .iter()
            .position(|m| m.name == name && m.kind == kind)
        {
            return i as u32 + 1;
        }
        self.metrics.push(Metric {
            kind,
            name: name.to_owned(),
            value: 0,
            updates: 0,
        });
        self.metrics.len() as u32
    }

    /// The metric with id `id`.
    pub fn metric_mut(&mut self, id: u32) -> Result<&mut Metric, Status> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.metrics.get_mut(i))
            .ok_or(Status::NotFound)
    }

    /// Looks up a metric by name (for conformance checks and reports).
    pub fn metric_by_name(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_come_from_the_stream_and_the_plugin() {
        let mut state = HostState::new(PluginSpec::new("p", "{}"));
        state.stream.request_headers = Some(HeaderMap::from_pairs(&[
            (":path", "/a?b=1"),
            (":method", "GET"),
        ]));
        assert_eq!(state.property("request.url_path").unwrap(), b"/a");
        assert_eq!(state.property("request.method").unwrap(), b"GET");
        assert_eq!(state.property("plugin_name").unwrap(), b"p");
        assert_eq!(state.property("response.code"), None);
        state.stream.response_headers = Some(HeaderMap::from_pairs(&[(":status", "404")]));
        assert_eq!(
            state.property("response.code").unwrap(),
            404i64.to_le_bytes()
        );
        assert_eq!(state.property("no.such"), None);
        // As in Envoy: the duration is known once the stream has completed, not before.
        state.stream.started = Some(std::time::Instant::now());
        assert_eq!(state.property("request.duration"), None);
        state.stream.completed = true;
        let nanos = state.property("request.duration").unwrap();
        assert!(i64::from_le_bytes(nanos.try_into().unwrap()) >= 0);
    }

    #[test]
    fn metrics_are_defined_once_per_name() {
        let mut state = HostState::new(PluginSpec::new("p", ""));
        let a = state.define_metric(MetricType::Counter, "a");
        assert_eq!(state.define_metric(MetricType::Counter, "a"), a);
        assert_ne!(state.define_metric(MetricType::Gauge, "b"), a);
        assert!(state.metric_mut(0).is_err());
        assert!(state.metric_mut(99).is_err());
    }
}
