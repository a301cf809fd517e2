//! What a filter may do at each phase of an HTTP stream, as Envoy 1.40 answers it (each seen
//! there with real modules): the response header map is refused once the body is on its way
//! (`BAD_ARGUMENT`), a body callback that ends its direction may add trailers, `request.duration`
//! exists only once the stream is complete, an HTTP stream is logged before it is done, and a
//! local reply with a body carries `content-length` and `content-type` into the response
//! callbacks.
//! This very module, run through Envoy 1.40 on V8 (one request with a body), left the gauges
//! h = 2, t = 0, d = 1, l = 0, L = 1, D = 2 — what the test expects of every engine here.

mod common;

use filterbench_host::{HeaderMap, HttpExchange, PluginSpec};

const IMPORTS: &str = r#"
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))"#;

/// Gauges, each named by one letter at 150: `h` the status of reading a response header in the
/// last response body callback, `t` of adding a response trailer there, `d` of reading
/// `request.duration` in the request headers, `l` of reading it in `proxy_on_log`; `L` and `D`
/// the sequence numbers of `proxy_on_log` and `proxy_on_done`.
const FIELDS: &str = r#"
  (data (i32.const 100) "content-type")
  (data (i32.const 120) "x-added-trailer")
  (data (i32.const 140) "1")
  (data (i32.const 150) "htdlLD")
  (data (i32.const 160) "request\00duration")
  (global $seq (mut i64) (i64.const 0))
  (func $gauge (param $which i32) (param $v i64)
    (drop (call $define (i32.const 1) (i32.add (i32.const 150) (local.get $which)) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (local.get $v))))
  (func $status (param $which i32) (param $s i32)
    (call $gauge (local.get $which) (i64.extend_i32_u (local.get $s))))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const 2) (call $prop (i32.const 160) (i32.const 16) (i32.const 600) (i32.const 604)))
    (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (if (local.get 2) (then
      (call $status (i32.const 0) (call $get (i32.const 2) (i32.const 100) (i32.const 12) (i32.const 600) (i32.const 604)))
      (call $status (i32.const 1) (call $add (i32.const 3) (i32.const 120) (i32.const 15) (i32.const 140) (i32.const 1)))))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    (call $status (i32.const 3) (call $prop (i32.const 160) (i32.const 16) (i32.const 600) (i32.const 604)))
    (global.set $seq (i64.add (global.get $seq) (i64.const 1)))
    (call $gauge (i32.const 4) (global.get $seq)))
  (func (export "proxy_on_done") (param i32) (result i32)
    (global.set $seq (i64.add (global.get $seq) (i64.const 1)))
    (call $gauge (i32.const 5) (global.get $seq))
    (i32.const 1))
  (func (export "proxy_on_delete") (param i32))"#;

// Proxy-Wasm statuses.
const OK: i64 = 0;
const NOT_FOUND: i64 = 1;
const BAD_ARGUMENT: i64 = 2;

#[test]
fn each_phase_allows_what_envoy_allows_on_every_engine() {
    let wasm = common::proxy_module(IMPORTS, FIELDS);
    let exchange = HttpExchange {
        request_headers: HeaderMap::from_pairs(&[
            (":method", "GET"),
            (":path", "/"),
            (":authority", "h"),
        ]),
        response_headers: HeaderMap::from_pairs(&[
            (":status", "200"),
            ("content-type", "text/plain"),
        ]),
        response_body: vec![b"hello ".to_vec(), b"world".to_vec()],
        ..HttpExchange::default()
    };
    for (engine, mut instance) in
        common::started_on_every_wasm_engine(&wasm, &PluginSpec::new("phases", ""))
    {
        instance.run_stream(&exchange).unwrap();
        let state = instance.state();
        let gauge = |name: &str| {
            state
                .metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{engine}: no gauge {name}"))
                .value
        };
        assert_eq!(
            gauge("h"),
            BAD_ARGUMENT,
            "{engine}: response headers in the body"
        );
        assert_eq!(gauge("t"), OK, "{engine}: a trailer added as the body ends");
        assert_eq!(
            gauge("d"),
            NOT_FOUND,
            "{engine}: request.duration in headers"
        );
        assert_eq!(gauge("l"), OK, "{engine}: request.duration at log time");
        assert!(gauge("L") < gauge("D"), "{engine}: logged before done");
        let trailers = state.stream.response_trailers.as_ref();
        assert_eq!(
            trailers.and_then(|t| t.get(b"x-added-trailer")),
            Some(&b"1"[..]),
            "{engine}: the added trailer goes downstream"
        );
    }
}

