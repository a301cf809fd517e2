//! `metrics`: counts requests by method and response status class
//! (`filterbench_requests_total;method=GET;status=2xx`), and records the number of request
//! headers of each request in a histogram (`filterbench_request_headers`). Metrics with labels
//! are defined on first use and their ids cached.
//!
//! Configuration (JSON, optional): `{ "prefix": "filterbench" }`.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use serde::Deserialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(MetricsRoot { registry: Rc::new(Registry::new("filterbench".to_owned())) })
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    prefix: String,
}

/// Metric ids by full name, shared by every stream of a plugin.
struct Registry {
    prefix: String,
    ids: RefCell<HashMap<String, u32>>,
}

impl Registry {
    fn new(prefix: String) -> Self {
        Self {
            prefix,
            ids: RefCell::new(HashMap::new()),
        }
    }

    fn id(&self, kind: MetricType, name: &str) -> Option<u32> {
        if let Some(id) = self.ids.borrow().get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, name).ok()?;
        self.ids.borrow_mut().insert(name.to_owned(), id);
        Some(id)
    }
}

struct MetricsRoot {
    registry: Rc<Registry>,
}

impl Context for MetricsRoot {}

impl RootContext for MetricsRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let Some(bytes) = self.get_plugin_configuration() else {
            return true;
        };
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.registry = Rc::new(Registry::new(config.prefix));
                true
            }
            Err(err) => {
                log::error!("metrics: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(MetricsStream {
            registry: Rc::clone(&self.registry),
            method: String::new(),
        }))
    }
}

struct MetricsStream {
    registry: Rc<Registry>,
    method: String,
}

impl Context for MetricsStream {}

impl HttpContext for MetricsStream {
    fn on_http_request_headers(&mut self, num_headers: usize, _end_of_stream: bool) -> Action {
        self.method = self
            .get_http_request_header(":method")
            .unwrap_or_else(|| "-".to_owned());
        let name = format!("{}_request_headers", self.registry.prefix);
        if let Some(id) = self.registry.id(MetricType::Histogram, &name) {
            let _ = hostcalls::record_metric(id, num_headers as u64);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        let class = match status.chars().next() {
            Some(c @ '1'..='5') => format!("{c}xx"),
            _ => "other".to_owned(),
        };
        let name = format!(
            "{}_requests_total;method={};status={class}",
            self.registry.prefix, self.method
        );
        if let Some(id) = self.registry.id(MetricType::Counter, &name) {
            let _ = hostcalls::increment_metric(id, 1);
        }
        Action::Continue
    }
}
