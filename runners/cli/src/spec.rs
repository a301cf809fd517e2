//! The filter spec file (`filterbench run --spec FILE`): one YAML file that describes a user's
//! run — the module, its plugin (configurations, ids, environment, log level, properties), the
//! upstreams its HTTP calls reach, a virtual clock for ticks, its workloads and what must hold
//! after each. [`FilterSpecFile`] is the format (its JSON Schema is `docs/filter-spec.schema.json`);
//! [`load`] turns a file into a run subject.

use anyhow::{Context, Result, bail};
use filterbench_harness::artifacts;
use filterbench_harness::assertions::{Assertions, HeaderCheck};
use filterbench_harness::catalog::{self, Custom, PluginSettings, Workload};
use filterbench_harness::run::Subject;
use filterbench_harness::workloads::{CHUNK_SIZE, json_records};
use filterbench_host::{
    GrpcReply, GrpcRoute, HeaderMap, HttpExchange, ModuleSource, TcpExchange, Unit, UpstreamReply,
    UpstreamRoute,
};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A filter spec: everything a run of one module needs.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FilterSpecFile {
    /// Name in results and reports (default: the module file's stem).
    pub name: Option<String>,
    /// The Proxy-Wasm module (.wasm), relative to this file.
    pub module: Option<PathBuf>,
    /// The same filter built as a native library (.so), relative to this file, for the native
    /// baseline.
    pub native: Option<PathBuf>,
    /// Instead of `module`/`native`: a filter crate in `bench-filters/`, built for you (wasm
    /// and native).
    pub bench_filter: Option<String>,
    /// The plugin: configurations, ids, environment, log level, properties.
    pub plugin: PluginSection,
    /// A virtual clock: without it the module reads the wall clock and ticks never fire.
    pub clock: Option<ClockSection>,
    /// What the module's HTTP calls (`proxy_http_call`) and gRPC calls and streams reach, by
    /// cluster name; the first matching entry answers, a call to a cluster not listed is
    /// refused (BAD_ARGUMENT for HTTP, PARSE_FAILURE for gRPC, as Envoy answers).
    pub upstreams: Vec<UpstreamSection>,
    /// The requests it runs on (default: the catalog's get-small).
    pub workloads: Vec<WorkloadSection>,
    /// Header and metric names whose values change from run to run: compared across engines
    /// by presence only.
    pub volatile: Vec<String>,
}

/// A configuration: a string as is, or any other YAML value sent as JSON.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfigValue {
    /// Sent as is.
    Text(String),
    /// Sent as compact JSON.
    Json(serde_json::Value),
}

/// The plugin section.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSection {
    /// Plugin configuration (`proxy_on_configure`): a string, or a mapping sent as JSON.
    pub configuration: Option<ConfigValue>,
    /// Plugin configuration read from this file (relative to the spec).
    pub configuration_file: Option<PathBuf>,
    /// VM configuration (`proxy_on_vm_start`).
    pub vm_configuration: Option<ConfigValue>,
    /// VM configuration read from this file.
    pub vm_configuration_file: Option<PathBuf>,
    /// Root id (`plugin_root_id`; SDKs pick their root context by it). Default: empty.
    pub root_id: Option<String>,
    /// VM id (`plugin_vm_id`). Default: filterbench.NAME.
    pub vm_id: Option<String>,
    /// Lowest level kept and reported by `proxy_get_log_level`: trace, debug, info, warn,
    /// error, critical. Default: info.
    pub log_level: Option<String>,
    /// Environment variables the module reads through WASI.
    pub environment: IndexMap<String, String>,
    /// Properties the module reads with `proxy_get_property`, by dotted path (`route_name`,
    /// `xds.cluster_name`): strings as bytes, integers as 8 bytes little-endian, booleans as
    /// one byte — as Envoy encodes them.
    pub properties: IndexMap<String, PropertyValue>,
}

/// A property's value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PropertyValue {
    /// One byte, 0 or 1.
    Bool(bool),
    /// 8 bytes, little-endian.
    Int(i64),
    /// The string's bytes.
    Text(String),
}

impl PropertyValue {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Bool(b) => vec![u8::from(*b)],
            Self::Int(i) => i.to_le_bytes().to_vec(),
            Self::Text(s) => s.clone().into_bytes(),
        }
    }
}

/// The virtual clock.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// Virtual time between two requests, ms (> 0). The module's clock starts at
    /// 2026-01-01T00:00:00Z and advances this much before each request; ticks fire when it
    /// passes the period the module set, before the request (and are timed with it).
    pub request_interval_ms: f64,
}

/// One upstream: an HTTP answer (`response`) or a gRPC service (`grpc`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// Cluster name the module passes to `proxy_http_call` (or `proxy_grpc_call`,
    /// `proxy_grpc_stream`).
    pub cluster: String,
    /// Only HTTP calls carrying this header with this value get this answer.
    #[serde(default)]
    pub when_header: Option<HeaderMatch>,
    /// The HTTP answer (default: 200, no body).
    #[serde(default)]
    pub response: Option<MessageSection>,
    /// Instead of `response`: the cluster is a gRPC service that answers the module's gRPC
    /// calls and streams.
    #[serde(default)]
    pub grpc: Option<GrpcSection>,
}

