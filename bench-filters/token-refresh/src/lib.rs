//! `token-refresh`: the example filter of `examples/token-refresh.yaml`, written to exercise
//! what real filters use beyond one request: a tick, an HTTP call from the root context, a
//! property and shared data. Not part of the benchmark catalog.
//!
//! When configured, and then every `refresh_ms`, the root context asks the token service (`cluster`, `GET path`) for a
//! token and keeps the answer's body in shared data; each request gets
//! `authorization: Bearer <token>` and `x-route: <xds.route_name property>`, or a 503 local reply
//! while no token has arrived yet. It counts refreshes in the counter `token_refreshes`.
//!
//! Configuration (JSON):
//! ```json
//! { "cluster": "token-service", "path": "/token", "refresh_ms": 1000 }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use serde::Deserialize;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(TokenRoot { config: None, refreshes: 0 })
    });
}}

/// Shared-data key of the current token.
const TOKEN_KEY: &str = "token-refresh.token";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    cluster: String,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default = "default_refresh_ms")]
    refresh_ms: u64,
}

fn default_path() -> String {
    "/token".to_owned()
}

fn default_refresh_ms() -> u64 {
    1000
}

struct TokenRoot {
    config: Option<Config>,
    /// Id of the `token_refreshes` counter.
    refreshes: u32,
}

impl Context for TokenRoot {
    fn on_http_call_response(
        &mut self,
        _token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.get_http_call_response_header(":status").as_deref() != Some("200") {
            log::warn!(
                "token-refresh: the token service did not answer 200; keeping the old token"
            );
            return;
        }
        let token = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        if self.set_shared_data(TOKEN_KEY, Some(&token), None).is_ok() {
            let _ = proxy_wasm::hostcalls::increment_metric(self.refreshes, 1);
            log::info!("token-refresh: token refreshed ({} bytes)", token.len());
        }
    }
}

impl RootContext for TokenRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let config = match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => config,
            Err(err) => {
                log::error!("token-refresh: invalid plugin configuration: {err}");
                return false;
            }
        };
        match proxy_wasm::hostcalls::define_metric(MetricType::Counter, "token_refreshes") {
            Ok(id) => self.refreshes = id,
            Err(status) => {
                log::error!("token-refresh: cannot define its counter: {status:?}");
                return false;
            }
        }
        self.set_tick_period(Duration::from_millis(config.refresh_ms));
        self.config = Some(config);
        // The first token is asked for at once, so requests need not wait for the first tick.
        self.refresh();
        true
    }

    fn on_tick(&mut self) {
        self.refresh();
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(TokenStream))
    }
}

impl TokenRoot {
    /// Asks the token service for a new token; the answer arrives in `on_http_call_response`.
    fn refresh(&self) {
        let Some(config) = &self.config else {
            return;
        };
        let headers = vec![
            (":method", "GET"),
            (":path", config.path.as_str()),
            (":authority", config.cluster.as_str()),
        ];
        if let Err(status) = self.dispatch_http_call(
            &config.cluster,
            headers,
            None,
            vec![],
            Duration::from_secs(1),
        ) {
            log::warn!("token-refresh: cannot call {}: {status:?}", config.cluster);
        }
    }
}

struct TokenStream;

impl Context for TokenStream {}

impl HttpContext for TokenStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let token = match self.get_shared_data(TOKEN_KEY) {
            (Some(token), _) if !token.is_empty() => token,
            _ => {
                self.send_http_response(503, vec![], Some(b"token not ready\n"));
                return Action::Pause;
            }
        };
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(&token);
        self.set_http_request_header_bytes("authorization", Some(&value));
        let route = self
            .get_property(vec!["xds", "route_name"])
            .unwrap_or_default();
        self.set_http_request_header_bytes("x-route", Some(&route));
        Action::Continue
    }
}
