//! The probes: modules written in WebAssembly text for one behaviour each (or a few that one
//! module shows together), the exchange they are sent, and the rows they answer, each with what
//! Envoy 1.40 on V8 answered (recorded with these very modules).

use crate::outcome::Observation;
use filterbench_host::{GrpcReply, GrpcRoute, HeaderMap, UpstreamReply, UpstreamRoute};

/// One behaviour a probe shows: a matrix row.
#[derive(Clone, Debug)]
pub struct Row {
    /// The behaviour, as a question a filter author would ask.
    pub behaviour: &'static str,
    /// What of the outcome answers it.
    pub observation: Observation,
    /// What Envoy 1.40 on V8 answered ([`Observation::read`]'s text).
    pub envoy_1_40: &'static str,
    /// Known, documented differences: hosts that answer otherwise, and why.
    pub known: &'static [Known],
}

impl Known {
    /// Whether it is about `host`.
    pub fn applies_to(&self, host: &filterbench_results::host_conformance::Host) -> bool {
        self.host == host.name
            || (self.host == IN_PROCESS
                && host.kind == filterbench_results::host_conformance::HostKind::InProcess)
    }
}

/// A row with no known difference.
fn row(behaviour: &'static str, observation: Observation, envoy_1_40: &'static str) -> Row {
    Row {
        behaviour,
        observation,
        envoy_1_40,
        known: &[],
    }
}

/// A known difference: `host` answers `answer` instead of the reference, for the reason `why`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// The host's name in the matrix, or [`IN_PROCESS`] for all of filterbench's own hosts.
    pub host: &'static str,
    /// Its answer ([`Observation::read`]'s text).
    pub answer: &'static str,
    /// Why it differs, and what would remove the difference.
    pub why: &'static str,
}

/// In a [`Known`] difference: every in-process host (each engine and `native`).
pub const IN_PROCESS: &str = "in-process";

/// The host name of Envoy running the probes' native build through the bridge.
pub const ENVOY_NATIVE: &str = "envoy-native";

/// A probe module and the exchange it is sent: `requests` identical GET requests (POSTs with
/// `request_body`, when it has one), each answered by the upstream with 200,
/// `content-type: text/plain` and `response_body` (sent in one piece by Envoy's upstream;
/// delivered to the module in these chunks in-process).
#[derive(Clone, Debug)]
pub struct Probe {
    /// Short name (the module's name in Envoy's configuration and in the JSON).
    pub name: &'static str,
    /// The module, WebAssembly text.
    pub wat: String,
    /// How many requests are sent, one after another.
    pub requests: usize,
    /// The upstream response's body, in the chunks the in-process host delivers.
    pub response_body: Vec<&'static str>,
    /// The requests' body: empty for a GET, else they are POSTs carrying it (one piece).
    pub request_body: &'static str,
    /// The behaviours it answers.
    pub rows: Vec<Row>,
    /// The configuration that makes the SDK-free Rust probe (`bench-filters/host-probe`) show
    /// the same behaviours, for the hosts that run native code; `None`: no native form (the
    /// allocator and start-function probes need a guest allocator and a start function, the
    /// trap probe a trap — native code that panics aborts its process).
    pub native: Option<&'static str>,
    /// The upstreams the module calls: answers to its HTTP calls, by cluster (served by a
    /// scripted upstream per cluster in Envoy).
    pub http_upstreams: Vec<UpstreamRoute>,
    /// Answers to its gRPC calls, by cluster (served by a gRPC upstream per cluster in Envoy).
    pub grpc_upstreams: Vec<GrpcRoute>,
    /// Virtual time before each request in-process, ms (0: the wall clock). A probe of ticks
    /// needs it: in-process, ticks fire only when a virtual clock passes their period; in
    /// Envoy, real time passes between the requests.
    pub clock_step_ms: u64,
}

impl Probe {
    /// The module in binary form.
    pub fn wasm(&self) -> Result<Vec<u8>, String> {
        wat::parse_str(&self.wat).map_err(|e| format!("probe {}: invalid WAT: {e}", self.name))
    }
}

/// A probe module: the imports every probe may use, one page of memory with the strings
/// below, a bump allocator that first runs `in_allocate`, `_initialize` running `in_start`,
/// `$gauge (name offset) (value)` defining and setting a one-letter gauge named by the byte at
/// 160 + offset, the root callbacks of [`ROOT_CALLBACKS`] and the callbacks in `callbacks`.
fn module(in_allocate: &str, in_start: &str, callbacks: &str) -> String {
    module_with_root(in_allocate, in_start, ROOT_CALLBACKS, callbacks)
}

/// The root callbacks of most probes: nothing to do.
const ROOT_CALLBACKS: &str = r#"
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))"#;

/// [`module`] with its own root callbacks (`proxy_on_context_create`, `proxy_on_vm_start`,
/// `proxy_on_configure`).
fn module_with_root(in_allocate: &str, in_start: &str, root: &str, callbacks: &str) -> String {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $map_size (param i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment (param i32 i64) (result i32)))
  (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_call" (func $grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $select (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "allocating")
  (data (i32.const 32) "starting")
  (data (i32.const 48) ":path")
  (data (i32.const 64) "content-type")
  (data (i32.const 80) "x-added-trailer")
  (data (i32.const 96) "1")
  (data (i32.const 112) "request\00duration")
  (data (i32.const 128) "content-length")
  (data (i32.const 144) "denied")
  (data (i32.const 160) "htdlLDcksnrqbwRVCSpuazgyeijovMmEXfxK")
  (global $heap (mut i32) (i32.const 1024))
  (global $seq (mut i64) (i64.const 0))
  (global $root (mut i32) (i32.const 0))
  (global $stream (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "_initialize") {in_start})
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    {in_allocate}
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (local.get $at))
  (func $gauge (param $which i32) (param $v i64)
    (drop (call $define (i32.const 1) (i32.add (i32.const 160) (local.get $which)) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (local.get $v))))
  (func $status (param $which i32) (param $s i32)
    (call $gauge (local.get $which) (i64.extend_i32_u (local.get $s))))
  (func $gauge_named (param $name i32) (param $len i32) (param $v i64)
    (drop (call $define (i32.const 1) (local.get $name) (local.get $len) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (local.get $v))))
  (func $next (result i64)
    (global.set $seq (i64.add (global.get $seq) (i64.const 1)))
    (global.get $seq))
  {root}
  {callbacks})"#
    )
}

