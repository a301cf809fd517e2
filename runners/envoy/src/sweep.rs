//! Sweeps over what users scale: Envoy's worker count (`--concurrency 1,2,4`: a V8 VM per
//! worker) and the number of plugins (`--plugins 1,2,4,8`: the filter N times in one chain, and
//! N listeners each with its own copy; every Wasm copy gets its own VM). Per point: Envoy's
//! memory once ready, after load on every worker and listener, and at its peak; and, when
//! asked, instructions per request under callgrind.

use crate::config::{self, Endpoints, FilterChain, Variant};
use crate::instructions::{self, CountSettings, CountedEnvoy};
use crate::load::{self, LoadRequest, LoadSpec};
use crate::process::EnvoyProcess;
use crate::runner::{self, RunError, Settings};
use crate::{conformance, cpu};
use filterbench_harness::catalog::FilterSpec;
use filterbench_harness::envoy::SweepPoint;
use serde_json::Value;
use std::time::Duration;

/// What a sweep varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Envoy's worker threads (`--concurrency N`), one listener.
    Concurrency,
    /// The filter N times in one chain (N VMs), one worker.
    Chain,
    /// N listeners each with its own copy of the filter (N VMs), one worker.
    Listeners,
}

impl Sweep {
    /// Name in results and charts.
    pub fn name(self) -> &'static str {
        match self {
            Sweep::Concurrency => "concurrency",
            Sweep::Chain => "chain",
            Sweep::Listeners => "listeners",
        }
    }

    fn workers(self, n: u32) -> u32 {
        match self {
            Sweep::Concurrency => n,
            Sweep::Chain | Sweep::Listeners => 1,
        }
    }

    /// The bootstrap of point `n` for `chain`; listener names in order.
    fn bootstrap(self, chain: &FilterChain, n: u32, endpoints: &Endpoints) -> (Value, Vec<String>) {
        match self {
            Sweep::Concurrency => (
                config::bootstrap(chain, endpoints),
                vec!["ingress".to_owned()],
            ),
            Sweep::Chain => (
                config::bootstrap(&config::repeated(chain, n), endpoints),
                vec!["ingress".to_owned()],
            ),
            Sweep::Listeners => {
                let names: Vec<String> = (0..n.max(1))
                    .map(|i| {
                        if i == 0 {
                            "ingress".to_owned()
                        } else {
                            format!("ingress-{i}")
                        }
                    })
                    .collect();
                let copies: Vec<FilterChain> =
                    (0..n.max(1)).map(|i| config::numbered(chain, i)).collect();
                let listeners: Vec<(&str, &FilterChain)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(copies.iter())
                    .collect();
                (config::bootstrap_listeners(&listeners, endpoints), names)
            }
        }
    }
}

/// Which sweeps to run and how.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSettings {
    /// Each sweep with its points.
    pub sweeps: Vec<(Sweep, Vec<u32>)>,
    /// Load on every listener before memory is read again (wrk, 4 connections per worker).
    pub warmup: Duration,
    /// Instruction counting per point (`None`: memory only).
    pub count: Option<CountSettings>,
}

/// Runs every sweep over every (filter, variant) of the matrix. `on_point` gets each point as
/// it finishes with its 1-based index and the total; a point that fails keeps its error.
pub fn run(
    settings: &Settings,
    sweeps: &SweepSettings,
    mut on_point: impl FnMut(&SweepPoint, usize, usize),
) -> Result<Vec<SweepPoint>, RunError> {
    let (placement, upstreams) = runner::prepare(settings)?;
    let endpoints = upstreams.endpoints(settings);
    // No filter repeated in a chain is still no filter: its first point stands for all.
    let wanted = |sweep: Sweep, variant: Variant, ns: &[u32], n: u32| {
        !(sweep == Sweep::Chain && variant == Variant::None && ns.first() != Some(&n))
    };
    let total: usize = sweeps
        .sweeps
        .iter()
        .map(|(sweep, ns)| {
            settings
                .matrix
                .iter()
                .flat_map(|(_, variants)| variants.iter())
                .map(|&v| ns.iter().filter(|&&n| wanted(*sweep, v, ns, n)).count())
                .sum::<usize>()
        })
        .sum();
    let mut points = Vec::new();
    for (sweep, ns) in &sweeps.sweeps {
        for (filter, variants) in &settings.matrix {
            for &variant in variants {
                for &n in ns.iter().filter(|&&n| wanted(*sweep, variant, ns, n)) {
                    let mut point = SweepPoint {
                        sweep: sweep.name().to_owned(),
                        n,
                        filter: filter.name.to_owned(),
                        variant: variant.name().to_owned(),
                        ..SweepPoint::default()
                    };
                    let context = Point {
                        settings,
                        sweeps,
                        endpoints: &endpoints,
                        placement,
                        filter,
                        variant,
                        sweep: *sweep,
                        n,
                    };
                    if let Err(e) = context.measure(&mut point) {
                        point.error = Some(e);
                    }
                    point.summarize();
                    points.push(point);
                    on_point(points.last().expect("just pushed"), points.len(), total);
                }
            }
        }
    }
    Ok(points)
}

