//! What the charts and tables show, extracted once from a results file.

use filterbench_analysis::analysis;
use filterbench_catalog::catalog::{Language, split_language};
use filterbench_results::results::{Cell, Results};
use filterbench_results::stats::{self, Estimate};

/// One filter's ratio to native on one engine.
#[derive(Clone, Debug)]
pub struct FilterRatio {
    /// Filter name.
    pub filter: String,
    /// Engine name.
    pub engine: String,
    /// Geometric mean over the filter's workloads, with its 95% interval.
    pub ratio: Estimate,
}

/// Start-up figures of one (filter, engine), ns / bytes.
#[derive(Clone, Debug)]
pub struct PhasePoint {
    /// Filter name.
    pub filter: String,
    /// Engine name.
    pub engine: String,
    /// Median compile time, ns.
    pub compile_ns: Option<f64>,
    /// Median load from the serialized artifact, ns.
    pub cache_load_ns: Option<f64>,
    /// Median instantiate + start, ns.
    pub instantiate_ns: Option<f64>,
    /// Median first request, ns.
    pub first_request_ns: Option<f64>,
    /// Median steady-state lifecycle on the filter's first workload, ns.
    pub steady_ns: Option<f64>,
    /// Resident set growth per instance, bytes.
    pub rss_bytes: Option<f64>,
    /// Linear memory per instance, bytes.
    pub linear_bytes: Option<f64>,
}

/// Percentile spectra of one filter and workload, per engine: `[percentile, ns]` points.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Filter name.
    pub filter: String,
    /// Workload name.
    pub workload: String,
    /// (engine, points).
    pub lines: Vec<(String, Vec<[f64; 2]>)>,
}

/// A scaling sweep of one filter: (x, median estimate in ns) per engine.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// `headers` or `body`.
    pub group: String,
    /// Filter name.
    pub filter: String,
    /// Axis label (`header count`, `body size`).
    pub axis: &'static str,
    /// `count` or `bytes`.
    pub unit: &'static str,
    /// (engine, points sorted by x).
    pub lines: Vec<(String, Vec<(f64, Estimate)>)>,
}

/// One filter in one language on one engine, against the Rust filter on native code.
#[derive(Clone, Debug)]
pub struct LanguageRatio {
    /// The Rust filter's name (`headers`).
    pub filter: String,
    /// The language (`rust`, `assemblyscript`, `c`).
    pub language: String,
    /// Engine name.
    pub engine: String,
    /// Geometric mean over the workloads of the median per-round ratio to the Rust filter's
    /// native code measured in the same rounds, with a 95% interval.
    pub ratio: Estimate,
}

/// Artifact sizes of one filter in one language, bytes.
#[derive(Clone, Debug)]
pub struct LanguageSize {
    /// The Rust filter's name.
    pub filter: String,
    /// The language.
    pub language: String,
    /// `.wasm` size.
    pub wasm_bytes: Option<u64>,
    /// Native library size.
    pub native_bytes: Option<u64>,
}

/// Everything the report draws.
#[derive(Clone, Debug)]
pub struct View {
    /// Engines with at least one timed cell, in results order.
    pub engines: Vec<String>,
    /// Filters that have ratios, in results order.
    pub filters_with_ratios: Vec<String>,
    /// Per (filter, engine) ratio to native.
    pub filter_ratios: Vec<FilterRatio>,
    /// Start-up figures.
    pub phases: Vec<PhasePoint>,
    /// One spectrum per filter (its first workload that is not part of a sweep).
    pub spectra: Vec<Spectrum>,
    /// Scaling sweeps that were run.
    pub sweeps: Vec<Sweep>,
    /// Load runs through Envoy, when the results have them.
    pub envoy: Option<filterbench_results::envoy::EnvoyResults>,
    /// Filters run in several languages: every language and engine against Rust on native.
    pub languages: Vec<LanguageRatio>,
    /// Artifact sizes of the filters run in several languages.
    pub language_sizes: Vec<LanguageSize>,
    /// The hostcall price list, when the run has one.
    pub prices: Vec<filterbench_results::results::Price>,
}

/// The x value of a sweep workload: `headers-32` → (headers, 32), `body-64k` → (body, 65536).
pub fn sweep_point(workload: &str) -> Option<(&'static str, f64)> {
    if let Some(n) = workload.strip_prefix("headers-") {
        return Some(("headers", n.parse().ok()?));
    }
    let size = workload.strip_prefix("body-")?;
    let (digits, scale) = match size.as_bytes().last()? {
        b'k' => (&size[..size.len() - 1], 1024.0),
        b'm' => (&size[..size.len() - 1], 1024.0 * 1024.0),
        _ => (size, 1.0),
    };
    Some(("body", digits.parse::<f64>().ok()? * scale))
}

