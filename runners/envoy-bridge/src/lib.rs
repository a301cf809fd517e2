//! A Proxy-Wasm → Envoy dynamic-module bridge: the same bench-filter source that runs as
//! `.wasm` on V8 runs natively inside Envoy.
//!
//! A bench filter built for the host leaves the `proxy_*` hostcalls undefined and exports the
//! `proxy_on_*` callbacks (see the native engine). Linked with this crate (feature `module`)
//! into one `.so`, the hostcalls are defined here over Envoy's `envoy_dynamic_module_callback_*`
//! functions, and Envoy's `envoy_dynamic_module_on_*` hooks drive the filter's callbacks:
//!
//! - configuration (main thread): `_initialize`, root context, `proxy_on_vm_start`,
//!   `proxy_on_configure` — a refused configuration rejects Envoy's config, as with Wasm;
//! - each worker thread gets its own root context on its first stream (a Wasm VM per worker);
//! - stream: `proxy_on_context_create` → headers/body/trailers callbacks (Pause mapped to the
//!   statuses Envoy's Wasm filter uses) → `proxy_on_log`, `proxy_on_done` at stream completion
//!   → `proxy_on_delete` when Envoy destroys the filter.
//!
//! Everything that decides *what* a hostcall does is plain Rust over two traits
//! ([`host::StreamHost`], [`host::ConfigHost`]) and is unit-tested with fakes; the `module`
//! feature adds only the C symbols and the calls into Envoy. Supported: header maps, bodies,
//! local responses, properties Envoy exposes as attributes, metrics, shared data (held by the
//! bridge, process-wide), logging, time. Not bridged (the call returns `UNIMPLEMENTED`): HTTP and
//! gRPC calls, shared queues, ticks, foreign functions, `proxy_set_property`, `proxy_get_metric`.
//!
//! Pinned to Envoy [`envoy_abi::ENVOY_RELEASE`] (dynamic-module ABI [`envoy_abi::ABI_VERSION`]):
//! the FFI declarations are written from that ABI's documented names and signatures.

pub mod envoy_abi;
pub mod headers;
pub mod host;
pub mod logging;
pub mod metrics;
pub mod properties;
pub mod shared_data;
pub mod stream;

/// The Proxy-Wasm ABI's values, shared with the in-process host.
pub use filterbench_proxy_abi as proxy_abi;
/// Proxy-Wasm's serialized header maps.
pub use filterbench_proxy_abi::pairs;

#[cfg(test)]
mod fake;

#[cfg(feature = "module")]
pub mod module;
