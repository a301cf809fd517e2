//! The probes: modules written in WebAssembly text for one behaviour each (or a few that one
//! module shows together), the exchange they are sent, and the rows they answer, each with what
//! Envoy 1.40 on V8 answered (recorded with these very modules).

use crate::outcome::Observation;

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

/// A known difference: `host` answers `answer` instead of the reference, for the reason `why`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// The host's name in the matrix.
    pub host: &'static str,
    /// Its answer ([`Observation::read`]'s text).
    pub answer: &'static str,
    /// Why it differs, and what would remove the difference.
    pub why: &'static str,
}

/// The host name of Envoy running the probes' native build through the bridge.
pub const ENVOY_NATIVE: &str = "envoy-native";

/// A probe module and the exchange it is sent: `requests` identical GET requests, each
/// answered by the upstream with 200, `content-type: text/plain` and `response_body` (sent in
/// one piece by Envoy's upstream; delivered to the module in these chunks in-process).
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
    /// The behaviours it answers.
    pub rows: Vec<Row>,
    /// The configuration that makes the SDK-free Rust probe (`bench-filters/host-probe`) show
    /// the same behaviours, for the hosts that run native code; `None`: no native form (the
    /// allocator and start-function probes need a guest allocator and a start function, the
    /// trap probe a trap — native code that panics aborts its process).
    pub native: Option<&'static str>,
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
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))
  (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_close_stream" (func $close (param i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
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
  (data (i32.const 160) "htdlLDcksnrqbwRVCSp")
  (global $heap (mut i32) (i32.const 1024))
  (global $seq (mut i64) (i64.const 0))
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
  (func $next (result i64)
    (global.set $seq (i64.add (global.get $seq) (i64.const 1)))
    (global.get $seq))
  {root}
  {callbacks})"#
    )
}

