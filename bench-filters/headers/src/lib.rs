//! `headers`: an HTTP filter that edits headers as its plugin configuration says.
//!
//! Configuration (JSON, all lists optional):
//! ```json
//! {
//!   "request":  { "add": [["x-a", "1"]], "replace": [["user-agent", "fb"]], "remove": ["x-debug"] },
//!   "response": { "add": [["x-b", "2"]], "replace": [], "remove": [] }
//! }
//! ```
//! On request headers it adds, then replaces, then removes; on response headers likewise.
//! A configuration that does not parse makes `on_configure` fail, as a real filter would.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(HeadersRoot { config: Rc::new(Config::default()) })
    });
}}

/// Header edits applied to one direction of the stream.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Edits {
    add: Vec<(String, String)>,
    replace: Vec<(String, String)>,
    remove: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    request: Edits,
    response: Edits,
}

struct HeadersRoot {
    config: Rc<Config>,
}

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let Some(bytes) = self.get_plugin_configuration() else {
            return true;
        };
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.config = Rc::new(config);
                true
            }
            Err(err) => {
                log::error!("headers: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HeadersStream {
            config: Rc::clone(&self.config),
        }))
    }
}

struct HeadersStream {
    config: Rc<Config>,
}

impl Context for HeadersStream {}

impl HttpContext for HeadersStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let edits = &self.config.request;
        for (name, value) in &edits.add {
            self.add_http_request_header(name, value);
        }
        for (name, value) in &edits.replace {
            self.set_http_request_header(name, Some(value));
        }
        for name in &edits.remove {
            self.set_http_request_header(name, None);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let edits = &self.config.response;
        for (name, value) in &edits.add {
            self.add_http_response_header(name, value);
        }
        for (name, value) in &edits.replace {
            self.set_http_response_header(name, Some(value));
        }
        for name in &edits.remove {
            self.set_http_response_header(name, None);
        }
        Action::Continue
    }
}