// Gauge offsets into "htdlLDcksnrqbwRVCSpuazgyeijovMmEXfxK" (at 160).
const H: u32 = 0;
const T: u32 = 1;
const D: u32 = 2;
const L_DURATION: u32 = 3;
const LOG_SEQ: u32 = 4;
const DONE_SEQ: u32 = 5;
const C: u32 = 6;
const K: u32 = 7;
const S: u32 = 8;
const N: u32 = 9;
const R: u32 = 10;
const Q: u32 = 11;
const B: u32 = 12;
const W: u32 = 13;
const ROOT_SEQ: u32 = 14;
const VM_START_SEQ: u32 = 15;
const CONFIGURE_SEQ: u32 = 16;
const STREAM_SEQ: u32 = 17;
const P: u32 = 18;
const U: u32 = 19;
const A: u32 = 20;
const Z: u32 = 21;
const G: u32 = 22;
const Y: u32 = 23;
const E: u32 = 24;
const I: u32 = 25;
const J: u32 = 26;
const O: u32 = 27;
const V: u32 = 28;
const GRPC_SIZE: u32 = 29;
const GRPC_READ: u32 = 30;
const GRPC_CONTINUE: u32 = 31;
const GRPC_CLOSE: u32 = 32;
const F: u32 = 33;
const GRPC_ROOT: u32 = 34;
const KEPT: u32 = 35;

/// No trailers can be added from a dynamic module's body callback.
const BRIDGE_NO_TRAILERS: &str = "Envoy refuses the bridge's add to the response trailers \
    in the body callback: the trailer map does not exist yet, and the bridge (written against \
    the dynamic-module ABI v0.2.0) calls nothing that creates it, as Envoy's Wasm filter does; \
    the bridge answers BAD_ARGUMENT";
/// `request.duration` at log time through the bridge.
const BRIDGE_NO_DURATION: &str = "Envoy's dynamic-module attribute request.duration is not \
    found when the bridge calls proxy_on_log; Envoy's Wasm host has it then (cause not \
    investigated)";
/// A local reply without a body through the bridge.
const EMPTY_REPLY_KNOWN: &[Known] = &[Known {
    host: ENVOY_NATIVE,
    answer: "c=0 k=0",
    why: "Envoy's dynamic-module send_response gives a local reply without a body \
        content-type and content-length headers before the response callbacks (Envoy's Wasm \
        host adds neither); the bridge passes on what Envoy does",
}];

/// Reads the stream's phases: `h` the status of reading a response header in the body
/// callback that ends the response, `t` of adding a response trailer there, `d` of reading
/// `request.duration` in the request headers, `l` in `proxy_on_log`; `r` and `q` of reading a
/// response and a request header in `proxy_on_log`; `L` and `D` the order of `proxy_on_log`
/// and `proxy_on_done`.
fn phases() -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const {D}) (call $prop (i32.const 112) (i32.const 16) (i32.const 600) (i32.const 604)))
    (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (if (local.get 2) (then
      (call $status (i32.const {H}) (call $get (i32.const 2) (i32.const 64) (i32.const 12) (i32.const 600) (i32.const 604)))
      (call $status (i32.const {T}) (call $add (i32.const 3) (i32.const 80) (i32.const 15) (i32.const 96) (i32.const 1)))))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    (call $status (i32.const {L_DURATION}) (call $prop (i32.const 112) (i32.const 16) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {R}) (call $get (i32.const 2) (i32.const 64) (i32.const 12) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {Q}) (call $get (i32.const 0) (i32.const 48) (i32.const 5) (i32.const 600) (i32.const 604)))
    (call $gauge (i32.const {LOG_SEQ}) (call $next)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (call $gauge (i32.const {DONE_SEQ}) (call $next))
    (i32.const 1))
  (func (export "proxy_on_delete") (param i32))"#
    );
    Probe {
        name: "phases",
        native: Some("phases"),
        http_upstreams: Vec::new(),
        grpc_upstreams: Vec::new(),
        clock_step_ms: 0,
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello ", "world"],
        request_body: "",
        rows: vec![
            row(
                "response headers read in the body callback that ends the response \
                            (2 = BAD_ARGUMENT: already sent)",
                Observation::Gauges(&["h"]),
                "h=2",
            ),
            Row {
                known: &[Known {
                    host: ENVOY_NATIVE,
                    answer: "t=2",
                    why: BRIDGE_NO_TRAILERS,
                }],
                ..row(
                    "a response trailer added in the body callback that ends the response \
                     (0 = OK)",
                    Observation::Gauges(&["t"]),
                    "t=0",
                )
            },
            row(
                "request.duration read in the request headers callback (1 = NOT_FOUND)",
                Observation::Gauges(&["d"]),
                "d=1",
            ),
            Row {
                known: &[Known {
                    host: ENVOY_NATIVE,
                    answer: "l=1",
                    why: BRIDGE_NO_DURATION,
                }],
                ..row(
                    "request.duration read in proxy_on_log (0 = OK)",
                    Observation::Gauges(&["l"]),
                    "l=0",
                )
            },
            row(
                "response (r) and request (q) headers read in proxy_on_log (0 = OK)",
                Observation::Gauges(&["r", "q"]),
                "r=0 q=0",
            ),
            row(
                "end of an HTTP stream: order of proxy_on_log (L) and proxy_on_done (D)",
                Observation::Gauges(&["L", "D"]),
                "L=1 D=2",
            ),
        ],
    }
}