/// One point to measure.
struct Point<'a> {
    settings: &'a Settings,
    sweeps: &'a SweepSettings,
    endpoints: &'a Endpoints,
    placement: cpu::Placement,
    filter: &'a FilterSpec,
    variant: Variant,
    sweep: Sweep,
    n: u32,
}

impl Point<'_> {
    fn dir(&self, what: &str) -> std::path::PathBuf {
        self.settings.work_dir.join(format!(
            "{}-{}-{}{}-{what}",
            self.filter.name,
            self.variant.name(),
            self.sweep.name(),
            self.n
        ))
    }

    fn measure(&self, point: &mut SweepPoint) -> Result<(), String> {
        let artifact =
            runner::artifact_for(self.filter, self.variant).map_err(|e| e.to_string())?;
        let chain = config::filter_chain(self.filter, self.variant, &artifact)
            .map_err(|e| e.to_string())?;
        let (bootstrap, listeners) = self.sweep.bootstrap(&chain, self.n, self.endpoints);
        point.description = match self.sweep {
            Sweep::Concurrency => format!("{}; {} worker(s)", chain.description, self.n),
            Sweep::Chain => config::repeated(&chain, self.n).description,
            Sweep::Listeners => format!("{} on each of {} listener(s)", chain.description, self.n),
        };
        let request = conformance::load_request(self.filter)
            .ok_or_else(|| format!("filter {} has no workload to send", self.filter.name))?;
        self.memory(&bootstrap, &listeners, &request, point)?;
        if let Some(count) = &self.sweeps.count {
            match self.instructions(&bootstrap, &request, count) {
                Ok(bursts) => point.instructions_per_request = bursts,
                Err(e) => point.instructions_error = Some(e),
            }
        }
        Ok(())
    }

    /// Memory once ready, after load on every listener, and at the peak; active Wasm VMs.
    fn memory(
        &self,
        bootstrap: &Value,
        listeners: &[String],
        request: &LoadRequest,
        point: &mut SweepPoint,
    ) -> Result<(), String> {
        let workers = self.sweep.workers(self.n);
        let envoy = EnvoyProcess::start_wrapped(
            &self.settings.programs.envoy,
            bootstrap,
            &self.dir("memory"),
            self.placement.envoy,
            None,
            workers,
            None,
        )
        .map_err(|e| e.to_string())?;
        let rss = || cpu::process_rss(envoy.pid()).map_err(|e| e.to_string());
        point.rss_idle_bytes = Some(rss()?.0);
        let spec = LoadSpec {
            duration: self.sweeps.warmup,
            connections: 4 * workers,
            cpu: self.placement.load,
        };
        for name in listeners {
            let target = envoy
                .listener_named(name)
                .ok_or_else(|| format!("Envoy has no listener {name}"))?;
            let warm = load::wrk(&self.settings.programs.wrk, target, request, &spec)
                .map_err(|e| format!("load on {name}: {e}"))?;
            if warm.requests == 0 || warm.non_2xx > 0 {
                return Err(format!(
                    "load on {name}: {} requests, {} not 2xx",
                    warm.requests, warm.non_2xx
                ));
            }
        }
        let (warm, peak) = rss()?;
        point.rss_warm_bytes = Some(warm);
        point.rss_peak_bytes = Some(peak);
        point.wasm_vms = envoy
            .stats("^wasm\\.envoy\\.wasm\\.runtime\\.v8\\.active$")
            .ok()
            .and_then(|s| s.values().next().copied());
        envoy.stop();
        Ok(())
    }

    /// Instructions per request of each burst under callgrind (requests to the first listener).
    fn instructions(
        &self,
        bootstrap: &Value,
        request: &LoadRequest,
        count: &CountSettings,
    ) -> Result<Vec<f64>, String> {
        let envoy = CountedEnvoy::start(
            &self.settings.programs.envoy,
            bootstrap,
            &self.dir("instructions"),
            self.placement.envoy,
            self.sweep.workers(self.n),
            None,
        )
        .map_err(|e| e.to_string())?;
        let bursts = instructions::count_bursts(
            &envoy,
            &instructions::BurstLoad::Oha {
                program: &self.settings.programs.oha,
                request,
            },
            count,
            self.placement.load,
        )?;
        envoy.stop();
        Ok(bursts
            .iter()
            .map(|b| (b.per_request * 10.0).round() / 10.0)
            .collect())
    }
}
