//! Records of load runs through a real Envoy (written by `filterbench envoy`) and their
//! summary: one [`EnvoyRun`] per (filter, variant, round), summarized per (filter, variant) as
//! medians with their spread over rounds. Rounds are the unit: each variant of a filter runs
//! once per round, in a fresh random order, so drift hits every variant alike.

/// What a "request" is for a network (TCP) filter; its variants' descriptions end with it, so
/// readers of the records and the report can tell.
pub const TCP_UNIT: &str =
    "a request is one TCP connection (connect, send, end the client's side, read to the end)";

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::envoy_variants::{BASELINE, variant_rank};

/// A round whose baseline CPU per request is further than this fraction from the median
/// baseline of its filter is flagged as drifted.
pub const DRIFT_TOLERANCE: f64 = 0.10;

/// An open-loop run whose achieved rate fell more than this fraction below its target was
/// overloaded: its "latency" is a backlog growing for the whole run, not a latency.
pub const OVERLOAD_TOLERANCE: f64 = 0.02;

/// Everything one `filterbench envoy` run produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvoyResults {
    /// How the load was generated.
    pub settings: EnvoySettings,
    /// One entry per (filter, variant, round), in the order they ran.
    pub runs: Vec<EnvoyRun>,
    /// Per (filter, variant): medians and spread over rounds.
    #[serde(default)]
    pub summary: Vec<EnvoySummary>,
    /// Instructions per request under callgrind (`--measure instructions`), one entry per
    /// (filter, variant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instructions: Vec<EnvoyInstructions>,
    /// Worker CPU per request at a fixed rate, paired in time (`--measure cpu`), one entry per
    /// filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<crate::envoy_cpu::EnvoyCpu>,
    /// Memory and instructions per request against the number of workers or plugins
    /// (`--concurrency`, `--plugins`), one entry per (sweep, N, filter, variant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<SweepPoint>,
}

/// One point of a sweep: Envoy with `n` workers (`concurrency`), the filter `n` times in one
/// chain (`chain`), or `n` listeners each with its own copy of the filter (`listeners`); every
/// Wasm copy has its own VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SweepPoint {
    /// `concurrency`, `chain` or `listeners`.
    pub sweep: String,
    /// Workers, copies in the chain, or listeners.
    pub n: u32,
    /// Bench filter name.
    pub filter: String,
    /// Variant name.
    pub variant: String,
    /// What ran.
    pub description: String,
    /// Why the point was not measured.
    pub error: Option<String>,
    /// Envoy's resident set once ready, bytes.
    pub rss_idle_bytes: Option<u64>,
    /// Resident set after load on every worker and listener, bytes.
    pub rss_warm_bytes: Option<u64>,
    /// Peak resident set (`VmHWM`) by then, bytes.
    pub rss_peak_bytes: Option<u64>,
    /// Wasm VMs Envoy reports active (`wasm.envoy.wasm.runtime.v8.active`).
    pub wasm_vms: Option<u64>,
    /// Instructions per request of each counted burst under callgrind (empty when not counted).
    pub instructions_per_request: Vec<f64>,
    /// Median of `instructions_per_request`.
    pub instructions_median: Option<f64>,
    /// (largest − smallest) ÷ median of the bursts.
    pub instructions_spread: Option<f64>,
    /// Why instructions could not be counted.
    pub instructions_error: Option<String>,
}

impl SweepPoint {
    /// Fills `instructions_median` and `instructions_spread` from the bursts.
    pub fn summarize(&mut self) {
        let spread = Spread::of(&self.instructions_per_request);
        self.instructions_median = spread.map(|s| s.median);
        self.instructions_spread = spread.map(|s| s.relative_range());
    }
}