/// Answers locally with 403 and the first `body_len` bytes of "denied"; its response headers
/// callback records the status of reading `content-type` (`c`) and `content-length` (`k`).
fn local_reply(name: &'static str, body_len: u32, envoy: &'static str) -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $reply (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 144) (i32.const {body_len})
                       (i32.const 300) (i32.const 4) (i32.const -1)))
    (i32.const 1))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const {C}) (call $get (i32.const 2) (i32.const 64) (i32.const 12) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {K}) (call $get (i32.const 2) (i32.const 128) (i32.const 14) (i32.const 600) (i32.const 604)))
    (i32.const 0))"#
    );
    let behaviour = if body_len > 0 {
        "a local reply with a body: content-type (c) and content-length (k) in its response \
         headers callback (0 = present)"
    } else {
        "a local reply without a body: content-type (c) and content-length (k) in its response \
         headers callback (1 = absent)"
    };
    Probe {
        name,
        native: Some(name),
        http_upstreams: Vec::new(),
        grpc_upstreams: Vec::new(),
        clock_step_ms: 0,
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello"],
        request_body: "",
        rows: vec![
            Row {
                behaviour,
                observation: Observation::Gauges(&["c", "k"]),
                envoy_1_40: envoy,
                known: if body_len > 0 { &[] } else { EMPTY_REPLY_KNOWN },
            },
            row(
                if body_len > 0 {
                    "a local reply with a body: what the client gets"
                } else {
                    "a local reply without a body: what the client gets"
                },
                Observation::Responses,
                "403",
            ),
            row(
                if body_len > 0 {
                    "a local reply with a body: does the request reach the upstream?"
                } else {
                    "a local reply without a body: does the request reach the upstream?"
                },
                Observation::Forwarded,
                "not forwarded",
            ),
        ],
    }
}

/// A probe with no native form, its `requests` answered with "hello".
fn wasm_only(name: &'static str, wat: String, requests: usize, rows: Vec<Row>) -> Probe {
    Probe {
        name,
        wat,
        requests,
        response_body: vec!["hello"],
        request_body: "",
        rows,
        native: None,
        http_upstreams: Vec::new(),
        grpc_upstreams: Vec::new(),
        clock_step_ms: 0,
    }
}

/// Its request headers callback reads `:path` (the host allocates for the value) and records
/// the status as `s`; the allocator first runs `in_allocate`, `_initialize` runs `in_start`.
fn restricted(name: &'static str, in_allocate: &str, in_start: &str, rows: Vec<Row>) -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const {S}) (call $get (i32.const 0) (i32.const 48) (i32.const 5) (i32.const 600) (i32.const 604)))
    (i32.const 0))"#
    );
    wasm_only(name, module(in_allocate, in_start, &callbacks), 1, rows)
}

const LOG_ALLOCATING: &str = "(drop (call $log (i32.const 2) (i32.const 16) (i32.const 10)))";
const LOG_STARTING: &str = "(drop (call $log (i32.const 2) (i32.const 32) (i32.const 8)))";
const READ_HEADERS: &str = "(drop (call $map_size (i32.const 0) (i32.const 700)))";
const DEFINE_METRIC: &str =
    "(drop (call $define (i32.const 0) (i32.const 160) (i32.const 1) (i32.const 700)))";

/// Counts its request headers calls in `n` and traps on the first: what later requests get.
fn fail_closed() -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $gauge (i32.const {N}) (call $next))
    (if (i64.eq (global.get $seq) (i64.const 1)) (then unreachable))
    (i32.const 0))"#
    );
    wasm_only(
        "trap",
        module("", "", &callbacks),
        2,
        vec![
            row(
                "after a trap (failure policy fail-closed): what the trapping and the \
                            next request get",
                Observation::Responses,
                "503 trap, 503",
            ),
            row(
                "after a trap (fail-closed): do the requests reach the upstream?",
                Observation::Forwarded,
                "not forwarded, not forwarded",
            ),
            row(
                "a trap report names the callback that trapped",
                Observation::Names("proxy_on_request_headers"),
                "names proxy_on_request_headers",
            ),
            row(
                "after a trap (fail-closed): request headers calls made (n)",
                Observation::Gauges(&["n"]),
                "n=1",
            ),
        ],
    )
}

/// Its response headers callback reads (`b`) and writes (`w`) the response body, which has not
/// arrived yet.
fn buffers() -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const {B}) (call $get_buffer (i32.const 1) (i32.const 0) (i32.const 100) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {W}) (call $set_buffer (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 144) (i32.const 6)))
    (i32.const 0))"#
    );
    wasm_only(
        "buffers",
        module("", "", &callbacks),
        1,
        vec![row(
            "the response body read (b) and written (w) in the response headers \
                        callback, before it arrived (0 = OK: empty, 2 = BAD_ARGUMENT)",
            Observation::Gauges(&["b", "w"]),
            "b=0 w=2",
        )],
    )
}

