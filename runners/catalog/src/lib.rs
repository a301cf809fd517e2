//! What filterbench runs: the catalog of bench filters (with their languages, plugin
//! configurations and expected effects), the workloads they run on, and the conformance check
//! that compares what a filter did with what it should do, and the probes of the hostcall price
//! list.

pub mod assertions;
pub mod catalog;
pub mod conformance;
pub mod price;
pub mod workloads;
