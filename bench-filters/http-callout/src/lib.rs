//! `http-callout`: asks an authorization service before letting a request through. On request
//! headers it sends an HTTP call (the user header and the path) to the configured upstream
//! and pauses; when the answer comes, a 200 resumes the request with the service's
//! `x-auth-user` forwarded, anything else (or a failed call) gets a 403 local response.
//!
//! Configuration (JSON):
//! ```json
//! { "upstream": "auth-service", "authority": "auth.internal", "path": "/check",
//!   "user_header": "x-user", "timeout_ms": 500 }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;
use std::rc::Rc;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(CalloutRoot { config: None }) });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    upstream: String,
    authority: String,
    path: String,
    #[serde(default = "default_user_header")]
    user_header: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_user_header() -> String {
    "x-user".to_owned()
}

fn default_timeout_ms() -> u64 {
    500
}

struct CalloutRoot {
    config: Option<Rc<Config>>,
}

impl Context for CalloutRoot {}

impl RootContext for CalloutRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(err) => {
                log::error!("http-callout: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(CalloutStream {
            config: Rc::clone(self.config.as_ref()?),
        }))
    }
}

struct CalloutStream {
    config: Rc<Config>,
}

impl CalloutStream {
    fn reject(&self, reason: &str) {
        self.send_http_response(403, vec![("x-auth-denied", reason)], Some(b"forbidden\n"));
    }
}

impl Context for CalloutStream {
    fn on_http_call_response(
        &mut self,
        _token_id: u32,
        num_headers: usize,
        _body_size: usize,
        _num_trailers: usize,
    ) {
        if num_headers == 0 {
            self.reject("authorization service unreachable");
            return;
        }
        match self.get_http_call_response_header(":status").as_deref() {
            Some("200") => {
                let user = self
                    .get_http_call_response_header("x-auth-user")
                    .unwrap_or_default();
                self.set_http_request_header("x-auth-user", Some(&user));
                self.resume_http_request();
            }
            Some(status) => self.reject(&format!("authorization service answered {status}")),
            None => self.reject("authorization service answered without a status"),
        }
    }
}

impl HttpContext for CalloutStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let user = self
            .get_http_request_header(&self.config.user_header)
            .unwrap_or_default();
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let headers = vec![
            (":method", "GET"),
            (":path", self.config.path.as_str()),
            (":authority", self.config.authority.as_str()),
            ("x-user", user.as_str()),
            ("x-original-path", path.as_str()),
        ];
        let timeout = Duration::from_millis(self.config.timeout_ms);
        match self.dispatch_http_call(&self.config.upstream, headers, None, vec![], timeout) {
            Ok(_) => Action::Pause,
            Err(status) => {
                self.reject(&format!(
                    "cannot call the authorization service: {status:?}"
                ));
                Action::Pause
            }
        }
    }
}