/// Instructions Envoy executes per request for one variant of one filter, counted under
/// valgrind's callgrind: the same count on a busy or a quiet machine. Each burst is a fixed
/// number of requests on one keep-alive connection after a warm-up; what Envoy executes while
/// idle (timers, stats flushes), measured over an equal idle interval right after, is
/// subtracted pro rata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvoyInstructions {
    /// Bench filter name.
    pub filter: String,
    /// `none`, `v8`, `native`, `builtin` or `lua`.
    pub variant: String,
    /// What the variant is, in Envoy's terms.
    pub description: String,
    /// Why it was not counted (Envoy refused to start under valgrind, conformance, ...).
    pub error: Option<String>,
    /// Instructions per request of each burst, idle subtracted.
    pub per_request: Vec<f64>,
    /// Requests Envoy completed in each burst.
    pub requests: Vec<u64>,
    /// Instructions per second while idle (median over the idle intervals).
    pub idle_per_second: Option<f64>,
    /// Median of `per_request`.
    pub median: Option<f64>,
    /// (largest − smallest) ÷ median of `per_request`: how deterministic the count is.
    pub spread: Option<f64>,
    /// `median` minus the baseline's (no filter) median: the filter's instructions per request.
    pub over_baseline: Option<f64>,
    /// `median` ÷ the baseline's median.
    pub ratio_to_baseline: Option<f64>,
    /// Instructions per request in code callgrind cannot tie to a file: JIT-compiled code (V8's
    /// compiled Wasm and wrappers, LuaJIT's traces) — and, in the PyPI Envoy build, about 15%
    /// of Envoy's own code, which is why the baseline has some too.
    pub anonymous_code_per_request: Option<f64>,
    /// Instructions per request in the dynamic module's shared library (native variant).
    pub module_per_request: Option<f64>,
    /// Share of the instructions in the filter's own code, where callgrind can tell: for V8
    /// and Lua the anonymous code beyond the baseline's, for native the module's library. Null
    /// for the baseline and built-in filters (compiled into Envoy, not told apart).
    pub filter_code_share: Option<f64>,
    /// What `filter_code_share` covers (e.g. `JIT code`, `libfilterbench_headers_bridge.so`).
    pub filter_code: Option<String>,
}

/// Fills the derived fields of instruction counts: median and spread per entry, and the
/// difference and ratio to the baseline of the same filter.
pub fn summarize_instructions(entries: &mut [EnvoyInstructions]) {
    for e in entries.iter_mut() {
        let spread = Spread::of(&e.per_request);
        e.median = spread.map(|s| s.median);
        e.spread = spread.map(|s| s.relative_range());
    }
    let baselines: BTreeMap<String, f64> = entries
        .iter()
        .filter(|e| e.variant == BASELINE)
        .filter_map(|e| Some((e.filter.clone(), e.median?)))
        .collect();
    let anonymous: BTreeMap<String, f64> = entries
        .iter()
        .filter(|e| e.variant == BASELINE)
        .filter_map(|e| Some((e.filter.clone(), e.anonymous_code_per_request?)))
        .collect();
    for e in entries.iter_mut() {
        let base = baselines.get(&e.filter).copied();
        let (over, ratio) = match (e.median, base) {
            (Some(m), Some(b)) if e.variant != BASELINE && b > 0.0 => (Some(m - b), Some(m / b)),
            _ => (None, None),
        };
        e.over_baseline = over;
        e.ratio_to_baseline = ratio;
        let own = match e.variant.as_str() {
            "v8" | "lua" => e
                .anonymous_code_per_request
                .zip(anonymous.get(&e.filter).copied())
                .map(|(a, b)| (a - b).max(0.0)),
            "native" => e.module_per_request,
            _ => None,
        };
        e.filter_code_share = own
            .zip(e.median)
            .filter(|(_, m)| *m > 0.0)
            .map(|(own, m)| (own / m * 1e4).round() / 1e4);
    }
}

/// Settings of an Envoy run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvoySettings {
    /// Envoy version string (`envoy --version`).
    pub envoy_version: String,
    /// Closed-loop (max throughput) run length per variant, seconds.
    pub duration_s: f64,
    /// Warm-up before each variant's measurements, seconds.
    pub warmup_s: f64,
    /// Open-loop target rate for every variant, requests/second.
    pub rate_rps: f64,
    /// How the rate was chosen: `auto` (`auto_fraction` of the baseline's max throughput) or
    /// `fixed`.
    pub rate_source: String,
    /// With `auto`: the fraction of the baseline's max throughput taken as the rate (absent in
    /// files written before it was recorded, which took one half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_fraction: Option<f64>,
    /// Rounds (every variant of every filter once per round).
    pub rounds: u32,
    /// Concurrent connections of the load generators.
    pub connections: u32,
    /// `direct` (Envoy answers itself: pure filter cost) or `server` (a real upstream).
    pub upstream: String,
    /// CPU Envoy was pinned to (null when not pinned).
    pub envoy_cpu: Option<u32>,
    /// CPU the load generators and the upstream were pinned to (null when not pinned).
    pub load_cpu: Option<u32>,
    /// Envoy worker threads (`--concurrency`).
    pub concurrency: u32,
}

