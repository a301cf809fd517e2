//! The filterbench harness: how to get a filter (artifacts, other languages), how to run it
//! (conformance first, then measured rounds in processes), and what the numbers say (analysis,
//! comparisons, precision, merges). What runs comes from `filterbench-catalog` and where the
//! numbers go from `filterbench-results`; both are re-exported here under their old paths.

pub mod analysis;
pub mod artifacts;
pub mod compare;
pub mod format;
pub mod measure;
pub mod merge;
pub mod phases;
pub mod polyglot;
pub mod precision;
pub mod run;
pub mod sys;
#[cfg(test)]
mod test_cells;

pub use filterbench_catalog::{catalog, conformance, workloads};
pub use filterbench_results::{
    environment, envoy, envoy_cpu, envoy_variants, paths, results, stats,
};