/// A gRPC service's answer. A unary call gets the first message (status 0) or fails with the
/// status; a stream gets the initial metadata when it opens, one message per message the module
/// sends, and — once the module ends its side — the remaining messages, the trailing metadata
/// and the status.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcSection {
    /// Only calls to this service (its full name, e.g. `envoy.service.auth.v3.Authorization`);
    /// default: any.
    pub service: Option<String>,
    /// Only calls to this method (e.g. `Check`); default: any. A call that no entry of its
    /// cluster matches fails with status 12 (UNIMPLEMENTED).
    pub method: Option<String>,
    /// Initial metadata (response headers) after `:status` and `content-type`.
    pub initial_metadata: IndexMap<String, String>,
    /// Response messages, in order: text, or `{base64: …}`, or `{file: …}` (relative to the
    /// spec) for binary (protobuf) messages.
    pub messages: Vec<GrpcMessage>,
    /// Trailing metadata after `grpc-status` and `grpc-message`.
    pub trailing_metadata: IndexMap<String, String>,
    /// gRPC status code, 0 (OK) to 16.
    pub status: u32,
    /// Status message.
    pub status_message: Option<String>,
    /// Milliseconds the service waits before answering (in Envoy; in-process answers arrive at
    /// once, as for `response.delay_ms`).
    pub delay_ms: Option<u64>,
}

/// One gRPC message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum GrpcMessage {
    /// The text's bytes.
    Text(String),
    /// Binary bytes.
    Encoded(EncodedMessage),
}

/// A binary gRPC message: give one of `base64` and `file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodedMessage {
    /// The bytes, base64-encoded (standard alphabet, padded).
    #[serde(default)]
    pub base64: Option<String>,
    /// A file holding the bytes (relative to the spec).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// A header and its value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    /// Header name.
    pub name: String,
    /// Exact value.
    pub value: String,
}

/// A response: status, headers, body, trailers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MessageSection {
    /// HTTP status (default 200).
    pub status: Option<u16>,
    /// Headers, in order (`content-length` is added for a body unless given).
    pub headers: IndexMap<String, String>,
    /// Body text.
    pub body: Option<String>,
    /// A generated JSON body of about this many bytes.
    pub body_bytes: Option<usize>,
    /// Body read from this file (relative to the spec).
    pub body_file: Option<PathBuf>,
    /// Trailers.
    pub trailers: Option<IndexMap<String, String>>,
    /// An upstream's answer only: milliseconds it waits before answering. Applied in Envoy
    /// (`filterbench envoy --spec`: the scripted upstream waits, so latency includes it); the
    /// in-process host answers at once, since waiting is no filter's work.
    pub delay_ms: Option<u64>,
}

/// A request: method, path, authority, headers, body, trailers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RequestSection {
    /// Method (default GET).
    pub method: Option<String>,
    /// Path with query (default /).
    pub path: Option<String>,
    /// Authority (default api.example.com).
    pub authority: Option<String>,
    /// Headers after the pseudo-headers, in order (`content-length` is added for a body
    /// unless given).
    pub headers: IndexMap<String, String>,
    /// Body text.
    pub body: Option<String>,
    /// A generated JSON body of about this many bytes.
    pub body_bytes: Option<usize>,
    /// Body read from this file (relative to the spec).
    pub body_file: Option<PathBuf>,
    /// Size of the chunks the body arrives in, bytes (default 16384).
    pub chunk_bytes: Option<usize>,
    /// Trailers.
    pub trailers: Option<IndexMap<String, String>>,
}

/// One workload: a catalog workload by name (then only `expect` may be given), or a request
/// and response of its own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    /// Name in results; a catalog workload's name (`filterbench list workloads`) uses it.
    pub name: String,
    /// The request the client sends (default: GET /).
    #[serde(default)]
    pub request: Option<RequestSection>,
    /// What the upstream answers (default: 200, no body).
    #[serde(default)]
    pub response: Option<MessageSection>,
    /// Instead of a request: a TCP connection through a network filter (the module's
    /// `proxy_on_new_connection`, `proxy_on_downstream_data`, `proxy_on_upstream_data` and
    /// close callbacks).
    #[serde(default)]
    pub tcp: Option<TcpSection>,
    /// Instead of a request: `true` fires `proxy_on_tick` on the root context each time (for a
    /// root-only plugin, one with no HTTP or TCP context).
    #[serde(default)]
    pub tick: bool,
    /// Instead of a request: an item enqueued each time on a shared queue the module
    /// registered, delivered with `proxy_on_queue_ready` (a root-only plugin's work).
    #[serde(default)]
    pub queue: Option<QueueSection>,
    /// What must hold after the first request, checked on every engine before timing.
    #[serde(default)]
    pub expect: Option<ExpectSection>,
}