/// One variant of one filter, measured once (one round).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvoyRun {
    /// Bench filter name.
    pub filter: String,
    /// `none`, `v8`, `builtin`, `lua` (or `native` when available).
    pub variant: String,
    /// Round number, from 0.
    pub round: u32,
    /// What the variant is, in Envoy's terms (filters used).
    pub description: String,
    /// Whether every conformance request through Envoy showed the filter's expected effects.
    pub conformant: bool,
    /// Why the variant was not measured (conformance failure, Envoy refused the config, ...).
    pub error: Option<String>,
    /// Start of Envoy to `/ready` answering `LIVE`, milliseconds.
    pub ready_ms: Option<f64>,
    /// Closed-loop maximum throughput (wrk).
    pub throughput: Option<LoadResult>,
    /// Open-loop latency at the fixed rate (oha, coordinated-omission corrected).
    pub fixed_rate: Option<LoadResult>,
    /// Envoy's resident set once ready and idle, bytes.
    pub rss_idle_bytes: Option<u64>,
    /// Envoy's peak resident set over the whole run (VmHWM), bytes.
    pub rss_peak_bytes: Option<u64>,
    /// Envoy's `wasm.*` statistics at the end of the run (VM counts, reloads).
    #[serde(default)]
    pub wasm_stats: BTreeMap<String, u64>,
    /// Set by the summary: this round's baseline drifted by more than [`DRIFT_TOLERANCE`].
    #[serde(default)]
    pub baseline_drifted: bool,
}

/// One load-generator run against Envoy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadResult {
    /// `wrk` or `oha`.
    pub tool: String,
    /// Target rate (open loop), requests/second; null for closed loop.
    pub target_rps: Option<f64>,
    /// Completed requests per second.
    pub achieved_rps: f64,
    /// Completed requests (any status).
    pub requests: u64,
    /// Length of the run, seconds.
    pub duration_s: f64,
    /// Connection/read/write/timeout errors.
    pub errors: u64,
    /// Responses whose status was not 2xx.
    pub non_2xx: u64,
    /// Envoy's CPU time (user + system, all threads) over the run divided by the requests
    /// Envoy completed, microseconds per request.
    pub cpu_us_per_request: Option<f64>,
    /// Latency percentiles, milliseconds (oha: measured from the scheduled send time).
    pub latency_ms: Vec<Percentile>,
}

/// One point of a latency distribution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentile {
    /// Percentile, 0–100 (e.g. 99.9).
    pub percentile: f64,
    /// Latency, milliseconds.
    pub ms: f64,
}

impl LoadResult {
    /// Whether this open-loop run fell more than [`OVERLOAD_TOLERANCE`] below its target rate.
    pub fn is_overloaded(&self) -> bool {
        self.target_rps.is_some_and(|target| {
            target > 0.0 && self.achieved_rps < target * (1.0 - OVERLOAD_TOLERANCE)
        })
    }

    /// Latency at `percentile` (exact match within 1e-9), milliseconds.
    pub fn latency(&self, percentile: f64) -> Option<f64> {
        self.latency_ms
            .iter()
            .find(|p| (p.percentile - percentile).abs() < 1e-9)
            .map(|p| p.ms)
    }
}

/// Median and range of one quantity over rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spread {
    /// Median over rounds.
    pub median: f64,
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
    /// Rounds that gave a value.
    pub n: usize,
}

impl Spread {
    /// Median and range of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Self {
            median: crate::stats::median(&v),
            min: v[0],
            max: v[v.len() - 1],
            n: v.len(),
        })
    }

    /// Confidence that [min, max] of `n` independent rounds contains the median of what they
    /// sample: 1 − 2 × 0.5ⁿ (distribution-free; 75% for 3 rounds, 94% for 5, 97% for 6).
    pub fn coverage(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            1.0 - 2.0 * 0.5f64.powi(self.n as i32)
        }
    }

    /// Whether [min, max] lies wholly above (`Some(true)`) or below (`Some(false)`) `value`.
    pub fn excludes(&self, value: f64) -> Option<bool> {
        if self.n < 2 {
            None
        } else if self.min > value {
            Some(true)
        } else if self.max < value {
            Some(false)
        } else {
            None
        }
    }

    /// (max − min) / median: how far apart the rounds were.
    pub fn relative_range(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median.abs()
        }
    }
}

