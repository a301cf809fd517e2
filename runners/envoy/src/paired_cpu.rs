//! Envoy's CPU time per request at a fixed rate, paired in time (see
//! [`filterbench_harness::envoy_cpu`]): one Envoy per filter with every variant on its own
//! listener, one worker thread serving them all; rounds of one slice per variant in a fresh
//! random order, the worker's on-CPU time read from `/proc` around each slice. The load runs
//! on its own thread pinned to the load CPU.

use crate::config::{self, Variant};
use crate::conformance;
use crate::cpu;
use crate::load::LoadRequest;
use crate::paced::{PacedConnection, PacedRun};
use crate::process::EnvoyProcess;
use crate::runner::{self, RunError, Settings};
use crate::tcp::PacedTcp;
use crate::user_spec;
use filterbench_harness::catalog::FilterSpec;
use filterbench_harness::envoy_cpu::{self, CpuSlice, EnvoyCpu};
use rand::seq::SliceRandom;
use std::time::Duration;

/// Name of Envoy's (only, with `--concurrency 1`) worker thread.
pub const WORKER_THREAD: &str = "wrk:worker_0";

/// How the slices are made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuSettings {
    /// Requests per second within a slice; `None`: chosen per filter (see [`auto_rate`]).
    pub rate: Option<f64>,
    /// Length of a slice.
    pub slice: Duration,
    /// Rounds (one slice per variant each).
    pub rounds: u32,
    /// Requests sent to each listener, as fast as it answers, before the first round (the
    /// second half of them also measures each variant's CPU per request for [`auto_rate`]).
    pub warmup_requests: u64,
}

impl CpuSettings {
    /// The standard run: 40 rounds of 0.25 s slices (10 s per variant), rate chosen per filter.
    pub const STANDARD: Self = Self {
        rate: None,
        slice: Duration::from_millis(250),
        rounds: 40,
        warmup_requests: 2000,
    };

    /// `--quick`: 10 rounds of 0.25 s slices.
    pub const QUICK: Self = Self {
        rate: None,
        slice: Duration::from_millis(250),
        rounds: 10,
        warmup_requests: 1000,
    };
}

/// The highest rate any filter is measured at, requests/second.
pub const MAX_RATE: f64 = 10_000.0;

/// The rate for a filter whose slowest variant took `slowest_us` of worker CPU per request in
/// the warm-up: half of that variant's capacity (its worker half idle, so no slice queues),
/// at most [`MAX_RATE`], rounded down to a multiple of 500 (at least 500).
pub fn auto_rate(slowest_us: f64) -> f64 {
    let half_capacity = 0.5 * 1e6 / slowest_us.max(1e-3);
    ((half_capacity.min(MAX_RATE) / 500.0).floor() * 500.0).max(500.0)
}

