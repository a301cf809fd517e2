//! A Proxy-Wasm host conformance kit. Each probe is a small module written for one question a
//! filter author would ask of a host ("may I read the response headers in the body
//! callback?"); it answers by setting gauges, by its response, or by failing to start. The kit
//! runs every probe on each in-process engine of this build and through a real Envoy (V8), and
//! lays the answers side by side with Envoy as the reference ([`matrix`]). Its JSON form is
//! documented in `docs/conformance.md`, so other hosts can be compared the same way.

pub mod envoy;
pub mod in_process;
pub mod kit;
pub mod matrix;
pub mod outcome;
pub mod probes;