/// One variant of one filter over all rounds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnvoySummary {
    /// Bench filter name.
    pub filter: String,
    /// Variant name.
    pub variant: String,
    /// What the variant is.
    pub description: String,
    /// Rounds measured.
    pub rounds: usize,
    /// Closed-loop max throughput, requests/second.
    pub max_rps: Option<Spread>,
    /// Max throughput ÷ the same round's baseline (per-round paired ratios).
    #[serde(default)]
    pub max_rps_ratio: Option<Spread>,
    /// Envoy CPU per request at max throughput, µs.
    pub cpu_us_per_request: Option<Spread>,
    /// Envoy CPU per request at max throughput minus the same round's baseline, µs.
    pub cpu_over_baseline_us: Option<Spread>,
    /// Envoy CPU per request at the fixed rate, µs.
    pub cpu_us_per_request_fixed: Option<Spread>,
    /// Achieved rate of the open-loop run, requests/second.
    pub achieved_rps: Option<Spread>,
    /// Latency percentiles at the fixed rate (median over rounds of each percentile), ms;
    /// overloaded rounds left out.
    pub latency_ms: Vec<(f64, Spread)>,
    /// Rounds whose open-loop run was overloaded (achieved rate more than 2% below target):
    /// their latency is not a latency and is left out.
    #[serde(default)]
    pub overloaded_rounds: usize,
    /// Envoy RSS once ready, bytes.
    pub rss_idle_bytes: Option<Spread>,
    /// Envoy peak RSS, bytes.
    pub rss_peak_bytes: Option<Spread>,
    /// Rounds of this filter whose baseline drifted.
    pub drifted_rounds: usize,
    /// Errors seen (first per distinct message).
    #[serde(default)]
    pub errors: Vec<String>,
}

/// What a reader must know about a summary row: its first error, negative filter cost (a
/// measurement failure), overloaded rounds (latency left out), drifted baselines.
pub fn summary_note(s: &EnvoySummary) -> String {
    if let Some(e) = s.errors.first() {
        return e.clone();
    }
    let mut notes = Vec::new();
    if s.cpu_over_baseline_us.is_some_and(|o| o.median < 0.0) {
        notes.push("negative cost over no filter: a measurement failure".to_owned());
    }
    if s.overloaded_rounds > 0 {
        notes.push(format!(
            "{} overloaded round(s): rate missed by >2%, latency left out",
            s.overloaded_rounds
        ));
    }
    if s.drifted_rounds > 0 {
        notes.push(format!(
            "{} round(s) with a drifted baseline",
            s.drifted_rounds
        ));
    }
    notes.join("; ")
}

impl EnvoySummary {
    /// Latency at `percentile` at the fixed rate, ms.
    pub fn latency(&self, percentile: f64) -> Option<Spread> {
        self.latency_ms
            .iter()
            .find(|(p, _)| (p - percentile).abs() < 1e-9)
            .map(|(_, s)| *s)
    }
}

fn cpu_at_max(run: &EnvoyRun) -> Option<f64> {
    run.throughput.as_ref()?.cpu_us_per_request
}

