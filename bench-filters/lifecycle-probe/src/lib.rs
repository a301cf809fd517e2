//! `lifecycle-probe`: a test filter that logs `probe: <event>` at WARN level for every callback
//! the SDK hands it, in the order it receives them. Tests read the host's log to check that the
//! host drives the Proxy-Wasm lifecycle in the spec's order. Not part of the benchmark.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        record("root_context_create");
        Box::new(ProbeRoot)
    });
}}

/// Logs one lifecycle event.
fn record(event: &str) {
    // Logging can only fail if the host rejects the call; the test would then see the gap.
    let _ = proxy_wasm::hostcalls::log(LogLevel::Warn, &format!("probe: {event}"));
}

struct ProbeRoot;

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        record("vm_start");
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        record("configure");
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        record("context_create");
        Some(Box::new(ProbeStream))
    }
}

struct ProbeStream;

impl Context for ProbeStream {
    fn on_done(&mut self) -> bool {
        record("done");
        true
    }
}

impl HttpContext for ProbeStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        record(&format!("request_headers eos={end_of_stream}"));
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        record(&format!(
            "request_body size={body_size} eos={end_of_stream}"
        ));
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        record("request_trailers");
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        record(&format!("response_headers eos={end_of_stream}"));
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        record(&format!(
            "response_body size={body_size} eos={end_of_stream}"
        ));
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        record("response_trailers");
        Action::Continue
    }

    fn on_log(&mut self) {
        record("log");
    }
}

impl Drop for ProbeStream {
    fn drop(&mut self) {
        // The SDK drops a stream context in `proxy_on_delete`.
        record("delete");
    }
}