/// A TCP connection: what each side sends (give at most one of each side's text, size and
/// file; a side may send nothing).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TcpSection {
    /// What the client sends, as text.
    pub downstream: Option<String>,
    /// What the client sends: this many generated bytes.
    pub downstream_bytes: Option<usize>,
    /// What the client sends, read from this file (relative to the spec).
    pub downstream_file: Option<PathBuf>,
    /// What the upstream sends back, as text.
    pub upstream: Option<String>,
    /// What the upstream sends back: this many generated bytes.
    pub upstream_bytes: Option<usize>,
    /// What the upstream sends back, read from this file.
    pub upstream_file: Option<PathBuf>,
    /// Size of the chunks the data arrives in, bytes (default 16384).
    pub chunk_bytes: Option<usize>,
}

/// An item for a shared queue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// The queue's name, as the module registers it (`proxy_register_shared_queue`).
    pub name: String,
    /// The item, as text.
    #[serde(default)]
    pub item: String,
}

/// What must hold after a workload's first request. Only what is named is checked.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExpectSection {
    /// Request headers forwarded upstream: a string for the exact value, `true` for present,
    /// `false` for absent.
    pub request_headers: IndexMap<String, HeaderExpectation>,
    /// Response headers sent downstream, likewise.
    pub response_headers: IndexMap<String, HeaderExpectation>,
    /// The status of the local reply the module must send, or `false`: it must not send one.
    pub local_reply: Option<LocalReplyExpectation>,
    /// A fragment the local reply's body must contain.
    pub local_reply_body_contains: Option<String>,
    /// Fragments that must each appear in some logged message.
    pub log_contains: Vec<String>,
    /// Metrics and their values (histograms: the sum of recorded values).
    pub metrics: IndexMap<String, i64>,
    /// Fewest ticks that must have fired (needs `clock`).
    pub ticks_at_least: Option<u64>,
    /// `true`: the module pauses the stream and never continues it (it stays paused until
    /// Envoy's timeout); `false`: the stream must complete. Unstated, a paused stream is an
    /// observation.
    pub paused: Option<bool>,
}

/// A header expectation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HeaderExpectation {
    /// `true`: present with any value; `false`: absent.
    Presence(bool),
    /// Present with exactly this value.
    Value(String),
}

/// A local-reply expectation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LocalReplyExpectation {
    /// The status (100–999).
    Status(u32),
    /// `false`: no local reply.
    NoReply(bool),
}

/// Parses a spec from YAML text; errors name the line and column.
pub fn parse(text: &str) -> Result<FilterSpecFile> {
    Ok(serde_saphyr::from_str(text)?)
}

/// Reads `file` relative to the spec's folder.
fn relative(base: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        base.join(file)
    }
}

