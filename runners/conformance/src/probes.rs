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
}

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
/// `GAUGE_NAMES + offset`, and the callbacks in `callbacks`.
fn module(in_allocate: &str, in_start: &str, callbacks: &str) -> String {
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
  (data (i32.const 160) "htdlLDcksn")
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
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  {callbacks})"#
    )
}

// Gauge offsets into "htdlLDcksn".
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

/// Reads the stream's phases: `h` the status of reading a response header in the body
/// callback that ends the response, `t` of adding a response trailer there, `d` of reading
/// `request.duration` in the request headers, `l` in `proxy_on_log`; `L` and `D` the order of
/// `proxy_on_log` and `proxy_on_done`.
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
    (call $gauge (i32.const {LOG_SEQ}) (call $next)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (call $gauge (i32.const {DONE_SEQ}) (call $next))
    (i32.const 1))
  (func (export "proxy_on_delete") (param i32))"#
    );
    Probe {
        name: "phases",
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello ", "world"],
        rows: vec![
            Row {
                behaviour: "response headers read in the body callback that ends the response \
                            (2 = BAD_ARGUMENT: already sent)",
                observation: Observation::Gauges(&["h"]),
                envoy_1_40: "h=2",
            },
            Row {
                behaviour: "a response trailer added in the body callback that ends the response \
                            (0 = OK)",
                observation: Observation::Gauges(&["t"]),
                envoy_1_40: "t=0",
            },
            Row {
                behaviour: "request.duration read in the request headers callback (1 = NOT_FOUND)",
                observation: Observation::Gauges(&["d"]),
                envoy_1_40: "d=1",
            },
            Row {
                behaviour: "request.duration read in proxy_on_log (0 = OK)",
                observation: Observation::Gauges(&["l"]),
                envoy_1_40: "l=0",
            },
            Row {
                behaviour: "end of an HTTP stream: order of proxy_on_log (L) and proxy_on_done (D)",
                observation: Observation::Gauges(&["L", "D"]),
                envoy_1_40: "L=1 D=2",
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
        wat: module("", "", &callbacks),
        requests: 1,
        response_body: vec!["hello"],
        rows: vec![
            Row {
                behaviour,
                observation: Observation::Gauges(&["c", "k"]),
                envoy_1_40: envoy,
            },
            Row {
                behaviour: if body_len > 0 {
                    "a local reply with a body: what the client gets"
                } else {
                    "a local reply without a body: what the client gets"
                },
                observation: Observation::Responses,
                envoy_1_40: "403",
            },
        ],
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
    Probe {
        name,
        wat: module(in_allocate, in_start, &callbacks),
        requests: 1,
        response_body: vec!["hello"],
        rows,
    }
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
    Probe {
        name: "trap",
        wat: module("", "", &callbacks),
        requests: 2,
        response_body: vec!["hello"],
        rows: vec![
            Row {
                behaviour: "after a trap (failure policy fail-closed): what the trapping and the \
                            next request get",
                observation: Observation::Responses,
                envoy_1_40: "503 trap, 503",
            },
            Row {
                behaviour: "after a trap (fail-closed): request headers calls made (n)",
                observation: Observation::Gauges(&["n"]),
                envoy_1_40: "n=1",
            },
        ],
    }
}

/// Every probe, in the order of the matrix.
pub fn all() -> Vec<Probe> {
    vec![
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
                },
                Row {
                    behaviour: "proxy_log inside _initialize: the module starts",
                    observation: Observation::Started,
                    envoy_1_40: "started",
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
            }],
        ),
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
