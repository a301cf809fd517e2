//! `access-log`: writes one access-log line per request in `on_log`, from the request and
//! response properties the proxy exposes (method, path, protocol, status, duration, upstream,
//! user agent), formatted like a common proxy log line and sent at INFO level.
//!
//! Configuration (JSON, optional): `{ "prefix": "access" }`.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use serde::Deserialize;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(LogRoot { prefix: Rc::from("access") }) });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    prefix: String,
}

struct LogRoot {
    prefix: Rc<str>,
}

impl Context for LogRoot {}

impl RootContext for LogRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let Some(bytes) = self.get_plugin_configuration() else {
            return true;
        };
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.prefix = Rc::from(config.prefix);
                true
            }
            Err(err) => {
                log::error!("access-log: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(LogStream {
            prefix: Rc::clone(&self.prefix),
        }))
    }
}

struct LogStream {
    prefix: Rc<str>,
}

impl LogStream {
    /// A string property, or `-`.
    fn text(&self, path: &[&str]) -> String {
        self.get_property(path.to_vec()).map_or_else(
            || "-".to_owned(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )
    }

    /// An integer property (8 bytes little-endian, as proxies encode them), or `None`.
    fn int(&self, path: &[&str]) -> Option<i64> {
        let bytes = self.get_property(path.to_vec())?;
        Some(i64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
    }
}

impl Context for LogStream {}

impl HttpContext for LogStream {
    fn on_log(&mut self) {
        let status = self
            .int(&["response", "code"])
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        let duration_us = self
            .int(&["request", "duration"])
            .map_or_else(|| "-".to_owned(), |ns| (ns / 1000).to_string());
        let line = format!(
            "{} \"{} {} {}\" {} {}us upstream={} ua=\"{}\"",
            self.prefix,
            self.text(&["request", "method"]),
            self.text(&["request", "path"]),
            self.text(&["request", "protocol"]),
            status,
            duration_us,
            self.text(&["upstream", "address"]),
            self.text(&["request", "useragent"]),
        );
        log::info!("{line}");
    }
}