/// Reads the request body (gauge `<callback>b0`, e.g. `qb0`) and the response body (`qb1` …)
/// in each callback of [`grid_callbacks`]: how many bytes a module reads there (1000 + the
/// status when the read fails); counts the body callbacks of each direction and the size the
/// last is given. The request is a POST of "ping!"; the response's body is "hello".
fn body_buffers() -> Probe {
    let mut named = GaugeNames::default();
    // Every response body callback: counted (`calls`), and the size it was given (`size`).
    let mut each_body = named.record("calls", "(i32.wrap_i64 (call $next))");
    each_body += &named.record("size", "(local.get 1)");
    let callbacks = grid_callbacks(&each_body, |phase| {
        [0, 1]
            .map(|buffer| {
                named.record(
                    &format!("{phase}b{buffer}"),
                    &format!("(call $bytes_read (i32.const {buffer}))"),
                )
            })
            .concat()
    });
    // Every request body callback: counted (`rcalls`, numbered apart from the response's)
    // and the size it was given (`rsize`).
    let request_body = named.record("rcalls", "(i32.wrap_i64 (call $next_request))")
        + &named.record("rsize", "(local.get 1)");
    let callbacks = format!(
        r#"{callbacks}{}
  (global $request_calls (mut i64) (i64.const 0))
  (func $next_request (result i64)
    (global.set $request_calls (i64.add (global.get $request_calls) (i64.const 1)))
    (global.get $request_calls))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32){request_body}
    (i32.const 0))
  (func $bytes_read (param $buffer i32) (result i32)
    (local $status i32)
    (i32.store (i32.const 604) (i32.const 0))
    (local.set $status (call $get_buffer (local.get $buffer) (i32.const 0) (i32.const 100)
                                         (i32.const 600) (i32.const 604)))
    (if (result i32) (local.get $status)
      (then (i32.add (i32.const 1000) (local.get $status)))
      (else (i32.load (i32.const 604)))))"#,
        named.segment()
    );
    let row = |behaviour, gauges, envoy| row(behaviour, Observation::Gauges(gauges), envoy);
    let probe = wasm_only(
        "body-buffers",
        module("", "", &callbacks),
        1,
        vec![
            row(
                "bytes read from the request body (b0) and the response body (b1) in the \
                 request headers callback (q); 1000 + the status when the read fails",
                &["qb0", "qb1"],
                "qb0=0 qb1=0",
            ),
            row(
                "bytes read from the request and response bodies in the response headers \
                 callback (r)",
                &["rb0", "rb1"],
                "rb0=0 rb1=0",
            ),
            row(
                "bytes read from the request and response bodies in the body callback that \
                 ends the response (b)",
                &["bb0", "bb1"],
                "bb0=0 bb1=0",
            ),
            row(
                "bytes read from the request and response bodies in proxy_on_log (l)",
                &["lb0", "lb1"],
                "lb0=0 lb1=0",
            ),
            row(
                "a response body of one piece (HTTP/1.1, with content-length): how many \
                 response body callbacks run (calls) and the size the last one is given (size)",
                &["calls", "size"],
                "calls=2 size=0",
            ),
            row(
                "a request body of one piece (a POST over HTTP/1.1): how many request body \
                 callbacks run (rcalls) and the size the last one is given (rsize)",
                &["rcalls", "rsize"],
                "rcalls=2 rsize=0",
            ),
        ],
    );
    Probe {
        request_body: "ping!",
        ..probe
    }
}

/// Numbers the root context's creation (`R`), `proxy_on_vm_start` (`V`),
/// `proxy_on_configure` (`C`) and the first stream context's creation (`S`) in the order they
/// come, per VM.
fn vm_order() -> Probe {
    let root = format!(
        r#"
  (func (export "proxy_on_context_create") (param i32 i32)
    (if (i32.eqz (local.get 1))
      (then (call $gauge (i32.const {ROOT_SEQ}) (call $next)))
      (else (if (i64.lt_s (global.get $seq) (i64.const 4))
        (then (call $gauge (i32.const {STREAM_SEQ}) (call $next)))))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (call $gauge (i32.const {VM_START_SEQ}) (call $next))
    (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $gauge (i32.const {CONFIGURE_SEQ}) (call $next))
    (i32.const 1))"#
    );
    wasm_only(
        "vm-order",
        module_with_root("", "", &root, ""),
        1,
        vec![row(
            "start of a VM: order of the root context's creation (R), \
                        proxy_on_vm_start (V), proxy_on_configure (C) and the first stream's \
                        context (S)",
            Observation::Gauges(&["R", "V", "C", "S"]),
            "R=1 V=2 C=3 S=4",
        )],
    )
}

/// Resets the stream in its request headers callback; `L` and `D` number `proxy_on_log` and
/// `proxy_on_done` if they still run.
fn reset() -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $close (i32.const 0)))
    (i32.const 1))
  (func (export "proxy_on_log") (param i32)
    (call $gauge (i32.const {LOG_SEQ}) (call $next)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (call $gauge (i32.const {DONE_SEQ}) (call $next))
    (i32.const 1))"#
    );
    wasm_only(
        "reset",
        module("", "", &callbacks),
        1,
        vec![
            row(
                "a stream the module resets in its request headers callback \
                            (proxy_close_stream): what the client gets",
                Observation::Responses,
                "no response",
            ),
            row(
                "a stream the module resets: does the request reach the upstream?",
                Observation::Forwarded,
                "not forwarded",
            ),
            row(
                "a stream the module resets: proxy_on_log (L) and proxy_on_done (D) \
                            still run, in this order",
                Observation::Gauges(&["L", "D"]),
                "L=1 D=2",
            ),
        ],
    )
}

