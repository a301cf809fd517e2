//! `body-redact`: buffers JSON request and response bodies and replaces the values of
//! configured fields with a mask before they go on. Field paths are dotted (`card.number`);
//! arrays are walked transparently, so a path applies to every element. The body length
//! changes, so `content-length` is dropped from the headers (the proxy re-frames the body).
//!
//! Configuration (JSON):
//! ```json
//! { "fields": ["password", "card.number"], "mask": "[REDACTED]" }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;
use serde_json::Value;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(RedactRoot { config: None }) });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    fields: Vec<String>,
    #[serde(default = "default_mask")]
    mask: String,
}

fn default_mask() -> String {
    "[REDACTED]".to_owned()
}

struct RedactRoot {
    config: Option<Rc<Config>>,
}

impl Context for RedactRoot {}

impl RootContext for RedactRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(err) => {
                log::error!("body-redact: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RedactStream {
            config: Rc::clone(self.config.as_ref()?),
            request_json: false,
            response_json: false,
        }))
    }
}

struct RedactStream {
    config: Rc<Config>,
    request_json: bool,
    response_json: bool,
}

/// Masks the value at `path` in `value` (walking arrays); returns how many values were masked.
fn redact(value: &mut Value, path: &[&str], mask: &str) -> usize {
    match value {
        Value::Array(items) => items.iter_mut().map(|item| redact(item, path, mask)).sum(),
        Value::Object(map) => match path {
            [] => 0,
            [last] => match map.get_mut(*last) {
                Some(found) => {
                    *found = Value::String(mask.to_owned());
                    1
                }
                None => 0,
            },
            [first, rest @ ..] => map
                .get_mut(*first)
                .map_or(0, |inner| redact(inner, rest, mask)),
        },
        _ => 0,
    }
}

impl RedactStream {
    /// The redacted body, or `None` when it is not JSON or nothing was masked.
    fn redacted(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        let mut masked = 0;
        for field in &self.config.fields {
            let path: Vec<&str> = field.split('.').collect();
            masked += redact(&mut value, &path, &self.config.mask);
        }
        (masked > 0)
            .then(|| serde_json::to_vec(&value).ok())
            .flatten()
    }
}

fn is_json(content_type: Option<String>) -> bool {
    content_type.is_some_and(|t| t.starts_with("application/json"))
}

impl Context for RedactStream {}

impl HttpContext for RedactStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.request_json = !end_of_stream && is_json(self.get_http_request_header("content-type"));
        if self.request_json {
            self.set_http_request_header("content-length", None);
        }
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.request_json {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if let Some(body) = self.get_http_request_body(0, body_size) {
            if let Some(redacted) = self.redacted(&body) {
                self.set_http_request_body(0, body_size, &redacted);
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.response_json =
            !end_of_stream && is_json(self.get_http_response_header("content-type"));
        if self.response_json {
            self.set_http_response_header("content-length", None);
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.response_json {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if let Some(body) = self.get_http_response_body(0, body_size) {
            if let Some(redacted) = self.redacted(&body) {
                self.set_http_response_body(0, body_size, &redacted);
            }
        }
        Action::Continue
    }
}