fn read_text(base: &Path, file: &Path, what: &str) -> Result<String> {
    let path = relative(base, file);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn config(
    base: &Path,
    inline: &Option<ConfigValue>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<String> {
    match (inline, file) {
        (Some(_), Some(_)) => bail!("give {what} or {what}_file, not both"),
        (Some(ConfigValue::Text(text)), None) => Ok(text.clone()),
        (Some(ConfigValue::Json(value)), None) => Ok(value.to_string()),
        (None, Some(file)) => read_text(base, file, &format!("{what}_file")),
        (None, None) => Ok(String::new()),
    }
}

fn body(
    base: &Path,
    text: &Option<String>,
    bytes: Option<usize>,
    file: &Option<PathBuf>,
) -> Result<Vec<u8>> {
    match (text, bytes, file) {
        (Some(text), None, None) => Ok(text.clone().into_bytes()),
        (None, Some(size), None) => Ok(json_records(size)),
        (None, None, Some(file)) => {
            let path = relative(base, file);
            std::fs::read(&path)
                .with_context(|| format!("cannot read body_file {}", path.display()))
        }
        (None, None, None) => Ok(Vec::new()),
        _ => bail!("give one of body, body_bytes and body_file"),
    }
}

fn header_map(pairs: impl IntoIterator<Item = (String, String)>) -> HeaderMap {
    let pairs: Vec<(String, String)> = pairs.into_iter().collect();
    HeaderMap::from_pairs(&pairs)
}

fn lower_pairs(map: &IndexMap<String, String>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

/// Headers with `content-length` for a non-empty body, unless given.
fn with_length(mut pairs: Vec<(String, String)>, body: &[u8]) -> Vec<(String, String)> {
    if !body.is_empty() && !pairs.iter().any(|(k, _)| k == "content-length") {
        pairs.push(("content-length".to_owned(), body.len().to_string()));
    }
    pairs
}

fn response(
    base: &Path,
    section: &MessageSection,
) -> Result<(HeaderMap, Vec<u8>, Option<HeaderMap>)> {
    let body = body(base, &section.body, section.body_bytes, &section.body_file)?;
    let status = section.status.unwrap_or(200);
    if !(100..=999).contains(&status) {
        bail!("status {status} is not an HTTP status (100–999)");
    }
    let mut pairs = vec![(":status".to_owned(), status.to_string())];
    pairs.extend(with_length(lower_pairs(&section.headers), &body));
    let trailers = section
        .trailers
        .as_ref()
        .map(|t| header_map(lower_pairs(t)));
    Ok((header_map(pairs), body, trailers))
}

/// The unit of work of a workload that is not an HTTP request (a connection, a tick, a queue
/// item), `None` for a request.
fn other_unit(base: &Path, w: &WorkloadSection) -> Result<Option<Unit>> {
    let given = [w.tcp.is_some(), w.tick, w.queue.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => return Ok(None),
        1 => {}
        _ => bail!("give one of tcp, tick and queue"),
    }
    if w.request.is_some() || w.response.is_some() {
        bail!(
            "request and response describe an HTTP request; a tcp, tick or queue workload has neither"
        );
    }
    if let Some(expect) = &w.expect {
        let http_only = !expect.request_headers.is_empty()
            || !expect.response_headers.is_empty()
            || expect.local_reply.is_some()
            || expect.local_reply_body_contains.is_some();
        if http_only {
            bail!(
                "request_headers, response_headers and local replies are HTTP expectations; \
                 state metrics, log lines or paused for this workload"
            );
        }
    }
    if let Some(tcp) = &w.tcp {
        let chunk = tcp.chunk_bytes.unwrap_or(CHUNK_SIZE);
        if chunk == 0 {
            bail!("chunk_bytes must be at least 1");
        }
        let side = |text, bytes, file, what: &str| {
            body(base, text, bytes, file).with_context(|| format!("tcp {what}"))
        };
        let downstream = side(
            &tcp.downstream,
            tcp.downstream_bytes,
            &tcp.downstream_file,
            "downstream",
        )?;
        let upstream = side(
            &tcp.upstream,
            tcp.upstream_bytes,
            &tcp.upstream_file,
            "upstream",
        )?;
        let chunks = |data: Vec<u8>| data.chunks(chunk).map(<[u8]>::to_vec).collect();
        return Ok(Some(Unit::Tcp(TcpExchange {
            downstream: chunks(downstream),
            upstream: chunks(upstream),
        })));
    }
    Ok(Some(match &w.queue {
        Some(queue) => Unit::QueueItem {
            queue: queue.name.clone(),
            item: queue.item.clone().into_bytes(),
        },
        None => Unit::Tick,
    }))
}

fn exchange(base: &Path, w: &WorkloadSection) -> Result<HttpExchange> {
    if let Some(unit) = other_unit(base, w)? {
        return Ok(HttpExchange {
            unit,
            ..HttpExchange::default()
        });
    }
    let default_request = RequestSection::default();
    let request = w.request.as_ref().unwrap_or(&default_request);
    let request_body = body(base, &request.body, request.body_bytes, &request.body_file)?;
    let mut pairs = vec![
        (
            ":method".to_owned(),
            request.method.clone().unwrap_or_else(|| "GET".to_owned()),
        ),
        (
            ":path".to_owned(),
            request.path.clone().unwrap_or_else(|| "/".to_owned()),
        ),
        (
            ":authority".to_owned(),
            request
                .authority
                .clone()
                .unwrap_or_else(|| "api.example.com".to_owned()),
        ),
        (":scheme".to_owned(), "https".to_owned()),
    ];
    pairs.extend(with_length(lower_pairs(&request.headers), &request_body));
    let chunk = request.chunk_bytes.unwrap_or(CHUNK_SIZE);
    if chunk == 0 {
        bail!("chunk_bytes must be at least 1");
    }
    let default_response = MessageSection::default();
    let answer = w.response.as_ref().unwrap_or(&default_response);
    if answer.delay_ms.is_some() {
        bail!(
            "delay_ms applies to an upstream's answer (upstreams[].response), not to a workload's response"
        );
    }
    let (response_headers, response_body, response_trailers) = response(base, answer)?;
    Ok(HttpExchange {
        unit: Unit::Http,
        request_headers: header_map(pairs),
        request_body: request_body.chunks(chunk).map(<[u8]>::to_vec).collect(),
        request_trailers: request
            .trailers
            .as_ref()
            .map(|t| header_map(lower_pairs(t))),
        response_headers,
        response_body: if response_body.is_empty() {
            Vec::new()
        } else {
            vec![response_body]
        },
        response_trailers,
    })
}

fn header_checks(map: &IndexMap<String, HeaderExpectation>) -> Vec<(String, HeaderCheck)> {
    map.iter()
        .map(|(name, e)| {
            let check = match e {
                HeaderExpectation::Presence(true) => HeaderCheck::Present,
                HeaderExpectation::Presence(false) => HeaderCheck::Absent,
                HeaderExpectation::Value(v) => HeaderCheck::Equals(v.clone()),
            };
            (name.to_ascii_lowercase(), check)
        })
        .collect()
}

fn assertions(e: &ExpectSection, has_clock: bool) -> Result<Assertions> {
    let local_reply = match e.local_reply {
        None => None,
        Some(LocalReplyExpectation::NoReply(false)) => Some(None),
        Some(LocalReplyExpectation::NoReply(true)) => {
            bail!("local_reply takes a status (e.g. 429) or false, not true")
        }
        Some(LocalReplyExpectation::Status(status)) if (100..=999).contains(&status) => {
            Some(Some(status))
        }
        Some(LocalReplyExpectation::Status(status)) => {
            bail!("local_reply {status} is not an HTTP status (100–999)")
        }
    };
    if e.ticks_at_least.is_some() && !has_clock {
        bail!("ticks_at_least needs a virtual clock: add `clock: {{request_interval_ms: …}}`");
    }
    Ok(Assertions {
        request_headers: header_checks(&e.request_headers),
        response_headers: header_checks(&e.response_headers),
        local_reply,
        local_reply_body_contains: e.local_reply_body_contains.clone(),
        log_contains: e.log_contains.clone(),
        metrics: e.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        ticks_at_least: e.ticks_at_least,
        paused: e.paused,
    })
}

/// The spec's upstreams as the host's scripted HTTP and gRPC answers.
fn upstream_routes(
    base: &Path,
    sections: &[UpstreamSection],
) -> Result<(Vec<UpstreamRoute>, Vec<GrpcRoute>)> {
    let mut http = Vec::new();
    let mut grpc = Vec::new();
    for u in sections {
        let context = || format!("upstream '{}'", u.cluster);
        match (&u.response, &u.grpc) {
            (Some(_), Some(_)) => {
                bail!("upstream '{}': give response or grpc, not both", u.cluster)
            }
            (_, Some(section)) => {
                if u.when_header.is_some() {
                    bail!(
                        "upstream '{}': when_header applies to HTTP answers; a gRPC entry matches by service and method",
                        u.cluster
                    );
                }
                grpc.push(GrpcRoute {
                    cluster: u.cluster.clone(),
                    service: section.service.clone(),
                    method: section.method.clone(),
                    reply: grpc_reply(base, section).with_context(context)?,
                });
            }
            (answer, None) => {
                let default_response = MessageSection::default();
                let (headers, body, trailers) =
                    response(base, answer.as_ref().unwrap_or(&default_response))
                        .with_context(context)?;
                http.push(UpstreamRoute {
                    cluster: u.cluster.clone(),
                    when_header: u
                        .when_header
                        .as_ref()
                        .map(|h| (h.name.to_ascii_lowercase(), h.value.clone())),
                    reply: UpstreamReply {
                        headers,
                        body,
                        trailers: trailers.unwrap_or_default(),
                        delay_ms: answer.as_ref().and_then(|a| a.delay_ms).unwrap_or(0),
                    },
                });
            }
        }
    }
    Ok((http, grpc))
}

/// Highest gRPC status code (UNAUTHENTICATED).
const MAX_GRPC_STATUS: u32 = 16;

fn grpc_reply(base: &Path, section: &GrpcSection) -> Result<GrpcReply> {
    if section.status > MAX_GRPC_STATUS {
        bail!(
            "grpc status {} is not a gRPC status (0 OK to 16 UNAUTHENTICATED)",
            section.status
        );
    }
    let messages = section
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| grpc_message(base, m).with_context(|| format!("grpc message {}", i + 1)))
        .collect::<Result<Vec<_>>>()?;
    Ok(GrpcReply {
        initial_metadata: header_map(lower_pairs(&section.initial_metadata)),
        messages,
        trailing_metadata: header_map(lower_pairs(&section.trailing_metadata)),
        status: section.status,
        status_message: section
            .status_message
            .clone()
            .unwrap_or_default()
            .into_bytes(),
        delay_ms: section.delay_ms.unwrap_or(0),
    })
}

fn grpc_message(base: &Path, message: &GrpcMessage) -> Result<Vec<u8>> {
    use base64::Engine as _;
    match message {
        GrpcMessage::Text(text) => Ok(text.clone().into_bytes()),
        GrpcMessage::Encoded(EncodedMessage {
            base64: Some(encoded),
            file: None,
        }) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .context("base64 does not decode (standard alphabet, padded)"),
        GrpcMessage::Encoded(EncodedMessage {
            base64: None,
            file: Some(file),
        }) => {
            let path = relative(base, file);
            std::fs::read(&path).with_context(|| format!("cannot read file {}", path.display()))
        }
        GrpcMessage::Encoded(_) => bail!("give one of base64 and file"),
    }
}

fn leak(text: String) -> &'static str {
    // A run needs `'static` names; one spec per process, so a few leaked strings are fine.
    Box::leak(text.into_boxed_str())
}

/// The module files a spec names.
fn source(spec: &FilterSpecFile, base: &Path, name: &str) -> Result<ModuleSource> {
    match (&spec.bench_filter, &spec.module) {
        (Some(_), Some(_)) => bail!("give module or bench_filter, not both"),
        (Some(crate_name), None) => {
            if spec.native.is_some() {
                bail!("native comes with bench_filter already; remove native");
            }
            let built = artifacts::ensure_built(crate_name)
                .with_context(|| format!("cannot build bench filter '{crate_name}'"))?;
            Ok(ModuleSource {
                name: name.to_owned(),
                ..built
            })
        }
        (None, Some(module)) => {
            let wasm = relative(base, module);
            if !wasm.is_file() {
                bail!(
                    "cannot read module {}: no such file (paths are relative to the spec file)",
                    wasm.display()
                );
            }
            let native = spec.native.as_ref().map(|n| relative(base, n));
            if let Some(native) = &native
                && !native.is_file()
            {
                bail!(
                    "cannot read native library {}: no such file",
                    native.display()
                );
            }
            Ok(ModuleSource {
                name: name.to_owned(),
                wasm: Some(wasm),
                native,
            })
        }
        (None, None) => {
            bail!("give the module to run: `module: PATH.wasm` (or `bench_filter: NAME`)")
        }
    }
}

fn subject_of(spec: &FilterSpecFile, base: &Path, fallback_name: &str) -> Result<Subject> {
    let name = match (&spec.name, &spec.module, &spec.bench_filter) {
        (Some(name), _, _) => name.clone(),
        (None, Some(module), _) => module.file_stem().map_or_else(
            || fallback_name.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        ),
        (None, None, Some(bench)) => bench.clone(),
        (None, None, None) => fallback_name.to_owned(),
    };
    let name = leak(name);
    let source = source(spec, base, name)?;
    let plugin = &spec.plugin;
    let clock_step_ns = match &spec.clock {
        None => 0,
        Some(clock) if clock.request_interval_ms > 0.0 && clock.request_interval_ms.is_finite() => {
            (clock.request_interval_ms * 1e6).round() as u64
        }
        Some(clock) => bail!(
            "clock.request_interval_ms must be above 0 (got {})",
            clock.request_interval_ms
        ),
    };
    let settings = PluginSettings {
        root_id: plugin.root_id.clone(),
        vm_id: plugin.vm_id.clone(),
        environment: plugin
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        log_level: plugin
            .log_level
            .as_deref()
            .map(|name| crate::byo::parse_log_level("log_level", name))
            .transpose()?,
        properties: plugin
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.encode()))
            .collect(),
        clock_step_ns,
    };
    let catalog_workloads = catalog::workloads();
    let mut custom = Custom::default();
    let mut names = Vec::new();
    for w in &spec.workloads {
        let context = || format!("workload '{}'", w.name);
        if names.contains(&w.name) {
            bail!("workload '{}' is given twice", w.name);
        }
        let known = catalog_workloads.iter().find(|c| c.name == w.name);
        let name = match known {
            Some(known) => {
                if w.request.is_some()
                    || w.response.is_some()
                    || w.tcp.is_some()
                    || w.tick
                    || w.queue.is_some()
                {
                    bail!(
                        "workload '{}' is the catalog's; give yours another name to define its request and response",
                        w.name
                    );
                }
                known.name
            }
            None => {
                let name = leak(w.name.clone());
                custom.workloads.push(Workload {
                    name,
                    description: "defined in the spec file".to_owned(),
                    sweep: None,
                    exchange: exchange(base, w).with_context(context)?,
                });
                name
            }
        };
        if let Some(expect) = &w.expect {
            custom.assertions.push((
                name.to_owned(),
                assertions(expect, clock_step_ns != 0).with_context(context)?,
            ));
        }
        names.push(w.name.clone());
    }
    let workloads: Vec<&'static str> = if names.is_empty() {
        vec!["get-small"]
    } else {
        names.iter().map(|n| leak(n.clone())).collect()
    };
    let (upstreams, grpc_upstreams) = upstream_routes(base, &spec.upstreams)?;
    custom.grpc_upstreams = grpc_upstreams;
    let mut filter = catalog::user_module(
        name,
        config(
            base,
            &plugin.configuration,
            &plugin.configuration_file,
            "configuration",
        )?,
        config(
            base,
            &plugin.vm_configuration,
            &plugin.vm_configuration_file,
            "vm_configuration",
        )?,
        settings,
        workloads,
        spec.volatile.clone(),
    );
    filter.upstreams = upstreams;
    custom.wasm = source.wasm.clone();
    custom.native = source.native.clone();
    filter.custom = custom;
    Ok(Subject { filter, source })
}

