//! Scripted load runs through a real Envoy: the bench filters on Envoy's V8 runtime and natively
//! as dynamic modules (the same source, through the Proxy-Wasm bridge), next to Envoy's
//! built-in filters and Lua doing the same work and a no-filter baseline, under
//! closed-loop (wrk) and open-loop (oha) load, with Envoy's CPU time per request and memory.
//! Records go into the same results file as the in-process runs ([`filterbench_harness::envoy`]).

pub mod bridge;
pub mod config;
pub mod conformance;
pub mod cpu;
pub mod filters;
pub mod grpc_upstream;
pub mod http;
pub mod instructions;
pub mod load;
pub mod paced;
pub mod paired_cpu;
pub mod process;
pub mod requests;
pub mod runner;
pub mod sweep;
pub mod tcp;
pub mod tools;
pub mod upstream;
pub mod user_spec;
