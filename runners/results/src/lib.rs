//! How results are stored and what their estimates are: the results schema (`results`: cells,
//! settings, environment; `envoy`, `envoy_cpu`: the Envoy records; `host_conformance`: the
//! conformance kit's matrix; `shards`: sharded plans), the statistics that compute
//! its intervals (`stats`), the machine description (`environment`) and where files go
//! (`paths`). The report reads only this and the catalog.

pub mod environment;
pub mod envoy;
pub mod envoy_cpu;
pub mod envoy_variants;
pub mod host_conformance;
pub mod paths;
pub mod results;
pub mod shards;
pub mod stats;
