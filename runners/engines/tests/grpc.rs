//! gRPC calls and streams against a spec's scripted gRPC upstreams: the ABI's gRPC hostcalls and
//! callbacks on every WebAssembly engine (status codes, metadata, messages, cancel, the close
//! status), and a real Rust SDK filter that checks each request with a unary call and follows a
//! stream, conformant on every engine and native, on its allowed and its denied path.

mod common;

use filterbench_harness::assertions::{Assertions, HeaderCheck};
use filterbench_harness::catalog::{self, PluginSettings};
use filterbench_harness::run::Subject;
use filterbench_host::{GrpcReply, GrpcRoute, HeaderMap, PluginSpec};
use std::sync::Arc;

const GRPC_IMPORTS: &str = r#"
  (import "env" "proxy_grpc_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_stream" (func $stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $cancel (param i32) (result i32)))
  (import "env" "proxy_get_status" (func $status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))"#;

/// On configure: a call to an unknown cluster (its status into gauge "u"), a stream to "feed"
/// that sends one message and ends its side, a unary call to "feed" cancelled at once. The
/// callbacks record what they get: "i" initial metadata pairs, "m" message bytes (a counter), "t"
/// trailing metadata pairs, "c" the close status, "s" the status message's length.
const GRPC_FIELDS: &str = r#"
  (data (i32.const 100) "nowhere")
  (data (i32.const 120) "feed")
  (data (i32.const 130) "svc")
  (data (i32.const 140) "M")
  (data (i32.const 150) "uimtcs")
  ;; a gauge named by the byte at 150 + $which, set to $v
  (func $gauge (param $which i32) (param $v i64)
    (drop (call $define (i32.const 1) (i32.add (i32.const 150) (local.get $which)) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (local.get $v))))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    ;; empty metadata: the 4 zero bytes at 600
    (call $gauge (i32.const 0) (i64.extend_i32_u
      (call $call (i32.const 100) (i32.const 7) (i32.const 130) (i32.const 3) (i32.const 140) (i32.const 1)
                  (i32.const 600) (i32.const 4) (i32.const 16) (i32.const 2) (i32.const 1000) (i32.const 400))))
    (drop (call $stream (i32.const 120) (i32.const 4) (i32.const 130) (i32.const 3) (i32.const 140) (i32.const 1)
                        (i32.const 600) (i32.const 4) (i32.const 404)))
    (drop (call $send (i32.load (i32.const 404)) (i32.const 16) (i32.const 3) (i32.const 1)))
    (drop (call $call (i32.const 120) (i32.const 4) (i32.const 130) (i32.const 3) (i32.const 140) (i32.const 1)
                      (i32.const 600) (i32.const 4) (i32.const 16) (i32.const 2) (i32.const 1000) (i32.const 408)))
    (drop (call $cancel (i32.load (i32.const 408))))
    (i32.const 1))
  (func (export "proxy_on_grpc_receive_initial_metadata") (param i32 i32 i32)
    (call $gauge (i32.const 1) (i64.extend_i32_u (local.get 2))))
  (func (export "proxy_on_grpc_receive") (param i32 i32 i32)
    ;; a counter: recorded values add up
    (drop (call $define (i32.const 0) (i32.const 152) (i32.const 1) (i32.const 500)))
    (drop (call $record (i32.load (i32.const 500)) (i64.extend_i32_u (local.get 2)))))
  (func (export "proxy_on_grpc_receive_trailing_metadata") (param i32 i32 i32)
    (call $gauge (i32.const 3) (i64.extend_i32_u (local.get 2))))
  (func (export "proxy_on_grpc_close") (param i32 i32 i32)
    (call $gauge (i32.const 4) (i64.extend_i32_u (local.get 2)))
    (drop (call $status (i32.const 700) (i32.const 704) (i32.const 708)))
    (call $gauge (i32.const 5) (i64.extend_i32_u (i32.load (i32.const 708)))))"#;

fn feed_reply() -> GrpcReply {
    GrpcReply {
        initial_metadata: HeaderMap::from_pairs(&[("x-feed-version", "v7")]),
        messages: vec![b"ab".to_vec(), b"cde".to_vec()],
        status: 5,
        status_message: b"gone".to_vec(),
        ..GrpcReply::default()
    }
}