/// Flags drifted baseline rounds in `runs` and summarizes them per (filter, variant): filters in
/// catalog order (others after, as first seen), variants in [`variant_rank`] order.
pub fn summarize(runs: &mut [EnvoyRun]) -> Vec<EnvoySummary> {
    flag_drift(runs);
    let mut filters: Vec<String> = Vec::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    for run in runs.iter() {
        if !filters.contains(&run.filter) {
            filters.push(run.filter.clone());
        }
        let key = (run.filter.clone(), run.variant.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let catalog: Vec<&str> = filterbench_catalog::catalog::filters()
        .iter()
        .map(|f| f.name)
        .collect();
    keys.sort_by_key(|(f, v)| {
        (
            catalog.iter().position(|x| x == f).unwrap_or(usize::MAX),
            filters.iter().position(|x| x == f),
            variant_rank(v),
            v.clone(),
        )
    });
    keys.iter()
        .map(|(filter, variant)| summarize_variant(runs, filter, variant))
        .collect()
}

fn flag_drift(runs: &mut [EnvoyRun]) {
    let filters: Vec<String> = runs.iter().map(|r| r.filter.clone()).collect();
    for filter in filters {
        let baselines: Vec<f64> = runs
            .iter()
            .filter(|r| r.filter == filter && r.variant == BASELINE)
            .filter_map(cpu_at_max)
            .collect();
        let Some(spread) = Spread::of(&baselines) else {
            continue;
        };
        let drifted: Vec<u32> = runs
            .iter()
            .filter(|r| r.filter == filter && r.variant == BASELINE)
            .filter(|r| {
                cpu_at_max(r).is_some_and(|c| {
                    spread.n >= 3 && (c - spread.median).abs() > DRIFT_TOLERANCE * spread.median
                })
            })
            .map(|r| r.round)
            .collect();
        for run in runs.iter_mut().filter(|r| r.filter == filter) {
            run.baseline_drifted = drifted.contains(&run.round);
        }
    }
}

fn summarize_variant(runs: &[EnvoyRun], filter: &str, variant: &str) -> EnvoySummary {
    let mine: Vec<&EnvoyRun> = runs
        .iter()
        .filter(|r| r.filter == filter && r.variant == variant)
        .collect();
    let measured: Vec<&EnvoyRun> = mine.iter().copied().filter(|r| r.error.is_none()).collect();
    let collect = |f: &dyn Fn(&EnvoyRun) -> Option<f64>| -> Option<Spread> {
        Spread::of(&measured.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
    };
    let paired = |f: &dyn Fn(&EnvoyRun, &EnvoyRun) -> Option<f64>| -> Vec<f64> {
        measured
            .iter()
            .filter_map(|r| {
                let base = runs.iter().find(|b| {
                    b.filter == filter
                        && b.variant == BASELINE
                        && b.round == r.round
                        && b.error.is_none()
                })?;
                f(r, base)
            })
            .collect()
    };
    let over_baseline = paired(&|r, base| Some(cpu_at_max(r)? - cpu_at_max(base)?));
    let rps_ratio = paired(&|r, base| {
        let (a, b) = (r.throughput.as_ref()?, base.throughput.as_ref()?);
        (b.achieved_rps > 0.0).then(|| a.achieved_rps / b.achieved_rps)
    });
    // Latency only from open-loop runs that kept their rate.
    let kept_rate: Vec<&EnvoyRun> = measured
        .iter()
        .copied()
        .filter(|r| r.fixed_rate.as_ref().is_some_and(|l| !l.is_overloaded()))
        .collect();
    let latency_of = |p: f64| {
        Spread::of(
            &kept_rate
                .iter()
                .filter_map(|r| r.fixed_rate.as_ref()?.latency(p))
                .collect::<Vec<_>>(),
        )
    };
    let percentiles: Vec<f64> = kept_rate
        .iter()
        .filter_map(|r| r.fixed_rate.as_ref())
        .flat_map(|l| l.latency_ms.iter().map(|p| p.percentile))
        .fold(Vec::new(), |mut acc, p| {
            if !acc.iter().any(|q: &f64| (q - p).abs() < 1e-9) {
                acc.push(p);
            }
            acc
        });
    let latency_ms = percentiles
        .into_iter()
        .filter_map(|p| latency_of(p).map(|spread| (p, spread)))
        .collect();
    let mut errors: Vec<String> = Vec::new();
    for e in mine.iter().filter_map(|r| r.error.clone()) {
        if !errors.contains(&e) {
            errors.push(e);
        }
    }
    EnvoySummary {
        filter: filter.to_owned(),
        variant: variant.to_owned(),
        description: mine
            .first()
            .map(|r| r.description.clone())
            .unwrap_or_default(),
        rounds: measured.len(),
        max_rps: collect(&|r| Some(r.throughput.as_ref()?.achieved_rps)),
        max_rps_ratio: if variant == BASELINE {
            None
        } else {
            Spread::of(&rps_ratio)
        },
        cpu_us_per_request: collect(&cpu_at_max),
        cpu_over_baseline_us: if variant == BASELINE {
            None
        } else {
            Spread::of(&over_baseline)
        },
        cpu_us_per_request_fixed: collect(&|r| r.fixed_rate.as_ref()?.cpu_us_per_request),
        achieved_rps: collect(&|r| Some(r.fixed_rate.as_ref()?.achieved_rps)),
        latency_ms,
        overloaded_rounds: measured
            .iter()
            .filter(|r| r.fixed_rate.as_ref().is_some_and(LoadResult::is_overloaded))
            .count(),
        rss_idle_bytes: collect(&|r| r.rss_idle_bytes.map(|b| b as f64)),
        rss_peak_bytes: collect(&|r| r.rss_peak_bytes.map(|b| b as f64)),
        drifted_rounds: mine.iter().filter(|r| r.baseline_drifted).count(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(variant: &str, round: u32, cpu: f64, rps: f64) -> EnvoyRun {
        EnvoyRun {
            filter: "headers".into(),
            variant: variant.into(),
            round,
            conformant: true,
            throughput: Some(LoadResult {
                tool: "wrk".into(),
                achieved_rps: rps,
                cpu_us_per_request: Some(cpu),
                ..LoadResult::default()
            }),
            fixed_rate: Some(LoadResult {
                tool: "oha".into(),
                achieved_rps: rps / 2.0,
                latency_ms: vec![Percentile {
                    percentile: 99.0,
                    ms: cpu / 10.0,
                }],
                ..LoadResult::default()
            }),
            ..EnvoyRun::default()
        }
    }

    #[test]
    fn cpu_over_baseline_pairs_rounds_and_drift_is_flagged() {
        let mut runs = vec![
            run("none", 0, 20.0, 40_000.0),
            run("v8", 0, 30.0, 30_000.0),
            run("none", 1, 21.0, 41_000.0),
            run("v8", 1, 32.0, 29_000.0),
            // round 2: the whole machine slowed down; the baseline shows it
            run("none", 2, 40.0, 20_000.0),
            run("v8", 2, 50.0, 15_000.0),
        ];
        let summary = summarize(&mut runs);
        assert_eq!(summary.len(), 2);
        let v8 = &summary[1];
        assert_eq!(v8.variant, "v8");
        let over = v8.cpu_over_baseline_us.unwrap();
        // pairs: 10, 11, 10 -> median 10 even though round 2 was twice as slow
        assert_eq!(over.median, 10.0);
        assert_eq!((over.min, over.max, over.n), (10.0, 11.0, 3));
        assert_eq!(v8.drifted_rounds, 1);
        assert!(
            runs.iter()
                .filter(|r| r.round == 2)
                .all(|r| r.baseline_drifted)
        );
        assert!(
            runs.iter()
                .filter(|r| r.round != 2)
                .all(|r| !r.baseline_drifted)
        );
        assert!(summary[0].cpu_over_baseline_us.is_none());
        assert!(summary[0].max_rps_ratio.is_none());
        // Throughput ratios per round: 0.75, 29/41, 0.75.
        let ratio = v8.max_rps_ratio.unwrap();
        assert_eq!((ratio.median, ratio.max, ratio.n), (0.75, 0.75, 3));
        assert_eq!(ratio.excludes(1.0), Some(false));
        assert_eq!(over.excludes(0.0), Some(true));
        assert_eq!(over.coverage(), 0.75);
        assert_eq!(v8.latency(99.0).unwrap().median, 3.2);
    }

    #[test]
    fn overloaded_open_loop_runs_are_counted_and_left_out_of_latency() {
        let mut runs = vec![
            run("none", 0, 20.0, 40_000.0),
            run("v8", 0, 30.0, 30_000.0),
            run("v8", 1, 90.0, 30_000.0),
        ];
        for r in &mut runs {
            let fixed = r.fixed_rate.as_mut().unwrap();
            fixed.target_rps = Some(15_000.0);
        }
        // Round 1 of v8 reached 13,000 of 15,000 req/s: a backlog, not a latency.
        runs[2].fixed_rate.as_mut().unwrap().achieved_rps = 13_000.0;
        assert!(runs[2].fixed_rate.as_ref().unwrap().is_overloaded());
        // 1.5% short is within the tolerance.
        runs[1].fixed_rate.as_mut().unwrap().achieved_rps = 14_780.0;
        assert!(!runs[1].fixed_rate.as_ref().unwrap().is_overloaded());
        let summary = summarize(&mut runs);
        let v8 = &summary[1];
        assert_eq!(v8.overloaded_rounds, 1);
        let p99 = v8.latency(99.0).unwrap();
        assert_eq!(
            (p99.median, p99.n),
            (3.0, 1),
            "only the round that kept its rate"
        );
        assert_eq!(summary[0].overloaded_rounds, 0);
        assert!(
            summary_note(v8).contains("1 overloaded round(s)"),
            "{}",
            summary_note(v8)
        );
        assert_eq!(summary_note(&summary[0]), "");
    }

    #[test]
    fn failed_runs_are_not_measured_but_their_errors_are_kept() {
        let mut runs = vec![run("none", 0, 20.0, 40_000.0), run("lua", 0, 25.0, 1.0)];
        runs[1].error = Some("conformance: x-fb-tenant missing".into());
        let summary = summarize(&mut runs);
        assert_eq!(summary[1].rounds, 0);
        assert!(summary[1].max_rps.is_none());
        assert_eq!(summary[1].errors, vec!["conformance: x-fb-tenant missing"]);
    }
}
