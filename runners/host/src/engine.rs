//! What every engine adapter provides: load a module, instantiate it with a host state.

use crate::error::FilterError;
use crate::lifecycle::FilterInstance;
use crate::state::PluginSpec;
use std::path::PathBuf;

/// The artifacts of one filter: the same source built as WebAssembly and as a native library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSource {
    /// Name used in results and error messages (e.g. `headers`).
    pub name: String,
    /// The `.wasm` file, if built.
    pub wasm: Option<PathBuf>,
    /// The native shared library (`.so`), if built.
    pub native: Option<PathBuf>,
}

/// Describes an engine configuration for listings and results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineInfo {
    /// Selectable name, e.g. `wasmtime-cranelift`.
    pub name: String,
    /// Engine family, e.g. `wasmtime`.
    pub family: String,
    /// Version of the engine crate or library.
    pub version: String,
    /// One line on what this configuration is.
    pub description: String,
}

/// An engine configuration able to load modules.
pub trait Engine {
    /// What this engine is.
    fn info(&self) -> EngineInfo;
    /// Loads (reads, validates, compiles, links) a module.
    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError>;
}

/// A module ready to be instantiated any number of times.
pub trait LoadedModule {
    /// Creates a fresh instance (running the module's start function, e.g. `_initialize`).
    /// The root lifecycle is not run yet: call [`FilterInstance::start`].
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError>;
}