fn timed(cell: &Cell) -> Option<&filterbench_results::results::Steady> {
    cell.steady.as_ref().filter(|s| s.median.is_some())
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

impl View {
    /// Extracts the view of a results file.
    pub fn of(results: &Results) -> Self {
        let mut engines = Vec::new();
        let mut filters = Vec::new();
        for cell in &results.cells {
            // The host floor and the A/A twin are calibration, not engines: the tables show
            // them; the charts do not.
            if timed(cell).is_some() && !analysis::is_calibration(&cell.engine) {
                push_unique(&mut engines, &cell.engine);
                push_unique(&mut filters, &cell.filter);
            }
        }
        native_last(&mut engines, results);
        let filter_ratios: Vec<FilterRatio> = results
            .summary
            .filters
            .iter()
            .filter(|f| !analysis::is_calibration(&f.engine))
            .map(|f| FilterRatio {
                filter: f.filter.clone(),
                engine: f.engine.clone(),
                ratio: f.ratio_to_native,
            })
            .collect();
        let mut filters_with_ratios = Vec::new();
        for r in &filter_ratios {
            push_unique(&mut filters_with_ratios, &r.filter);
        }
        let first_workload = |filter: &str| {
            results
                .cells
                .iter()
                .find(|c| {
                    c.filter == filter && sweep_point(&c.workload).is_none() && timed(c).is_some()
                })
                .map(|c| c.workload.clone())
        };
        let phases = results
            .phases
            .iter()
            .map(|p| {
                let workload = first_workload(&p.filter);
                let steady_ns = results
                    .cells
                    .iter()
                    .find(|c| {
                        c.filter == p.filter
                            && c.engine == p.engine
                            && Some(&c.workload) == workload.as_ref()
                    })
                    .and_then(timed)
                    .and_then(|s| s.median.map(|m| m.value));
                PhasePoint {
                    filter: p.filter.clone(),
                    engine: p.engine.clone(),
                    compile_ns: p.compile.as_ref().map(|t| t.median_ns),
                    cache_load_ns: p.cache_load.as_ref().map(|t| t.median_ns),
                    instantiate_ns: p.instantiate.as_ref().map(|t| t.median_ns),
                    first_request_ns: p.first_request.as_ref().map(|t| t.median_ns),
                    steady_ns,
                    rss_bytes: p.memory.as_ref().map(|m| m.rss_bytes_per_instance),
                    linear_bytes: p
                        .memory
                        .as_ref()
                        .and_then(|m| m.linear_memory_bytes)
                        .map(|b| b as f64),
                }
            })
            .collect();
        let spectra = filters
            .iter()
            .filter_map(|filter| {
                let workload = first_workload(filter)?;
                let lines = engines
                    .iter()
                    .filter_map(|engine| {
                        let cell = results.cells.iter().find(|c| {
                            &c.filter == filter && &c.engine == engine && c.workload == workload
                        })?;
                        let spectrum = &timed(cell)?.wall.spectrum;
                        (!spectrum.is_empty()).then(|| (engine.clone(), spectrum.clone()))
                    })
                    .collect::<Vec<_>>();
                (!lines.is_empty()).then(|| Spectrum {
                    filter: filter.clone(),
                    workload,
                    lines,
                })
            })
            .collect();
        let sweeps = sweeps(results, &engines, &filters);
        let (languages, language_sizes) = languages(results, &engines);
        Self {
            engines,
            filters_with_ratios,
            filter_ratios,
            phases,
            spectra,
            sweeps,
            envoy: results.envoy.clone(),
            languages,
            language_sizes,
            prices: Vec::new(),
        }
    }

    /// The view of a run with price-list probes: everything but the price list from the
    /// probe-free `main`, the price list (and its engines, for their colours) from `results`.
    pub fn with_prices(main: &Results, results: &Results) -> Self {
        let mut view = Self::of(main);
        for p in &results.price {
            if p.ns.is_some() || p.missing.is_some() {
                push_unique(&mut view.engines, &p.engine);
            }
        }
        native_last(&mut view.engines, results);
        view.prices = results.price.clone();
        view
    }
}

/// Native last in legends, the rest in results order.
fn native_last(engines: &mut [String], results: &Results) {
    engines.sort_by_key(|e| {
        results
            .engines
            .iter()
            .any(|r| &r.name == e && r.family == "native")
    });
}

/// Base filters that ran in more than one language, in results order.
fn multi_language_filters(results: &Results) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for module in &results.modules {
        let (base, language) = split_language(&module.filter);
        if language != Language::Rust {
            push_unique(&mut out, base);
        }
    }
    out
}

