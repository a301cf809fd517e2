//! The filterbench harness: what to run (catalog), how to get it (artifacts), whether it is
//! right (conformance), how fast it is (measure, stats) and how results are stored (results).

pub mod analysis;
pub mod artifacts;
pub mod catalog;
pub mod compare;
pub mod conformance;
pub mod environment;
pub mod envoy;
pub mod envoy_cpu;
pub mod envoy_variants;
pub mod format;
pub mod measure;
pub mod merge;
pub mod paths;
pub mod phases;
pub mod polyglot;
pub mod precision;
pub mod results;
pub mod run;
pub mod stats;
pub mod sys;
pub mod workloads;
