//! The filterbench Proxy-Wasm host: an engine-independent implementation of Proxy-Wasm ABI
//! v0.2.1 (accepting 0.2.0 and 0.1.0 modules) and the WASI subset Envoy provides.
//!
//! - [`abi`]: the ABI as data (enums, hostcall and callback tables for adapters to expand);
//! - [`hostcalls`]: every hostcall, written once against [`hostcalls::Guest`];
//! - [`memory`]: bounds-checked wasm32 memory and trusted native memory;
//! - [`state`]: per-VM host state (header maps, shared data, queues, metrics, properties);
//! - [`lifecycle`]: root and stream lifecycles, identical for every engine;
//! - [`engine`]: the traits engine adapters implement.

pub mod abi;
pub mod engine;
pub mod error;
pub mod hostcalls;
pub mod lifecycle;
pub mod memory;
pub mod pairs;
pub mod state;

pub use engine::{Engine, EngineInfo, LoadedModule, ModuleSource};
pub use error::{CallError, FilterError};
pub use lifecycle::{Callbacks, FilterInstance, HttpExchange};
pub use state::{HeaderMap, HostState, PluginSpec};
