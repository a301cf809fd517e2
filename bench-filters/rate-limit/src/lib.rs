//! `rate-limit`: a token bucket per client key (a request header), kept in the proxy's shared
//! data so every worker sees it, updated with compare-and-swap and retried on conflicts.
//! Allowed requests carry `x-ratelimit-remaining`; an empty bucket gets a 429 local response.
//!
//! Configuration (JSON): the default bucket, and per-client overrides (tiers):
//! ```json
//! { "key_header": "x-client-id", "capacity": 100, "refill_per_second": 10,
//!   "overrides": { "batch-job": { "capacity": 1000, "refill_per_second": 100 } } }
//! ```

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, Status};
use serde::Deserialize;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(LimitRoot { config: None }) });
}}

#[derive(Deserialize, Clone, Copy)]
struct Limits {
    capacity: u64,
    refill_per_second: u64,
}

// (No `deny_unknown_fields`: serde does not support it together with `flatten`.)
#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_key_header")]
    key_header: String,
    #[serde(flatten)]
    limits: Limits,
    #[serde(default)]
    overrides: HashMap<String, Limits>,
}

fn default_key_header() -> String {
    "x-client-id".to_owned()
}

/// How many times a conflicting update is retried before the request is let through.
const CAS_RETRIES: usize = 8;

struct LimitRoot {
    config: Option<Rc<Config>>,
}

impl Context for LimitRoot {}

impl RootContext for LimitRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(err) => {
                log::error!("rate-limit: invalid plugin configuration: {err}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(LimitStream {
            config: Rc::clone(self.config.as_ref()?),
        }))
    }
}

struct LimitStream {
    config: Rc<Config>,
}

/// A bucket as stored in shared data: tokens (in thousandths) and the last refill time (ns).
fn decode(bytes: &[u8]) -> Option<(u64, u64)> {
    let tokens = u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?);
    let at = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    Some((tokens, at))
}

fn encode(tokens: u64, at: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&tokens.to_le_bytes());
    out[8..].copy_from_slice(&at.to_le_bytes());
    out
}

impl LimitStream {
    /// Takes one token; returns the tokens left, or `None` when the bucket is empty.
    fn take(&self, client: &str, now_ns: u64) -> Option<u64> {
        let limits = self
            .config
            .overrides
            .get(client)
            .copied()
            .unwrap_or(self.config.limits);
        let key = format!("rate-limit:{client}");
        let capacity = limits.capacity.saturating_mul(1000);
        for _ in 0..CAS_RETRIES {
            let (stored, cas) = self.get_shared_data(&key);
            let (tokens, at) = stored
                .as_deref()
                .and_then(decode)
                .unwrap_or((capacity, now_ns));
            let elapsed_ns = now_ns.saturating_sub(at);
            let refill = (elapsed_ns as u128 * limits.refill_per_second as u128 / 1_000_000) as u64;
            let tokens = tokens.saturating_add(refill).min(capacity);
            if tokens < 1000 {
                return None;
            }
            let left = tokens - 1000;
            match self.set_shared_data(&key, Some(&encode(left, now_ns)), cas) {
                Ok(()) => return Some(left / 1000),
                Err(Status::CasMismatch) => continue,
                Err(_) => return Some(left / 1000),
            }
        }
        // Too much contention: fail open, as proxies usually do for rate limits.
        Some(0)
    }
}

impl Context for LimitStream {}

impl HttpContext for LimitStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let client = self
            .get_http_request_header(&self.config.key_header)
            .unwrap_or_else(|| "anonymous".to_owned());
        let now_ns = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        match self.take(&client, now_ns) {
            Some(left) => {
                self.set_http_request_header("x-ratelimit-remaining", Some(&left.to_string()));
                Action::Continue
            }
            None => {
                self.send_http_response(
                    429,
                    vec![("retry-after", "1")],
                    Some(b"too many requests\n"),
                );
                Action::Pause
            }
        }
    }
}