/// Reads the spec at `path` and makes its run subject; errors name the file.
pub fn load(path: &Path) -> Result<Subject> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read spec file {}", path.display()))?;
    let spec = parse(&text).with_context(|| format!("spec file {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map_or_else(|| "spec".to_owned(), |s| s.to_string_lossy().into_owned());
    let mut subject =
        subject_of(&spec, base, &stem).with_context(|| format!("spec file {}", path.display()))?;
    subject.filter.custom.spec_file = Some(path.to_owned());
    Ok(subject)
}

/// The names of the workloads a spec defines itself (for `--workload` checks).
pub fn own_workload_names(subject: &Subject) -> Vec<String> {
    subject
        .filter
        .custom
        .workloads
        .iter()
        .map(|w| w.name.to_owned())
        .collect()
}

/// The spec format's JSON Schema, pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(FilterSpecFile);
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_host::abi::LogLevel;

    #[test]
    fn the_committed_schema_is_the_formats_schema() {
        let path = filterbench_harness::paths::repo_root().join("docs/filter-spec.schema.json");
        if std::env::var_os("FILTERBENCH_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, schema_json()).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == schema_json(),
            "{} is out of date: run FILTERBENCH_WRITE_SCHEMA=1 cargo test -p filterbench spec",
            path.display()
        );
    }

    #[test]
    fn a_spec_becomes_workloads_upstreams_properties_and_assertions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join("config.json"), br#"{"a": 1}"#).unwrap();
        let spec = parse(
            r#"
module: f.wasm
plugin:
  configuration_file: config.json
  vm_configuration: {pool: 4}
  root_id: edge
  log_level: debug
  environment: {REGION: eu}
  properties: {route_name: api, "listener.port": 8080, mtls: true}
clock: {request_interval_ms: 250}
upstreams:
  - cluster: tokens
    response: {status: 200, headers: {Content-Type: text/plain}, body: abc}
workloads:
  - name: get-small
    expect: {local_reply: false}
  - name: upload
    request: {method: POST, path: /up, headers: {X-User: alice}, body_bytes: 40000, chunk_bytes: 16384, trailers: {grpc-status: "0"}}
    response: {status: 201}
    expect:
      request_headers: {x-token: abc, x-debug: false, x-user: true}
      local_reply: 429
      ticks_at_least: 1
volatile: [ratelimit-reset]
"#,
        )
        .unwrap();
        let subject = subject_of(&spec, dir.path(), "x").unwrap();
        let f = &subject.filter;
        assert_eq!(f.name, "f");
        assert_eq!(f.workloads, ["get-small", "upload"]);
        assert_eq!(f.plugin_config, r#"{"a": 1}"#);
        assert_eq!(f.vm_config, r#"{"pool":4}"#);
        assert_eq!(f.plugin.root_id.as_deref(), Some("edge"));
        assert_eq!(f.plugin.log_level, Some(LogLevel::Debug));
        assert_eq!(f.plugin.clock_step_ns, 250_000_000);
        assert_eq!(
            f.plugin.properties,
            [
                ("route_name".to_owned(), b"api".to_vec()),
                ("listener.port".to_owned(), 8080i64.to_le_bytes().to_vec()),
                ("mtls".to_owned(), vec![1]),
            ]
        );
        let upstream = &f.upstreams[0];
        assert_eq!(
            upstream.reply.headers.get(b"content-type"),
            Some(&b"text/plain"[..])
        );
        assert_eq!(
            upstream.reply.headers.get(b"content-length"),
            Some(&b"3"[..])
        );
        let upload = &f.custom.workloads[0];
        assert_eq!(
            upload.exchange.request_body.len(),
            3,
            "40 KB in 16 KiB chunks"
        );
        assert_eq!(
            upload.exchange.request_headers.get(b":method"),
            Some(&b"POST"[..])
        );
        assert_eq!(
            upload.exchange.request_headers.get(b"x-user"),
            Some(&b"alice"[..])
        );
        assert!(upload.exchange.request_trailers.is_some());
        assert_eq!(
            upload.exchange.response_headers.get(b":status"),
            Some(&b"201"[..])
        );
        let upload_checks = f.custom.assertions_for("upload").unwrap();
        assert_eq!(upload_checks.local_reply, Some(Some(429)));
        assert_eq!(
            upload_checks.request_headers,
            [
                ("x-token".to_owned(), HeaderCheck::Equals("abc".into())),
                ("x-debug".to_owned(), HeaderCheck::Absent),
                ("x-user".to_owned(), HeaderCheck::Present),
            ]
        );
        assert_eq!(
            f.custom.assertions_for("get-small").unwrap().local_reply,
            Some(None)
        );
        assert_eq!(f.volatile, ["ratelimit-reset"]);
    }

    #[test]
    fn mistakes_in_a_spec_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"\0asm").unwrap();
        let error = |text: &str| match parse(text) {
            Err(e) => format!("{e:#}"),
            Ok(spec) => match subject_of(&spec, dir.path(), "x") {
                Err(e) => format!("{e:#}"),
                Ok(_) => panic!("accepted: {text}"),
            },
        };
        assert!(error("modul: f.wasm").contains("modul"));
        assert!(error("module: missing.wasm").contains("no such file"));
        assert!(
            error("module: f.wasm\nworkloads: [{name: get-small, request: {path: /x}}]")
                .contains("catalog's")
        );
        assert!(
            error("module: f.wasm\nworkloads: [{name: w, expect: {ticks_at_least: 1}}]")
                .contains("virtual clock")
        );
        assert!(
            error("module: f.wasm\nworkloads: [{name: w, expect: {local_reply: 42}}]")
                .contains("not an HTTP status")
        );
        assert!(error("module: f.wasm\nplugin: {log_level: loud}").contains("unknown log_level"));
        assert!(error("module: f.wasm\nclock: {request_interval_ms: 0}").contains("above 0"));
        let upstream = |entry: &str| error(&format!("module: f.wasm\nupstreams: [{entry}]"));
        assert!(
            upstream("{cluster: a, response: {status: 200}, grpc: {status: 0}}")
                .contains("response or grpc, not both")
        );
        assert!(upstream("{cluster: a, grpc: {status: 17}}").contains("not a gRPC status"));
        assert!(
            error("module: f.wasm\nworkloads: [{name: w, response: {delay_ms: 5}}]")
                .contains("applies to an upstream's answer")
        );
        assert!(
            upstream("{cluster: a, grpc: {messages: [{base64: '!!'}]}}")
                .contains("grpc message 1: base64 does not decode")
        );
        assert!(
            upstream("{cluster: a, when_header: {name: x, value: y}, grpc: {}}")
                .contains("service and method")
        );
    }

    #[test]
    fn tcp_tick_and_queue_workloads_become_units_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"\0asm").unwrap();
        let spec = parse(
            r#"
module: f.wasm
workloads:
  - name: connection
    tcp: {downstream_bytes: 40000, upstream: pong, chunk_bytes: 16384}
    expect: {metrics: {connections: 1}, paused: false}
  - name: tick
    tick: true
  - name: event
    queue: {name: events, item: hello}
"#,
        )
        .unwrap();
        let subject = subject_of(&spec, dir.path(), "x").unwrap();
        let units: Vec<&Unit> = subject
            .filter
            .custom
            .workloads
            .iter()
            .map(|w| &w.exchange.unit)
            .collect();
        let Unit::Tcp(tcp) = units[0] else {
            panic!("{units:?}")
        };
        let sizes: Vec<usize> = tcp.downstream.iter().map(Vec::len).collect();
        // about 40000 generated bytes, in chunks of 16384
        assert_eq!(sizes[..2], [16384, 16384]);
        assert!(sizes.len() == 3 && sizes[2] <= 16384, "{sizes:?}");
        assert_eq!(tcp.upstream, [b"pong".to_vec()]);
        assert_eq!(units[1], &Unit::Tick);
        assert_eq!(
            units[2],
            &Unit::QueueItem {
                queue: "events".to_owned(),
                item: b"hello".to_vec()
            }
        );
        let error = |workload: &str| {
            let text = format!("module: f.wasm\nworkloads: [{workload}]");
            format!(
                "{:#}",
                subject_of(&parse(&text).unwrap(), dir.path(), "x").unwrap_err()
            )
        };
        assert!(
            error("{name: w, tick: true, queue: {name: q}}").contains("one of tcp, tick and queue")
        );
        assert!(error("{name: w, tick: true, request: {path: /}}").contains("has neither"));
        assert!(
            error("{name: w, tcp: {}, expect: {local_reply: 403}}").contains("HTTP expectations")
        );
    }

    #[test]
    fn a_grpc_upstream_becomes_a_scripted_grpc_service() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.path().join("m.bin"), [8, 1]).unwrap();
        let spec = parse(
            r#"
module: f.wasm
upstreams:
  - cluster: authz
    grpc:
      service: envoy.service.auth.v3.Authorization
      method: Check
      initial_metadata: {X-Version: "2"}
      messages: [ok, {base64: CAE=}, {file: m.bin}]
      trailing_metadata: {x-end: "1"}
      status: 7
      status_message: denied
      delay_ms: 30
  - cluster: tokens
    response: {status: 200, delay_ms: 250}
"#,
        )
        .unwrap();
        let subject = subject_of(&spec, dir.path(), "x").unwrap();
        let routes = &subject.filter.custom.grpc_upstreams;
        assert_eq!(routes.len(), 1);
        let route = &routes[0];
        assert_eq!(route.cluster, "authz");
        assert_eq!(
            route.service.as_deref(),
            Some("envoy.service.auth.v3.Authorization")
        );
        assert_eq!(route.method.as_deref(), Some("Check"));
        assert_eq!(
            route.reply.messages,
            [b"ok".to_vec(), vec![8, 1], vec![8, 1]]
        );
        assert_eq!(
            route.reply.initial_metadata.get(b"x-version"),
            Some(&b"2"[..])
        );
        assert_eq!(route.reply.trailing_metadata.get(b"x-end"), Some(&b"1"[..]));
        assert_eq!(
            (route.reply.status, &route.reply.status_message[..]),
            (7, &b"denied"[..])
        );
        assert_eq!(
            subject.filter.upstreams.len(),
            1,
            "tokens stays an HTTP upstream"
        );
        assert_eq!(route.reply.delay_ms, 30);
        assert_eq!(subject.filter.upstreams[0].reply.delay_ms, 250);
    }
}
