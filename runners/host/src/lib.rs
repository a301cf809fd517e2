//! The filterbench Proxy-Wasm host: an engine-independent implementation of Proxy-Wasm ABI
//! v0.2.1 (also running 0.2.0 modules; 0.1.0 modules are rejected with a clear error) and the
//! WASI subset Envoy provides.
//!
//! - [`abi`]: the ABI as data (enums, hostcall and callback tables for adapters to expand);
//! - [`hostcalls`]: every hostcall, written once against [`hostcalls::Guest`];
//! - [`inspect`]: engine-independent checks of a module's bytes before compiling;
//! - [`memory`]: bounds-checked wasm32 memory and trusted native memory;
//! - [`semantics`]: where the shared hostcall rules (`filterbench_proxy_abi`: header maps,
//!   logging, local replies, properties) find their data in [`state::HostState`];
//! - [`state`]: per-VM host state (header maps, shared data, queues, metrics, properties);
//! - [`lifecycle`]: root and stream lifecycles, identical for every engine;
//! - [`wasm32`]: type mappings of the ABI tables for typed wasm32 engine APIs;
//! - [`engine`]: the traits engine adapters implement to load modules;
//! - [`vm`]: the low-level instance trait adapters implement, and the instantiate sequence and
//!   callbacks written once above it;
//! - [`floor`]: the lifecycle with no guest, timed as the host's own cost.

pub mod abi;
pub mod engine;
pub mod error;
pub mod floor;
pub mod grpc;
pub mod header_map;
pub mod hostcalls;
pub mod inspect;
pub mod lifecycle;
pub mod memory;
pub use filterbench_proxy_abi::pairs;
pub mod restricted;
pub mod semantics;
pub mod state;
pub mod vm;
pub mod wasm32;

pub use engine::{Engine, EngineInfo, LoadedModule, ModuleSource};
pub use error::{CallError, FilterError, TrapKind};
pub use floor::{FLOOR_ENGINE, FloorInstance};
pub use grpc::{GrpcReply, GrpcRoute};
pub use lifecycle::{Callbacks, FilterInstance, HttpExchange, TcpExchange, Unit};
pub use state::{
    DEFAULT_MEMORY_LIMIT_BYTES, HeaderMap, HostState, PluginSpec, UpstreamReply, UpstreamRoute,
    VIRTUAL_EPOCH_NS, VirtualClock,
};