/// Pauses the response in its headers callback and never continues it; `p` numbers the body
/// callbacks, if any run (Envoy turns a Pause in a headers callback into "stop all
/// iteration": none does).
fn pause() -> Probe {
    let callbacks = format!(
        r#"
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (call $gauge (i32.const {P}) (call $next))
    (i32.const 0))"#
    );
    wasm_only(
        "pause",
        module("", "", &callbacks),
        1,
        vec![
            row(
                "a response paused in its headers callback (Pause, never continued): \
                            what the client gets (Envoy pauses all processing)",
                Observation::Responses,
                "no response",
            ),
            row(
                "a response paused in its headers callback: does its body callback \
                            still run (p)?",
                Observation::Gauges(&["p"]),
                "p=–",
            ),
        ],
    )
}

/// The cluster the call probes call, and one no upstream serves.
pub const CALLOUT_CLUSTER: &str = "callout";
/// What the `callout` cluster answers an HTTP call with.
const CALLOUT_BODY: &str = "token-42";
/// What the `callout` cluster answers a gRPC call with.
const GRPC_ANSWER: &str = "pong!";

/// Data of the call probes: at 800 the serialized request headers of an HTTP call
/// (`:method GET`, `:path /token`, `:authority callout`; 72 bytes), at 876 an empty
/// serialized map (4 bytes), at 880 "callout", at 888 "nowhere", at 896 "probe.Echo", at 912
/// "Say", at 916 "ping", at 960 ":status".
const CALL_DATA: &str = r#"
  (data (i32.const 800) "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\06\00\00\00\0a\00\00\00\07\00\00\00:method\00GET\00:path\00/token\00:authority\00callout\00")
  (data (i32.const 876) "\00\00\00\00")
  (data (i32.const 880) "callout")
  (data (i32.const 888) "nowhere")
  (data (i32.const 896) "probe.Echo")
  (data (i32.const 912) "Say")
  (data (i32.const 916) "ping")
  (data (i32.const 960) ":status")"#;

/// Root callbacks that keep the root context's id in `$root`.
const ROOT_KEEPING_ID: &str = r#"
  (func (export "proxy_on_context_create") (param i32 i32)
    (if (i32.eqz (local.get 1)) (then (global.set $root (local.get 0)))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))"#;

/// Its request headers callback makes an HTTP call to a cluster Envoy does not know (`u`:
/// the status) and one to `callout` (`a`), and pauses the request; the answer's callback
/// records whether it runs in the root context (`f` = 1), its body size (`z`), the status of
/// reading its `:status` (`g`) and its body (`y`) and of continuing the request from there
/// (`e`), then selects the stream (`proxy_set_effective_context`) and continues it.
fn http_call() -> Probe {
    let callbacks = format!(
        r#"{CALL_DATA}
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $stream (local.get 0))
    (call $status (i32.const {U}) (call $http_call (i32.const 888) (i32.const 7) (i32.const 800) (i32.const 72)
      (i32.const 876) (i32.const 0) (i32.const 876) (i32.const 4) (i32.const 5000) (i32.const 700)))
    (call $status (i32.const {A}) (call $http_call (i32.const 880) (i32.const 7) (i32.const 800) (i32.const 72)
      (i32.const 876) (i32.const 0) (i32.const 876) (i32.const 4) (i32.const 5000) (i32.const 700)))
    (i32.const 1))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32)
    (call $gauge (i32.const {F}) (i64.extend_i32_u (i32.eq (local.get 0) (global.get $root))))
    (call $gauge (i32.const {Z}) (i64.extend_i32_u (local.get 3)))
    (call $status (i32.const {G}) (call $get (i32.const 6) (i32.const 960) (i32.const 7) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {Y}) (call $get_buffer (i32.const 4) (i32.const 0) (local.get 3) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {E}) (call $continue (i32.const 0)))
    (drop (call $select (global.get $stream)))
    (drop (call $continue (i32.const 0))))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const {KEPT}) (call $map_size (i32.const 0) (i32.const 700)))
    (i32.const 0))"#
    );
    Probe {
        http_upstreams: vec![UpstreamRoute {
            cluster: CALLOUT_CLUSTER.to_owned(),
            when_header: None,
            reply: UpstreamReply {
                headers: HeaderMap::from_pairs(&[
                    (":status", "200"),
                    ("content-type", "text/plain"),
                ]),
                body: CALLOUT_BODY.as_bytes().to_vec(),
                trailers: HeaderMap::default(),
                delay_ms: 0,
            },
        }],
        ..wasm_only(
            "http-call",
            module_with_root("", "", ROOT_KEEPING_ID, &callbacks),
            1,
            vec![
                row(
                    "proxy_http_call to a cluster the proxy does not know (u) and to \
                                one it knows (a): the status (2 = BAD_ARGUMENT)",
                    Observation::Gauges(&["u", "a"]),
                    "u=2 a=0",
                ),
                row(
                    "the HTTP call's answer: proxy_on_http_call_response runs in \
                                the root context (f=1); its body size (z); its :status (g) and \
                                body (y) read; the request continued from the root context (e)",
                    Observation::Gauges(&["f", "z", "g", "y", "e"]),
                    "f=1 z=8 g=0 y=0 e=0",
                ),
                row(
                    "a request paused for an HTTP call, continued in the answer's \
                                callback once the stream is selected: what the client gets",
                    Observation::Responses,
                    "200",
                ),
                row(
                    "the request headers' size read in the response headers callback, \
                                after the request headers callback paused and the request was \
                                continued (K; Envoy lets the request's maps go when it is \
                                continued: 2 = BAD_ARGUMENT)",
                    Observation::Gauges(&["K"]),
                    "K=2",
                ),
                row(
                    "a request paused for an HTTP call and continued: does it reach \
                                the upstream?",
                    Observation::Forwarded,
                    "forwarded",
                ),
            ],
        )
    }
}