#[test]
fn grpc_hostcalls_and_callbacks_behave_as_in_envoy_on_every_engine() {
    let plugin = PluginSpec {
        grpc_upstreams: Arc::new(vec![GrpcRoute {
            cluster: "feed".to_owned(),
            service: None,
            method: None,
            reply: feed_reply(),
        }]),
        ..PluginSpec::new("grpc-abi", "")
    };
    let wasm = common::proxy_module(GRPC_IMPORTS, GRPC_FIELDS);
    for (engine, mut instance) in common::started_on_every_wasm_engine(&wasm, &plugin) {
        let state = instance.state();
        let gauge = |name: &str| state.metric_by_name(name).map(|m| m.value);
        assert_eq!(
            gauge("u"),
            Some(4),
            "{engine}: unknown cluster → PARSE_FAILURE"
        );
        // :status, content-type, x-feed-version, x-envoy-upstream-service-time
        assert_eq!(gauge("i"), Some(4), "{engine}: initial metadata");
        // the cancelled call's message never arrives: only the stream's 2 + 3 bytes
        assert_eq!(gauge("m"), Some(5), "{engine}: message bytes");
        // grpc-status, grpc-message
        assert_eq!(gauge("t"), Some(2), "{engine}: trailing metadata");
        assert_eq!(gauge("c"), Some(5), "{engine}: close status");
        // "gone{via_upstream}", as Envoy hands it over
        assert_eq!(gauge("s"), Some(18), "{engine}: status message length");
    }
}

/// The example spec's filter: `examples/grpc-check.yaml`, written out, with the authorization
/// service answering `authz`.
fn grpc_check(authz: GrpcReply, assertions: Assertions) -> Subject {
    let mut filter = catalog::user_module(
        "grpc-check",
        r#"{"authz_cluster": "authz", "feed_cluster": "policy-feed"}"#.to_owned(),
        String::new(),
        PluginSettings::default(),
        vec!["get-small"],
        Vec::new(),
    );
    filter.custom.grpc_upstreams = vec![
        GrpcRoute {
            cluster: "authz".to_owned(),
            service: Some("filterbench.Authz".to_owned()),
            method: Some("Check".to_owned()),
            reply: authz,
        },
        GrpcRoute {
            cluster: "policy-feed".to_owned(),
            service: Some("filterbench.PolicyFeed".to_owned()),
            method: None,
            reply: GrpcReply {
                messages: vec![b"policy: strict".to_vec(), b"policy: audit".to_vec()],
                status: 0,
                status_message: Vec::new(),
                ..feed_reply()
            },
        },
    ];
    filter.custom.assertions = vec![("get-small".to_owned(), assertions)];
    Subject {
        filter,
        source: common::built("grpc-check"),
    }
}

fn assert_conformant_everywhere(subject: Subject) {
    let results = common::run_on_every_engine(subject);
    for cell in common::conformant_guest_cells(&results) {
        assert!(cell.steady.is_some(), "{}: timed", cell.engine);
    }
}

#[test]
fn a_filter_checking_each_request_over_grpc_is_conformant_on_every_engine() {
    let allow = GrpcReply {
        messages: vec![b"allow".to_vec()],
        ..GrpcReply::default()
    };
    let holds = Assertions {
        request_headers: vec![
            (
                "x-authz".to_owned(),
                HeaderCheck::Equals("allow".to_owned()),
            ),
            (
                "x-policy".to_owned(),
                HeaderCheck::Equals("policy: audit".to_owned()),
            ),
        ],
        local_reply: Some(None),
        metrics: vec![
            ("authz_allowed".to_owned(), 1),
            ("feed_messages".to_owned(), 2),
        ],
        log_contains: vec![
            "feed initial metadata: :status=200, content-type=application/grpc, x-feed-version=v7"
                .to_owned(),
            "feed trailing metadata: grpc-status=0".to_owned(),
            "feed closed with status 0".to_owned(),
        ],
        ..Assertions::default()
    };
    assert_conformant_everywhere(grpc_check(allow, holds));
}

#[test]
fn a_failed_grpc_call_takes_the_denied_path_on_every_engine() {
    let deny = GrpcReply {
        status: 7,
        status_message: b"no entry".to_vec(),
        ..GrpcReply::default()
    };
    let holds = Assertions {
        request_headers: vec![("x-authz".to_owned(), HeaderCheck::Absent)],
        local_reply: Some(Some(403)),
        local_reply_body_contains: Some("denied: no entry".to_owned()),
        metrics: vec![("authz_denied".to_owned(), 1)],
        log_contains: vec!["denied: status 7 (no entry{via_upstream})".to_owned()],
        ..Assertions::default()
    };
    assert_conformant_everywhere(grpc_check(deny, holds));
}