// Gauge offsets into "htdlLDcksnrqbwRVCS" (at 160).
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
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello ", "world"],
        rows: vec![
            Row {
                behaviour: "response headers read in the body callback that ends the response \
                            (2 = BAD_ARGUMENT: already sent)",
                observation: Observation::Gauges(&["h"]),
                envoy_1_40: "h=2",
                known: &[],
            },
            Row {
                behaviour: "a response trailer added in the body callback that ends the response \
                            (0 = OK)",
                observation: Observation::Gauges(&["t"]),
                envoy_1_40: "t=0",
                known: &[Known {
                    host: ENVOY_NATIVE,
                    answer: "t=2",
                    why: BRIDGE_NO_TRAILERS,
                }],
            },
            Row {
                behaviour: "request.duration read in the request headers callback (1 = NOT_FOUND)",
                observation: Observation::Gauges(&["d"]),
                envoy_1_40: "d=1",
                known: &[],
            },
            Row {
                behaviour: "request.duration read in proxy_on_log (0 = OK)",
                observation: Observation::Gauges(&["l"]),
                envoy_1_40: "l=0",
                known: &[Known {
                    host: ENVOY_NATIVE,
                    answer: "l=1",
                    why: BRIDGE_NO_DURATION,
                }],
            },
            Row {
                behaviour: "response (r) and request (q) headers read in proxy_on_log (0 = OK)",
                observation: Observation::Gauges(&["r", "q"]),
                envoy_1_40: "r=0 q=0",
                known: &[],
            },
            Row {
                behaviour: "end of an HTTP stream: order of proxy_on_log (L) and proxy_on_done (D)",
                observation: Observation::Gauges(&["L", "D"]),
                envoy_1_40: "L=1 D=2",
                known: &[],
            },
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
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello"],
        rows: vec![
            Row {
                behaviour,
                observation: Observation::Gauges(&["c", "k"]),
                envoy_1_40: envoy,
                known: if body_len > 0 { &[] } else { EMPTY_REPLY_KNOWN },
            },
            Row {
                behaviour: if body_len > 0 {
                    "a local reply with a body: what the client gets"
                } else {
                    "a local reply without a body: what the client gets"
                },
                observation: Observation::Responses,
                envoy_1_40: "403",
                known: &[],
            },
            Row {
                behaviour: if body_len > 0 {
                    "a local reply with a body: does the request reach the upstream?"
                } else {
                    "a local reply without a body: does the request reach the upstream?"
                },
                observation: Observation::Forwarded,
                envoy_1_40: "not forwarded",
                known: &[],
            },
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
        rows,
        native: None,
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
            Row {
                behaviour: "after a trap (failure policy fail-closed): what the trapping and the \
                            next request get",
                observation: Observation::Responses,
                envoy_1_40: "503 trap, 503",
                known: &[],
            },
            Row {
                behaviour: "after a trap (fail-closed): do the requests reach the upstream?",
                observation: Observation::Forwarded,
                envoy_1_40: "not forwarded, not forwarded",
                known: &[],
            },
            Row {
                behaviour: "a trap report names the callback that trapped",
                observation: Observation::Names("proxy_on_request_headers"),
                envoy_1_40: "names proxy_on_request_headers",
                known: &[],
            },
            Row {
                behaviour: "after a trap (fail-closed): request headers calls made (n)",
                observation: Observation::Gauges(&["n"]),
                envoy_1_40: "n=1",
                known: &[],
            },
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
        vec![Row {
            behaviour: "the response body read (b) and written (w) in the response headers \
                        callback, before it arrived (0 = OK: empty, 2 = BAD_ARGUMENT)",
            observation: Observation::Gauges(&["b", "w"]),
            envoy_1_40: "b=0 w=2",
            known: &[],
        }],
    )
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
        vec![Row {
            behaviour: "start of a VM: order of the root context's creation (R), \
                        proxy_on_vm_start (V), proxy_on_configure (C) and the first stream's \
                        context (S)",
            observation: Observation::Gauges(&["R", "V", "C", "S"]),
            envoy_1_40: "R=1 V=2 C=3 S=4",
            known: &[],
        }],
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
            Row {
                behaviour: "a stream the module resets in its request headers callback \
                            (proxy_close_stream): what the client gets",
                observation: Observation::Responses,
                envoy_1_40: "no response",
                known: &[],
            },
            Row {
                behaviour: "a stream the module resets: does the request reach the upstream?",
                observation: Observation::Forwarded,
                envoy_1_40: "not forwarded",
                known: &[],
            },
            Row {
                behaviour: "a stream the module resets: proxy_on_log (L) and proxy_on_done (D) \
                            still run, in this order",
                observation: Observation::Gauges(&["L", "D"]),
                envoy_1_40: "L=1 D=2",
                known: &[],
            },
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
            Row {
                behaviour: "a response paused in its headers callback (Pause, never continued): \
                            what the client gets (Envoy pauses all processing)",
                observation: Observation::Responses,
                envoy_1_40: "no response",
                known: &[],
            },
            Row {
                behaviour: "a response paused in its headers callback: does its body callback \
                            still run (p)?",
                observation: Observation::Gauges(&["p"]),
                envoy_1_40: "p=–",
                known: &[],
            },
        ],
    )
}

/// Every probe, in the order of the matrix.
pub fn all() -> Vec<Probe> {
    vec![
        vm_order(),
        phases(),
        local_reply("local-reply", 6, "c=0 k=0"),
        local_reply("local-reply-empty", 0, "c=1 k=1"),
        restricted(
            "allocate-log",
            LOG_ALLOCATING,
            LOG_STARTING,
            vec![
                Row {
                    behaviour: "proxy_log inside proxy_on_memory_allocate and _initialize: the \
                                allocation it is in (s: status of the header read that needed it)",
                    observation: Observation::Gauges(&["s"]),
                    envoy_1_40: "s=0",
                    known: &[],
                },
                Row {
                    behaviour: "proxy_log inside _initialize: the module starts",
                    observation: Observation::Started,
                    envoy_1_40: "started",
                    known: &[],
                },
            ],
        ),
        restricted(
            "allocate-hostcall",
            READ_HEADERS,
            "",
            vec![Row {
                behaviour: "another hostcall inside proxy_on_memory_allocate \
                            (restricted_callback): what the client gets",
                observation: Observation::Responses,
                envoy_1_40: "503 trap",
                known: &[],
            }],
        ),
        restricted(
            "start-hostcall",
            "",
            DEFINE_METRIC,
            vec![Row {
                behaviour: "a metric defined inside _initialize (restricted_callback): the \
                            module starts",
                observation: Observation::Started,
                envoy_1_40: "not started",
                known: &[],
            }],
        ),
        buffers(),
        reset(),
        pause(),
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