/// Its request headers callback makes a gRPC call to a cluster Envoy does not know (`v`: the
/// status) and one to `callout` (`o`), and pauses the request; the answer's callback records
/// whether it runs in the root context (`x` = 1), its size (`M`), the status of reading it
/// (`m`) and of continuing the request from there (`E`), then selects the stream and
/// continues it; a close callback records its status code (`X`) and does the same.
fn grpc_call() -> Probe {
    let callbacks = format!(
        r#"{CALL_DATA}
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (global.set $stream (local.get 0))
    (call $status (i32.const {V}) (call $grpc_call (i32.const 888) (i32.const 7) (i32.const 896) (i32.const 10)
      (i32.const 912) (i32.const 3) (i32.const 876) (i32.const 4) (i32.const 916) (i32.const 4) (i32.const 5000) (i32.const 700)))
    (call $status (i32.const {O}) (call $grpc_call (i32.const 880) (i32.const 7) (i32.const 896) (i32.const 10)
      (i32.const 912) (i32.const 3) (i32.const 876) (i32.const 4) (i32.const 916) (i32.const 4) (i32.const 5000) (i32.const 700)))
    (i32.const 1))
  (func (export "proxy_on_grpc_receive") (param i32 i32 i32)
    (call $gauge (i32.const {GRPC_ROOT}) (i64.extend_i32_u (i32.eq (local.get 0) (global.get $root))))
    (call $gauge (i32.const {GRPC_SIZE}) (i64.extend_i32_u (local.get 2)))
    (call $status (i32.const {GRPC_READ}) (call $get_buffer (i32.const 5) (i32.const 0) (local.get 2) (i32.const 600) (i32.const 604)))
    (call $status (i32.const {GRPC_CONTINUE}) (call $continue (i32.const 0)))
    (drop (call $select (global.get $stream)))
    (drop (call $continue (i32.const 0))))
  (func (export "proxy_on_grpc_close") (param i32 i32 i32)
    (call $gauge (i32.const {GRPC_CLOSE}) (i64.extend_i32_u (local.get 2)))
    (drop (call $select (global.get $stream)))
    (drop (call $continue (i32.const 0))))"#
    );
    Probe {
        grpc_upstreams: vec![GrpcRoute {
            cluster: CALLOUT_CLUSTER.to_owned(),
            service: Some("probe.Echo".to_owned()),
            method: Some("Say".to_owned()),
            reply: GrpcReply {
                messages: vec![GRPC_ANSWER.as_bytes().to_vec()],
                ..GrpcReply::default()
            },
        }],
        ..wasm_only(
            "grpc-call",
            module_with_root("", "", ROOT_KEEPING_ID, &callbacks),
            1,
            vec![
                row(
                    "proxy_grpc_call to a cluster the proxy does not know (v) and to \
                                one it knows (o): the status (4 = PARSE_FAILURE)",
                    Observation::Gauges(&["v", "o"]),
                    "v=4 o=0",
                ),
                row(
                    "a unary gRPC call's answer: proxy_on_grpc_receive runs in the \
                                root context (x=1), with its size (M), read (m), the request \
                                continued from the root context (E); proxy_on_grpc_close's code, \
                                if it runs (X)",
                    Observation::Gauges(&["x", "M", "m", "E", "X"]),
                    "x=1 M=5 m=0 E=0 X=–",
                ),
                row(
                    "a request paused for a gRPC call, continued in the answer's \
                                callback once the stream is selected: what the client gets",
                    Observation::Responses,
                    "200",
                ),
            ],
        )
    }
}

/// Sets a 100 ms tick period in `proxy_on_configure` (`j`: the status); its tick records that
/// a tick ran (`i`) and the status of reading the request headers' size there, outside any
/// stream (`b`).
fn ticks() -> Probe {
    let root = format!(
        r#"
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (call $status (i32.const {J}) (call $tick_period (i32.const 100)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (call $gauge (i32.const {I}) (i64.const 1))
    (call $status (i32.const {B}) (call $map_size (i32.const 0) (i32.const 700))))"#
    );
    Probe {
        clock_step_ms: 250,
        ..wasm_only(
            "ticks",
            module_with_root("", "", &root, ""),
            2,
            vec![
                row(
                    "a tick period set in proxy_on_configure (j: the status); \
                                proxy_on_tick runs (i)",
                    Observation::Gauges(&["j", "i"]),
                    "j=0 i=1",
                ),
                row(
                    "the request headers' size read in proxy_on_tick, outside any \
                                stream (b: the status; 2 = BAD_ARGUMENT)",
                    Observation::Gauges(&["b"]),
                    "b=2",
                ),
            ],
        )
    }
}

/// Gauges with names of their own (`$gauge_named`): the names, written from address 200
/// (between the one-letter names and the reply headers at 300).
#[derive(Default)]
struct GaugeNames {
    names: String,
}

impl GaugeNames {
    const AT: usize = 200;

    /// WebAssembly text recording `value` (an i32 expression) into the gauge `name`.
    fn record(&mut self, name: &str, value: &str) -> String {
        let at = Self::AT + self.names.len();
        self.names.push_str(name);
        assert!(self.names.len() <= 100, "gauge names overflow their space");
        format!(
            "\n    (call $gauge_named (i32.const {at}) (i32.const {}) (i64.extend_i32_u {value}))",
            name.len()
        )
    }

    /// The data segment holding the names.
    fn segment(&self) -> String {
        format!("\n  (data (i32.const {}) \"{}\")", Self::AT, self.names)
    }
}

/// Where the grid probes keep their own data: from 304 (after the reply headers at 300,
/// before the metric id at 500).
const GRID_DATA_AT: usize = 304;

/// The callbacks of the grid probes: request headers (`q`), response headers (`r`), the
/// response body callback that ends the response (`b`), `proxy_on_log` (`l`), each running
/// what `body` writes for its letter; every response body callback first runs `each_body`.
fn grid_callbacks(each_body: &str, mut body: impl FnMut(char) -> String) -> String {
    let [q, r, b, l] = ['q', 'r', 'b', 'l'].map(&mut body);
    format!(
        r#"
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32){q}
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32){r}
    (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32){each_body}
    (if (local.get 2) (then{b}))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32){l})"#
    )
}