const REPLY_IMPORTS: &str = r#"
  (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))"#;

/// Answers every request locally with 403, the first `body_len` bytes of "denied" as its body
/// and no headers of its own.
fn reply_fields(body_len: u32) -> String {
    format!(
        r#"
  (data (i32.const 100) "denied")
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $reply (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 100) (i32.const {body_len})
                       (i32.const 300) (i32.const 4) (i32.const -1)))
    (i32.const 1))"#
    )
}

#[test]
fn a_local_reply_carries_envoys_headers_into_the_response_callbacks() {
    let exchange = HttpExchange {
        request_headers: HeaderMap::from_pairs(&[(":method", "GET"), (":path", "/")]),
        response_headers: HeaderMap::from_pairs(&[(":status", "200")]),
        ..HttpExchange::default()
    };
    // Envoy 1.40, seen with this module: a body brings content-length and content-type
    // (text/plain); an empty body brings neither (the codec adds `content-length: 0` later).
    for (body_len, expected) in [
        (
            6,
            vec![
                (":status", "403"),
                ("content-length", "6"),
                ("content-type", "text/plain"),
            ],
        ),
        (0, vec![(":status", "403")]),
    ] {
        let wasm = common::proxy_module(REPLY_IMPORTS, &reply_fields(body_len));
        for (engine, mut instance) in
            common::started_on_every_wasm_engine(&wasm, &PluginSpec::new("reply", ""))
        {
            instance.run_stream(&exchange).unwrap();
            let headers = instance.state().stream.response_headers.clone().unwrap();
            let seen: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(k).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    )
                })
                .collect();
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(seen, expected, "{engine}: body of {body_len} bytes");
        }
    }
}

const OFFERED_IMPORTS: &str = r#"
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_size" (func $size (param i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))"#;

/// Gauges named by one letter at 150: `q` the status of reading `:path` in the request headers
/// callback, `r` in the response headers callback (after the request headers callback
/// continued), `s` of the response headers' size there, `l` of reading `:path` in
/// `proxy_on_log`, `m` of the request headers' size there.
const OFFERED_FIELDS: &str = r#"
  (data (i32.const 100) ":path")
  (data (i32.const 150) "qrslm")
  (func $status (param $which i32) (param $s i32)
    (drop (call $define (i32.const 1) (i32.add (i32.const 150) (local.get $which)) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (i64.extend_i32_u (local.get $s)))))
  (func $path (result i32)
    (call $get (i32.const 0) (i32.const 100) (i32.const 5) (i32.const 600) (i32.const 604)))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const 0) (call $path))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $status (i32.const 1) (call $path))
    (call $status (i32.const 2) (call $size (i32.const 2) (i32.const 700)))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    (call $status (i32.const 3) (call $path))
    (call $status (i32.const 4) (call $size (i32.const 0) (i32.const 700))))"#;

/// Envoy 1.40 offers a stream's header map only until its callback continues (then
/// `BAD_ARGUMENT`); in `proxy_on_log` values come from the access log's copies while sizes
/// still go through the maps it let go (the conformance kit's `maps` probe, recorded there).
#[test]
fn a_header_map_is_offered_until_its_callback_continues_on_every_engine() {
    let wasm = common::proxy_module(OFFERED_IMPORTS, OFFERED_FIELDS);
    let exchange = HttpExchange {
        request_headers: HeaderMap::from_pairs(&[
            (":method", "GET"),
            (":path", "/"),
            (":authority", "h"),
        ]),
        response_headers: HeaderMap::from_pairs(&[(":status", "204")]),
        ..HttpExchange::default()
    };
    for (engine, mut instance) in
        common::started_on_every_wasm_engine(&wasm, &PluginSpec::new("offered", ""))
    {
        instance.run_stream(&exchange).unwrap();
        let state = instance.state();
        let gauge = |name: &str| state.metric_by_name(name).map(|m| m.value);
        assert_eq!(gauge("q"), Some(OK), "{engine}: in its own callback");
        assert_eq!(
            gauge("r"),
            Some(BAD_ARGUMENT),
            "{engine}: the request headers once their callback continued"
        );
        assert_eq!(gauge("s"), Some(OK), "{engine}: the response headers' own");
        assert_eq!(gauge("l"), Some(OK), "{engine}: a value at log time");
        assert_eq!(
            gauge("m"),
            Some(BAD_ARGUMENT),
            "{engine}: a size at log time goes through the map let go"
        );
    }
}
