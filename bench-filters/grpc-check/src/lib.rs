//! `grpc-check`: the example filter of `examples/grpc-check.yaml`, written to exercise gRPC the
//! way real filters use it. Not part of the benchmark catalog.
//!
//! - Each request is checked with a unary gRPC call (`filterbench.Authz/Check` on
//!   `authz_cluster`, the request path as message and as metadata `x-request-path`). An OK
//!   answer lets the request go on with `x-authz: <answer>` (and `x-policy: <policy>` once the
//!   feed sent one); a failed call answers 403 locally, naming the status and its message.
//! - When configured with a `feed_cluster`, the root context opens a stream
//!   (`filterbench.PolicyFeed/Watch`), sends one `subscribe` message and ends its side; it logs
//!   the initial and trailing metadata, keeps the last message as the policy (shared data) and
//!   logs the stream's final status.
//!
//! Counters: `authz_allowed`, `authz_denied`, `feed_messages`.
//!
//! Configuration (JSON):
//! ```json
//! { "authz_cluster": "authz", "feed_cluster": "policy-feed" }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use serde::Deserialize;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(CheckRoot { config: None, counters: Counters::default() })
    });
}}

/// Shared-data key of the policy the feed sent last.
const POLICY_KEY: &str = "grpc-check.policy";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    authz_cluster: String,
    #[serde(default)]
    feed_cluster: Option<String>,
}

/// Ids of the counters.
#[derive(Clone, Copy, Default)]
struct Counters {
    allowed: u32,
    denied: u32,
    feed_messages: u32,
}

fn increment(id: u32) {
    let _ = proxy_wasm::hostcalls::increment_metric(id, 1);
}

fn pairs_text(pairs: &[(String, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

struct CheckRoot {
    config: Option<Config>,
    counters: Counters,
}

impl Context for CheckRoot {
    fn on_grpc_stream_initial_metadata(&mut self, _token_id: u32, _num_elements: u32) {
        let pairs = self.get_grpc_stream_initial_metadata();
        log::info!("grpc-check: feed initial metadata: {}", pairs_text(&pairs));
    }

    fn on_grpc_stream_message(&mut self, _token_id: u32, message_size: usize) {
        let policy = self
            .get_grpc_stream_message(0, message_size)
            .unwrap_or_default();
        increment(self.counters.feed_messages);
        log::info!(
            "grpc-check: policy update: {}",
            String::from_utf8_lossy(&policy)
        );
        let _ = self.set_shared_data(POLICY_KEY, Some(&policy), None);
    }

    fn on_grpc_stream_trailing_metadata(&mut self, _token_id: u32, _num_elements: u32) {
        let pairs = self.get_grpc_stream_trailing_metadata();
        log::info!("grpc-check: feed trailing metadata: {}", pairs_text(&pairs));
    }

    fn on_grpc_stream_close(&mut self, _token_id: u32, status_code: u32) {
        let (_, message) = self.get_grpc_status();
        log::info!(
            "grpc-check: feed closed with status {status_code} ({})",
            message.unwrap_or_default()
        );
    }
}

impl RootContext for CheckRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let config = match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => config,
            Err(err) => {
                log::error!("grpc-check: invalid plugin configuration: {err}");
                return false;
            }
        };
        let define = |name| proxy_wasm::hostcalls::define_metric(MetricType::Counter, name);
        match (
            define("authz_allowed"),
            define("authz_denied"),
            define("feed_messages"),
        ) {
            (Ok(allowed), Ok(denied), Ok(feed_messages)) => {
                self.counters = Counters {
                    allowed,
                    denied,
                    feed_messages,
                }
            }
            _ => {
                log::error!("grpc-check: cannot define its counters");
                return false;
            }
        }
        if let Some(feed) = &config.feed_cluster {
            match self.open_grpc_stream(
                feed,
                "filterbench.PolicyFeed",
                "Watch",
                vec![("x-client", b"grpc-check")],
            ) {
                Ok(token) => self.send_grpc_stream_message(token, Some(b"subscribe"), true),
                Err(status) => log::warn!("grpc-check: cannot open the feed on {feed}: {status:?}"),
            }
        }
        self.config = Some(config);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let cluster = self.config.as_ref()?.authz_cluster.clone();
        Some(Box::new(CheckStream {
            cluster,
            counters: self.counters,
        }))
    }
}

struct CheckStream {
    cluster: String,
    counters: Counters,
}

impl Context for CheckStream {
    fn on_grpc_call_response(&mut self, _token_id: u32, status_code: u32, response_size: usize) {
        if status_code != 0 {
            let (_, message) = self.get_grpc_status();
            let message = message.unwrap_or_default();
            increment(self.counters.denied);
            log::info!("grpc-check: denied: status {status_code} ({message})");
            let body = format!("denied: {message}\n");
            self.send_http_response(
                403,
                vec![("x-authz-status", &status_code.to_string())],
                Some(body.as_bytes()),
            );
            return;
        }
        let verdict = self
            .get_grpc_call_response_body(0, response_size)
            .unwrap_or_default();
        increment(self.counters.allowed);
        self.set_http_request_header_bytes("x-authz", Some(&verdict));
        if let (Some(policy), _) = self.get_shared_data(POLICY_KEY) {
            self.set_http_request_header_bytes("x-policy", Some(&policy));
        }
        self.resume_http_request();
    }
}

impl HttpContext for CheckStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match self.dispatch_grpc_call(
            &self.cluster,
            "filterbench.Authz",
            "Check",
            vec![("x-request-path", path.as_bytes())],
            Some(path.as_bytes()),
            Duration::from_secs(1),
        ) {
            Ok(_) => Action::Pause,
            Err(status) => {
                log::warn!("grpc-check: cannot call {}: {status:?}", self.cluster);
                self.send_http_response(503, vec![], Some(b"authorization unavailable\n"));
                Action::Pause
            }
        }
    }
}