/// The four stream header maps: request headers (0), request trailers (1), response headers
/// (2) and response trailers (3). The request has no body and no trailers; the response has a
/// body and no trailers.
const STREAM_MAPS: [u32; 4] = [0, 1, 2, 3];

/// Reads each stream header map's size (gauge `<callback><map>`, e.g. `q0`) and a header
/// missing from it (`<CALLBACK><map>`, e.g. `Q0`) in each callback: which maps exist where,
/// and what a map that is not there answers; in the request headers callback also the pairs
/// of the response trailers (`qp3`), which are not there yet.
fn maps() -> Probe {
    let missing = "x-none";
    let mut named = GaugeNames::default();
    let callbacks = grid_callbacks("", |phase| {
        let mut code = String::new();
        if phase == 'q' {
            code += &named.record(
                "qp3",
                "(call $pairs (i32.const 3) (i32.const 600) (i32.const 604))",
            );
        }
        for map in STREAM_MAPS {
            code += &named.record(
                &format!("{phase}{map}"),
                &format!("(call $map_size (i32.const {map}) (i32.const 700))"),
            );
            code += &named.record(
                &format!("{}{map}", phase.to_ascii_uppercase()),
                &format!(
                    "(call $get (i32.const {map}) (i32.const {GRID_DATA_AT}) (i32.const {}) \
                     (i32.const 600) (i32.const 604))",
                    missing.len()
                ),
            );
        }
        code
    });
    let callbacks = format!(
        "{callbacks}{}\n  (data (i32.const {GRID_DATA_AT}) \"{missing}\")",
        named.segment()
    );
    let row = |behaviour, gauges, envoy| row(behaviour, Observation::Gauges(gauges), envoy);
    wasm_only(
        "maps",
        module("", "", &callbacks),
        1,
        vec![
            row(
                "request headers callback: size of the request headers (q0), request trailers \
                 (q1), response headers (q2), response trailers (q3); 0 = OK, 2 = BAD_ARGUMENT",
                &["q0", "q1", "q2", "q3"],
                "q0=0 q1=2 q2=2 q3=2",
            ),
            row(
                "request headers callback: the pairs of the response trailers, not there yet \
                 (qp3; 0 = OK, an empty map)",
                &["qp3"],
                "qp3=0",
            ),
            row(
                "request headers callback: a header missing from each map (Q0–Q3; 1 = NOT_FOUND)",
                &["Q0", "Q1", "Q2", "Q3"],
                "Q0=1 Q1=2 Q2=2 Q3=2",
            ),
            row(
                "response headers callback: size of each map (r0–r3)",
                &["r0", "r1", "r2", "r3"],
                "r0=2 r1=2 r2=0 r3=2",
            ),
            row(
                "response headers callback: a header missing from each map (R0–R3)",
                &["R0", "R1", "R2", "R3"],
                "R0=2 R1=2 R2=1 R3=2",
            ),
            row(
                "response body callback that ends the response: size of each map (b0–b3)",
                &["b0", "b1", "b2", "b3"],
                "b0=2 b1=2 b2=2 b3=0",
            ),
            row(
                "response body callback that ends the response: a header missing from each \
                 map (B0–B3)",
                &["B0", "B1", "B2", "B3"],
                "B0=2 B1=2 B2=2 B3=1",
            ),
            row(
                "proxy_on_log: size of each map (l0–l3)",
                &["l0", "l1", "l2", "l3"],
                "l0=2 l1=2 l2=2 l3=0",
            ),
            row(
                "proxy_on_log: a header missing from each map (L0–L3)",
                &["L0", "L1", "L2", "L3"],
                "L0=1 L1=1 L2=1 L3=1",
            ),
        ],
    )
}

/// The properties the properties probe reads: its short name, the path (segments separated
/// by NUL bytes, WebAssembly text escapes) and its length in bytes.
const PROBED_PROPERTIES: [(&str, &str, usize); 5] = [
    ("pa", "request\\00path", 12),
    ("pr", "request\\00protocol", 16),
    ("co", "response\\00code", 13),
    ("up", "upstream\\00address", 16),
    ("sr", "source\\00address", 14),
];

