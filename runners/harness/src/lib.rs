//! The filterbench harness: how to get a filter (artifacts, other languages) and how to run it
//! (conformance first, then measured rounds in processes). What runs comes from
//! `filterbench-catalog`, where the numbers go from `filterbench-results`, and what they say
//! from `filterbench-analysis`; all three are re-exported here under their old paths.

pub mod artifacts;
pub mod measure;
pub mod phases;
pub mod polyglot;
pub mod pricing;
pub mod run;
pub mod sys;

pub use filterbench_analysis::{analysis, compare, format, machines, merge, precision};
pub use filterbench_catalog::{assertions, catalog, conformance, price, workloads};
pub use filterbench_results::{
    environment, envoy, envoy_cpu, envoy_variants, host_conformance, paths, results, shards, stats,
};