/// Measures every filter of the matrix, one Envoy each. `on_progress` gets the filter's record
/// so far after every slice, with the number of slices done and in all; a filter that fails
/// keeps its slices and says why in `error`.
pub fn measure(
    settings: &Settings,
    cpu_settings: &CpuSettings,
    on_progress: impl FnMut(&EnvoyCpu, usize, usize) + Send,
) -> Result<Vec<EnvoyCpu>, RunError> {
    let (placement, upstreams) = runner::prepare(settings)?;
    let endpoints = upstreams.endpoints(settings);
    let upstreams = &upstreams;
    let total: usize = settings
        .matrix
        .iter()
        .map(|(_, v)| v.len() * cpu_settings.rounds as usize)
        .sum();
    // The load (and so this whole loop) runs on the load CPU.
    Ok(std::thread::scope(|scope| {
        scope
            .spawn(move || {
                cpu::pin_thread(placement.load);
                let mut on_progress = on_progress;
                let mut done = 0;
                let mut records = Vec::new();
                for (filter, variants) in &settings.matrix {
                    let mut record = EnvoyCpu {
                        filter: filter.name.to_owned(),
                        rounds: cpu_settings.rounds,
                        ..EnvoyCpu::default()
                    };
                    let mut progress = |r: &EnvoyCpu| {
                        done += 1;
                        on_progress(r, done, total);
                    };
                    if let Err(e) = measure_filter(
                        settings,
                        cpu_settings,
                        &endpoints,
                        upstreams,
                        placement.envoy,
                        filter,
                        variants,
                        &mut record,
                        &mut progress,
                    ) {
                        record.error = Some(e);
                    }
                    envoy_cpu::summarize(&mut record);
                    records.push(record);
                }
                records
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }))
}

/// What a slice sends: HTTP requests, or TCP connections for a network filter.
enum Load {
    Http(LoadRequest),
    Tcp(filterbench_host::TcpExchange),
}

/// A paced sender of a [`Load`]: one keep-alive HTTP connection, or one TCP connection per
/// unit (a "request" of a slice is then a connection).
enum Paced {
    Http(PacedConnection),
    Tcp(PacedTcp),
}

impl Paced {
    fn open(target: std::net::SocketAddr, load: &Load) -> std::io::Result<Self> {
        Ok(match load {
            Load::Http(request) => Paced::Http(PacedConnection::open(target, request)?),
            Load::Tcp(exchange) => Paced::Tcp(PacedTcp::open(target, exchange)?),
        })
    }

    fn run(&mut self, rate: f64, count: u64) -> std::io::Result<PacedRun> {
        match self {
            Paced::Http(c) => c.run(rate, count),
            Paced::Tcp(c) => c.run(rate, count),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn measure_filter(
    settings: &Settings,
    cpu_settings: &CpuSettings,
    endpoints: &config::Endpoints,
    upstreams: &runner::Upstreams,
    envoy_cpu: Option<u32>,
    filter: &FilterSpec,
    variants: &[Variant],
    record: &mut EnvoyCpu,
    progress: &mut dyn FnMut(&EnvoyCpu),
) -> Result<(), String> {
    let mut chains = Vec::new();
    for &variant in variants {
        let artifact = runner::artifact_for(filter, variant).map_err(|e| e.to_string())?;
        let chain = config::filter_chain(filter, variant, &artifact).map_err(|e| e.to_string())?;
        record
            .descriptions
            .push((variant.name().to_owned(), chain.description.clone()));
        chains.push((variant.name(), chain));
    }
    let named: Vec<(&str, &config::FilterChain)> = chains.iter().map(|(n, c)| (*n, c)).collect();
    let envoy = EnvoyProcess::start_logging(
        &settings.programs.envoy,
        &config::bootstrap_listeners(&named, endpoints),
        &settings.work_dir.join(format!("{}-cpu", filter.name)),
        envoy_cpu,
        runner::wasm_log_level(filter),
    )
    .map_err(|e| format!("{}: {e}", filter.name))?;
    let worker = match cpu::threads_named(envoy.pid(), WORKER_THREAD) {
        Ok(ids) if ids.len() == 1 => ids[0],
        Ok(ids) => {
            return Err(format!(
                "expected one Envoy worker thread named {WORKER_THREAD}, found {}",
                ids.len()
            ));
        }
        Err(e) => return Err(format!("cannot list Envoy's threads: {e}")),
    };
    let load = match user_spec::tcp_load(filter) {
        Some(exchange) => Load::Tcp(exchange),
        None => Load::Http(
            conformance::load_request(filter)
                .ok_or_else(|| format!("filter {} has no workload to send", filter.name))?,
        ),
    };
    let pid = envoy.pid();
    let worker_ns = || cpu::thread_cpu_ns(pid, worker).map_err(|e| e.to_string());
    let mut connections = Vec::new();
    let mut slowest_us: f64 = 0.0;
    for &variant in variants {
        let addr = envoy
            .listener_named(variant.name())
            .ok_or_else(|| format!("Envoy has no listener {}", variant.name()))?;
        conformance::check(filter, &upstreams.probe(&envoy, addr, variant))
            .map_err(|e| format!("{} not conformant through Envoy: {e}", variant.name()))?;
        let mut connection = Paced::open(addr, &load)
            .map_err(|e| format!("{}: cannot connect: {e}", variant.name()))?;
        let half = cpu_settings.warmup_requests.div_ceil(2).max(1);
        let mut warm = |n: u64| {
            connection
                .run(f64::MAX, n)
                .map_err(|e| format!("{} warm-up: {e}", variant.name()))
        };
        warm(half)?;
        let before = worker_ns()?;
        warm(half)?;
        slowest_us = slowest_us.max((worker_ns()? - before) as f64 / 1e3 / half as f64);
        connections.push((variant, connection));
    }
    let (rate, source) = match cpu_settings.rate {
        Some(rate) => (rate, "fixed"),
        None => (auto_rate(slowest_us), "auto"),
    };
    record.rate_rps = rate;
    record.rate_source = source.to_owned();
    record.requests_per_slice = (rate * cpu_settings.slice.as_secs_f64()).round().max(1.0) as u64;
    let mut rng = rand::rng();
    for round in 0..cpu_settings.rounds {
        connections.shuffle(&mut rng);
        for (variant, connection) in connections.iter_mut() {
            let read = || -> Result<(u64, u64), String> {
                Ok((
                    worker_ns()?,
                    cpu::process_cpu_ns(pid).map_err(|e| e.to_string())?,
                ))
            };
            let (worker_before, process_before) = read()?;
            let run = connection
                .run(rate, record.requests_per_slice)
                .map_err(|e| format!("{} round {}: {e}", variant.name(), round + 1))?;
            let (worker_after, process_after) = read()?;
            record.slices.push(CpuSlice {
                round,
                variant: variant.name().to_owned(),
                requests: run.requests,
                non_2xx: run.non_2xx,
                seconds: run.seconds,
                worker_ns: worker_after.saturating_sub(worker_before),
                process_ns: process_after.saturating_sub(process_before),
            });
            progress(record);
        }
    }
    envoy.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_rate_is_half_the_slowest_capacity_in_steps_of_500() {
        // 40 µs per request: capacity 25,000/s, half 12,500, capped at 10,000.
        assert_eq!(auto_rate(40.0), MAX_RATE);
        // 150 µs: capacity 6,667/s, half 3,333 -> 3,000.
        assert_eq!(auto_rate(150.0), 3000.0);
        // Absurdly slow variants still get some load.
        assert_eq!(auto_rate(5000.0), 500.0);
    }
}
