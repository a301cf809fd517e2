//! The Proxy-Wasm ABI's values (spec v0.2.1 "Types"), its header-map serialization, and the
//! hostcall rules, shared by the in-process host (`filterbench-host`) and the Envoy bridge
//! (`filterbench-envoy-bridge`): header maps, logging, local replies, properties, shared data,
//! metrics and buffers, each behind a small trait for where the data lives. [`suite`] is the
//! behavioural test both implementations run.
//! No dependencies: the bridge is built next to the bench filters, with their lock file.

pub mod buffers;
pub mod header_maps;
pub mod local_reply;
pub mod logging;
pub mod metrics;
pub mod pairs;
pub mod properties;
pub mod shared_data;
pub mod suite;

/// `proxy_status_t`: what every hostcall returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The requested item does not exist.
    NotFound = 1,
    /// An argument is invalid (unknown id, bad enum value).
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// Input could not be parsed (for example a malformed serialized map).
    ParseFailure = 4,
    /// A pointer/length pair lies outside guest memory.
    InvalidMemoryAccess = 6,
    /// A queue is empty.
    Empty = 7,
    /// A compare-and-swap check failed.
    CasMismatch = 8,
    /// The host failed internally (for example the guest allocator returned 0).
    InternalFailure = 10,
    /// The host does not implement this function.
    Unimplemented = 12,
}

impl Status {
    /// The raw `u32` value returned to the guest.
    pub const fn raw(self) -> u32 {
        self as u32
    }
}

/// `proxy_action_t`: what a stream callback asks the host to do next.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Continue processing the stream.
    Continue,
    /// Stop iteration until the filter resumes the stream (Envoy: StopIteration/StopAll…).
    Pause,
}

impl Action {
    /// Interprets a callback's raw return value. Like proxy-wasm-cpp-host, any value other than
    /// 0 stops iteration.
    pub const fn from_raw(raw: u32) -> Self {
        if raw == 0 {
            Action::Continue
        } else {
            Action::Pause
        }
    }
}

/// `proxy_buffer_type_t`: which byte buffer a buffer hostcall refers to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BufferType {
    /// The HTTP request body.
    HttpRequestBody,
    /// The HTTP response body.
    HttpResponseBody,
    /// Downstream TCP data.
    DownstreamData,
    /// Upstream TCP data.
    UpstreamData,
    /// The body of an `http_call` response.
    HttpCallResponseBody,
    /// A gRPC call message.
    GrpcCallMessage,
    /// The VM configuration (readable in `proxy_on_vm_start`).
    VmConfiguration,
    /// The plugin configuration (readable in `proxy_on_configure`).
    PluginConfiguration,
    /// Arguments of a foreign function call.
    ForeignFunctionArguments,
}

impl BufferType {
    /// Decodes a raw buffer type; `None` for values outside the ABI.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcCallMessage,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            8 => Self::ForeignFunctionArguments,
            _ => return None,
        })
    }
}

/// `proxy_map_type_t`: which header map a map hostcall refers to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapType {
    /// HTTP request headers.
    HttpRequestHeaders,
    /// HTTP request trailers.
    HttpRequestTrailers,
    /// HTTP response headers.
    HttpResponseHeaders,
    /// HTTP response trailers.
    HttpResponseTrailers,
    /// gRPC initial metadata.
    GrpcCallInitialMetadata,
    /// gRPC trailing metadata.
    GrpcCallTrailingMetadata,
    /// Headers of an `http_call` response.
    HttpCallResponseHeaders,
    /// Trailers of an `http_call` response.
    HttpCallResponseTrailers,
}

impl MapType {
    /// Decodes a raw map type; `None` for values outside the ABI.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::HttpRequestHeaders,
            1 => Self::HttpRequestTrailers,
            2 => Self::HttpResponseHeaders,
            3 => Self::HttpResponseTrailers,
            4 => Self::GrpcCallInitialMetadata,
            5 => Self::GrpcCallTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// `proxy_stream_type_t`: which stream direction `continue_stream`/`close_stream` refer to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StreamType {
    /// The HTTP request direction.
    HttpRequest,
    /// The HTTP response direction.
    HttpResponse,
    /// Downstream TCP.
    Downstream,
    /// Upstream TCP.
    Upstream,
}

impl StreamType {
    /// Decodes a raw stream type; `None` for values outside the ABI.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::HttpRequest,
            1 => Self::HttpResponse,
            2 => Self::Downstream,
            3 => Self::Upstream,
            _ => return None,
        })
    }
}

/// `proxy_log_level_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
    /// Critical.
    Critical,
}

impl LogLevel {
    /// Decodes a raw log level; `None` for values outside the ABI.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }

    /// The raw value written to the guest.
    pub const fn raw(self) -> u32 {
        self as u32
    }
}

/// `proxy_metric_type_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonically increasing counter.
    Counter,
    /// A gauge that can go up and down.
    Gauge,
    /// A histogram of recorded values.
    Histogram,
}

impl MetricType {
    /// Decodes a raw metric type; `None` for values outside the ABI.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}