/// Reads each of [`PROBED_PROPERTIES`] in each callback of [`grid_callbacks`]: the status
/// into the gauge `<callback>.<property>` (e.g. `q.co`: `response.code` in the request
/// headers callback).
fn properties() -> Probe {
    let mut named = GaugeNames::default();
    let mut data = String::new();
    let mut at = Vec::new();
    for (_, path, len) in PROBED_PROPERTIES {
        let offset = GRID_DATA_AT + at.iter().map(|(_, l)| l).sum::<usize>();
        at.push((offset, len));
        data += &format!("\n  (data (i32.const {offset}) \"{path}\")");
    }
    let callbacks = grid_callbacks("", |phase| {
        let mut code = String::new();
        for ((short, _, _), (offset, len)) in PROBED_PROPERTIES.iter().zip(&at) {
            code += &named.record(
                &format!("{phase}.{short}"),
                &format!(
                    "(call $prop (i32.const {offset}) (i32.const {len}) (i32.const 600) \
                     (i32.const 604))"
                ),
            );
        }
        code
    });
    let callbacks = format!("{callbacks}{}{data}", named.segment());
    let row = |behaviour, gauges, envoy| row(behaviour, Observation::Gauges(gauges), envoy);
    wasm_only(
        "properties",
        module("", "", &callbacks),
        1,
        vec![
            row(
                "request.path read in the request headers (q), response headers (r), final \
                 response body (b) callbacks and proxy_on_log (l); 0 = OK, 1 = NOT_FOUND",
                &["q.pa", "r.pa", "b.pa", "l.pa"],
                "q.pa=0 r.pa=1 b.pa=1 l.pa=0",
            ),
            row(
                "request.protocol read in each callback",
                &["q.pr", "r.pr", "b.pr", "l.pr"],
                "q.pr=0 r.pr=0 b.pr=0 l.pr=0",
            ),
            row(
                "response.code read in each callback",
                &["q.co", "r.co", "b.co", "l.co"],
                "q.co=1 r.co=0 b.co=0 l.co=0",
            ),
            row(
                "upstream.address read in each callback",
                &["q.up", "r.up", "b.up", "l.up"],
                "q.up=1 r.up=0 b.up=0 l.up=0",
            ),
            row(
                "source.address read in each callback",
                &["q.sr", "r.sr", "b.sr", "l.sr"],
                "q.sr=0 r.sr=0 b.sr=0 l.sr=0",
            ),
        ],
    )
}

/// Counts, across all of the plugin's VMs, the root contexts created (counter `roots`),
/// `proxy_on_vm_start` calls (`vm_starts`) and `proxy_on_configure` calls (`configures`): how
/// many VMs a plugin gets.
fn vms() -> Probe {
    let mut named = String::new();
    let mut count = |name: &str| {
        let at = GaugeNames::AT + named.len();
        named.push_str(name);
        format!(
            "\n    (drop (call $define (i32.const 0) (i32.const {at}) (i32.const {len}) (i32.const 500)))\
             \n    (drop (call $increment (i32.load (i32.const 500)) (i64.const 1)))",
            len = name.len()
        )
    };
    let (roots, starts, configures) = (count("roots"), count("vm_starts"), count("configures"));
    let root = format!(
        r#"
  (data (i32.const {at}) "{named}")
  (func (export "proxy_on_context_create") (param i32 i32)
    (if (i32.eqz (local.get 1)) (then{roots})))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32){starts}
    (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32){configures}
    (i32.const 1))"#,
        at = GaugeNames::AT
    );
    wasm_only(
        "vms",
        module_with_root("", "", &root, ""),
        1,
        vec![Row {
            known: &[Known {
                host: IN_PROCESS,
                answer: "roots=1 vm_starts=1 configures=1",
                why: "Envoy runs a plugin in several VMs, each with its own root context, \
                      started and configured: with the kit's one worker thread, Envoy 1.40 \
                      starts three (thread-local VMs on the main thread and on the worker); \
                      filterbench's host runs the one VM it measures. Root-context work \
                      (configuration parsing, ticks) happens once per VM in Envoy",
            }],
            ..row(
                "root contexts created, proxy_on_vm_start and proxy_on_configure calls, \
                 counted across the plugin's VMs",
                Observation::Gauges(&["roots", "vm_starts", "configures"]),
                "roots=3 vm_starts=3 configures=3",
            )
        }],
    )
}

/// Every probe, in the order of the matrix.
pub fn all() -> Vec<Probe> {
    vec![
        vm_order(),
        vms(),
        phases(),
        local_reply("local-reply", 6, "c=0 k=0"),
        local_reply("local-reply-empty", 0, "c=1 k=1"),
        restricted(
            "allocate-log",
            LOG_ALLOCATING,
            LOG_STARTING,
            vec![
                row(
                    "proxy_log inside proxy_on_memory_allocate and _initialize: the \
                                allocation it is in (s: status of the header read that needed it)",
                    Observation::Gauges(&["s"]),
                    "s=0",
                ),
                row(
                    "proxy_log inside _initialize: the module starts",
                    Observation::Started,
                    "started",
                ),
            ],
        ),
        restricted(
            "allocate-hostcall",
            READ_HEADERS,
            "",
            vec![row(
                "another hostcall inside proxy_on_memory_allocate \
                            (restricted_callback): what the client gets",
                Observation::Responses,
                "503 trap",
            )],
        ),
        restricted(
            "start-hostcall",
            "",
            DEFINE_METRIC,
            vec![row(
                "a metric defined inside _initialize (restricted_callback): the \
                            module starts",
                Observation::Started,
                "not started",
            )],
        ),
        maps(),
        properties(),
        buffers(),
        body_buffers(),
        reset(),
        pause(),
        http_call(),
        grpc_call(),
        ticks(),
        fail_closed(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_probe_is_valid_webassembly_with_unique_names() {
        let probes = all();
        for probe in &probes {
            probe.wasm().unwrap();
            assert!(!probe.rows.is_empty(), "{}", probe.name);
        }
        let mut names: Vec<&str> = probes.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), probes.len());
    }
}
