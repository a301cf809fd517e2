//! `network-probe`: a test filter for the workloads that are not HTTP requests. Not part of the
//! benchmark catalog.
//!
//! - `{"mode": "tcp"}`: a network filter. It upper-cases the data the client sends, counts the
//!   bytes each way (`downstream_bytes`, `upstream_bytes`) and the connections (`connections`),
//!   and logs each data callback and how each side closed.
//! - `{"mode": "root"}`: a root-only plugin (no HTTP or TCP context). It registers the shared
//!   queue `events` and a 1000 ms tick; each tick counts in `ticks`, each queue item in
//!   `events` (and its bytes in `event_bytes`).

use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType, PeerType};
use serde::Deserialize;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(ProbeRoot { tcp: false, counters: Counters::default(), queue: 0 })
    });
}}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: String,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    connections: u32,
    downstream: u32,
    upstream: u32,
    ticks: u32,
    events: u32,
    event_bytes: u32,
}

fn add(id: u32, n: usize) {
    let _ = proxy_wasm::hostcalls::increment_metric(id, n as i64);
}

struct ProbeRoot {
    tcp: bool,
    counters: Counters,
    queue: u32,
}

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let config = match serde_json::from_slice::<Config>(&bytes) {
            Ok(config) => config,
            Err(err) => {
                log::error!("network-probe: invalid plugin configuration: {err}");
                return false;
            }
        };
        let define = |name| {
            proxy_wasm::hostcalls::define_metric(MetricType::Counter, name).unwrap_or_default()
        };
        self.counters = Counters {
            connections: define("connections"),
            downstream: define("downstream_bytes"),
            upstream: define("upstream_bytes"),
            ticks: define("ticks"),
            events: define("events"),
            event_bytes: define("event_bytes"),
        };
        match config.mode.as_str() {
            "tcp" => self.tcp = true,
            "root" => {
                self.queue = self.register_shared_queue("events");
                self.set_tick_period(Duration::from_millis(1000));
            }
            other => {
                log::error!("network-probe: mode must be tcp or root, not {other}");
                return false;
            }
        }
        true
    }

    fn on_tick(&mut self) {
        add(self.counters.ticks, 1);
        log::info!("network-probe: tick");
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(item)) = self.dequeue_shared_queue(queue_id) {
            add(self.counters.events, 1);
            add(self.counters.event_bytes, item.len());
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        self.tcp.then_some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        add(self.counters.connections, 1);
        Some(Box::new(ProbeConnection {
            counters: self.counters,
        }))
    }
}

struct ProbeConnection {
    counters: Counters,
}

impl Context for ProbeConnection {}

impl StreamContext for ProbeConnection {
    fn on_downstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        log::info!(
            "network-probe: downstream data {data_size} bytes, end of stream {end_of_stream}"
        );
        add(self.counters.downstream, data_size);
        if let Some(data) = self.get_downstream_data(0, data_size) {
            self.set_downstream_data(0, data_size, &data.to_ascii_uppercase());
        }
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        log::info!("network-probe: upstream data {data_size} bytes, end of stream {end_of_stream}");
        add(self.counters.upstream, data_size);
        Action::Continue
    }

    fn on_downstream_close(&mut self, peer_type: PeerType) {
        log::info!("network-probe: downstream closed by {peer_type:?}");
    }

    fn on_upstream_close(&mut self, peer_type: PeerType) {
        log::info!("network-probe: upstream closed by {peer_type:?}");
    }
}