fn languages(results: &Results, engines: &[String]) -> (Vec<LanguageRatio>, Vec<LanguageSize>) {
    let fast = analysis::run_fast_canary(results);
    let native = results.native_engines();
    let mut ratios = Vec::new();
    let mut sizes = Vec::new();
    for base in multi_language_filters(results) {
        for language in Language::ALL {
            let name = match language {
                Language::Rust => base.clone(),
                other => format!("{base}@{}", other.name()),
            };
            if let Some(module) = results.modules.iter().find(|m| m.filter == name) {
                sizes.push(LanguageSize {
                    filter: base.clone(),
                    language: language.name().to_owned(),
                    wasm_bytes: module.wasm_bytes,
                    native_bytes: module.native_bytes,
                });
            }
            for engine in engines {
                // Per workload, the per-round ratios to the Rust filter's native code measured
                // in the same rounds (all languages of a filter share them).
                let series: Vec<stats::PairedSeries> = results
                    .cells
                    .iter()
                    .filter(|c| c.filter == name && &c.engine == engine)
                    .filter_map(|c| {
                        let reference = results.cells.iter().find(|r| {
                            r.filter == base
                                && native.contains(&r.engine.as_str())
                                && r.workload == c.workload
                        })?;
                        analysis::aligned_ratios(fast, c, reference)
                    })
                    .collect();
                let seed = stats::seed_for(&["language", &name, engine]);
                if let Some(tested) = stats::nested_geomean(
                    &[series.iter().collect()],
                    seed,
                    results.settings.between_run_sd,
                ) {
                    ratios.push(LanguageRatio {
                        filter: base.clone(),
                        language: language.name().to_owned(),
                        engine: engine.clone(),
                        ratio: tested.estimate,
                    });
                }
            }
        }
    }
    (ratios, sizes)
}

fn sweeps(results: &Results, engines: &[String], filters: &[String]) -> Vec<Sweep> {
    let mut out = Vec::new();
    for group in ["headers", "body"] {
        for filter in filters {
            let lines: Vec<(String, Vec<(f64, Estimate)>)> = engines
                .iter()
                .filter_map(|engine| {
                    let mut points: Vec<(f64, Estimate)> = results
                        .cells
                        .iter()
                        .filter(|c| &c.filter == filter && &c.engine == engine)
                        .filter_map(|c| {
                            let (g, x) = sweep_point(&c.workload)?;
                            (g == group).then_some((x, timed(c)?.median?))
                        })
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (points.len() >= 2).then(|| (engine.clone(), points))
                })
                .collect();
            if !lines.is_empty() {
                out.push(Sweep {
                    group: group.to_owned(),
                    filter: filter.clone(),
                    axis: if group == "headers" {
                        "header count"
                    } else {
                        "body size"
                    },
                    unit: if group == "headers" { "count" } else { "bytes" },
                    lines,
                });
            }
        }
    }
    out
}

/// Start-up medians of one engine over filters, ms.
#[derive(Clone, Debug)]
pub struct StartupRow {
    /// Engine name.
    pub engine: String,
    /// Compile, ms.
    pub compile_ms: f64,
    /// Load from the serialized artifact, ms (none where the engine has none).
    pub cache_load_ms: Option<f64>,
    /// Instantiate + start, ms.
    pub instantiate_ms: f64,
    /// First request, ms.
    pub first_request_ms: f64,
}

fn median_of(values: Vec<f64>) -> Option<f64> {
    (!values.is_empty()).then(|| stats::median(&values))
}

fn per_engine<'a>(view: &'a View, engine: &'a str) -> impl Iterator<Item = &'a PhasePoint> {
    view.phases.iter().filter(move |p| p.engine == engine)
}

/// Start-up medians per engine, for engines with a compile time.
pub fn startup_rows(view: &View) -> Vec<StartupRow> {
    view.engines
        .iter()
        .filter_map(|engine| {
            let collect = |f: fn(&PhasePoint) -> Option<f64>| {
                median_of(per_engine(view, engine).filter_map(f).collect()).map(|ns| ns / 1e6)
            };
            Some(StartupRow {
                engine: engine.clone(),
                compile_ms: collect(|p| p.compile_ns)?,
                cache_load_ms: collect(|p| p.cache_load_ns),
                instantiate_ms: collect(|p| p.instantiate_ns).unwrap_or(0.0),
                first_request_ms: collect(|p| p.first_request_ns).unwrap_or(0.0),
            })
        })
        .collect()
}

/// Memory per instance of one engine (median over filters), KiB.
#[derive(Clone, Debug)]
pub struct MemoryRow {
    /// Engine name.
    pub engine: String,
    /// Resident set growth per instance, KiB.
    pub rss_kib: f64,
    /// Linear memory per instance, KiB.
    pub linear_kib: Option<f64>,
}

/// Memory medians per engine.
pub fn memory_rows(view: &View) -> Vec<MemoryRow> {
    view.engines
        .iter()
        .filter_map(|engine| {
            let rss = median_of(
                per_engine(view, engine)
                    .filter_map(|p| p.rss_bytes)
                    .collect(),
            )?;
            Some(MemoryRow {
                engine: engine.clone(),
                rss_kib: rss / 1024.0,
                linear_kib: median_of(
                    per_engine(view, engine)
                        .filter_map(|p| p.linear_bytes)
                        .collect(),
                )
                .map(|b| b / 1024.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_workloads_map_to_numbers() {
        assert_eq!(sweep_point("headers-32"), Some(("headers", 32.0)));
        assert_eq!(sweep_point("body-64k"), Some(("body", 65536.0)));
        assert_eq!(sweep_point("body-1m"), Some(("body", 1048576.0)));
        assert_eq!(sweep_point("get-small"), None);
    }
}
