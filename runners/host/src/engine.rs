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

impl ModuleSource {
    /// Reads the `.wasm` artifact for `engine`; the error names the module and the path.
    pub fn read_wasm(&self, engine: &str) -> Result<Vec<u8>, FilterError> {
        let Some(path) = &self.wasm else {
            return Err(FilterError::Unsupported {
                module: self.name.clone(),
                engine: engine.to_owned(),
                detail: "no .wasm artifact was built for it".to_owned(),
            });
        };
        std::fs::read(path).map_err(|e| FilterError::Unreadable {
            module: self.name.clone(),
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }
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
    /// How code is executed: `cranelift`, `winch`, `singlepass`, `llvm`, `pulley`,
    /// `interpreter`, `fast-interpreter`, or `native`.
    pub compiler: String,
    /// Configuration switches beyond the engine's defaults (e.g. `fuel`, `pooling-allocator`),
    /// empty for a default configuration.
    pub options: Vec<String>,
    /// One line on what this configuration is.
    pub description: String,
}

/// How long one callback may run on engines that can interrupt the guest (epoch, fuel or
/// metering configurations) before it is stopped with a [`crate::TrapKind::Deadline`] trap.
pub const CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Fuel (wasmtime, wasmi) or metering points (wasmer) granted to one callback: about a
/// billion wasm operators, seconds of work — far beyond any real filter callback.
pub const CALL_FUEL: u64 = 1_000_000_000;

/// An engine configuration able to load modules.
pub trait Engine {
    /// What this engine is.
    fn info(&self) -> EngineInfo;
    /// Loads (reads, validates, compiles, links) a module.
    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError>;

    /// Whether loading a module afresh from source is cheap enough to repeat at every block
    /// boundary of a measurement (for a fresh code placement). An engine that compiles with an
    /// optimising compiler at load and has no serialized artifact (WAMR's LLVM JIT) says no:
    /// its blocks get fresh instances of the module loaded once.
    fn reload_per_block(&self) -> bool {
        true
    }

    /// Loads a module from an artifact made by [`LoadedModule::serialize`] on this same engine
    /// configuration, skipping compilation (what a proxy's module cache does). Engines without
    /// serialized artifacts return [`FilterError::Unsupported`].
    fn load_serialized(
        &self,
        source: &ModuleSource,
        artifact: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        let _ = artifact;
        Err(FilterError::Unsupported {
            module: source.name.clone(),
            engine: self.info().name,
            detail: NO_SERIALIZED_FORMAT.to_owned(),
        })
    }
}

/// Why an engine configuration cannot serialize a compiled module.
pub const NO_SERIALIZED_FORMAT: &str = "this engine has no serialized (precompiled) module format";

/// A module ready to be instantiated any number of times.
pub trait LoadedModule {
    /// Creates a fresh instance (running the module's start function, e.g. `_initialize`).
    /// The root lifecycle is not run yet: call [`FilterInstance::start`].
    fn instantiate(&self, plugin: PluginSpec) -> Result<Box<dyn FilterInstance>, FilterError>;

    /// The engine's precompiled artifact of this module, for [`Engine::load_serialized`];
    /// `Err` says why there is none.
    fn serialize(&self) -> Result<Vec<u8>, String> {
        Err(NO_SERIALIZED_FORMAT.to_owned())
    }
}
