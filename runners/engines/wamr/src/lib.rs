//! WAMR adapter: runs Proxy-Wasm modules on the WebAssembly Micro Runtime, with every hostcall
//! of the filterbench host registered as a WAMR native generated from the host's ABI tables
//! ("raw" for the interpreter, typed for compiled code: see `natives`).
//!
//! `wamr-fast-interp` is the fast interpreter `wamrx-sys` links into the binary. With the
//! `llvm` feature, `wamr-aot` (WAMR's AOT compiler, as `wamrc`, then the AOT image loaded) and
//! `wamr-jit` (WAMR's LLVM JIT, compiling every function at load) run on a second WAMR build with
//! LLVM, which this crate's build script makes from the same sources (see `llvm`). All three use
//! software bounds checks; none can stop a runaway callback (no fuel or epochs).

mod api;
mod instance;
mod linked;
#[cfg(feature = "llvm")]
mod llvm;
mod natives;
mod runtime;

use filterbench_host::inspect;
use filterbench_host::{Engine, EngineInfo, FilterError, LoadedModule, ModuleSource};
use instance::Image;
use linked::Linked;
use runtime::Runtime;

/// Version of the WAMR sources `wamrx-sys` builds, and of the binding crate.
pub const WAMR_VERSION: &str = "2.4.3 (wamrx-sys 0.3.0)";

/// How a configuration runs modules.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The fast interpreter linked into the binary.
    FastInterpreter,
    /// WAMR's AOT compiler (as `wamrc`) at load, then the AOT image on the LLVM build.
    #[cfg(feature = "llvm")]
    Aot,
    /// WAMR's LLVM JIT on the LLVM build, compiling every function when the module is loaded.
    #[cfg(feature = "llvm")]
    Jit,
}

/// One selectable WAMR configuration.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Selectable name.
    pub name: &'static str,
    /// One line on what it is.
    pub description: &'static str,
    /// How it runs modules.
    pub mode: Mode,
}

/// Every WAMR configuration this adapter offers (the LLVM ones with the `llvm` feature).
pub const CONFIGURATIONS: &[Configuration] = &[
    Configuration {
        name: "wamr-fast-interp",
        description: "WAMR fast interpreter (software bounds checks)",
        mode: Mode::FastInterpreter,
    },
    #[cfg(feature = "llvm")]
    Configuration {
        name: "wamr-aot",
        description: "WAMR AOT: compiled by WAMR's AOT compiler (as wamrc, LLVM -O3, host CPU), \
                      loaded as an AOT image (software bounds checks)",
        mode: Mode::Aot,
    },
    #[cfg(feature = "llvm")]
    Configuration {
        name: "wamr-jit",
        description: "WAMR LLVM JIT (-O3, every function compiled when the module is loaded; \
                      software bounds checks)",
        mode: Mode::Jit,
    },
];

/// Creates the configuration called `name`, or `None` if it is not a WAMR configuration.
pub fn create(name: &str) -> Option<Result<WamrEngine, String>> {
    CONFIGURATIONS
        .iter()
        .find(|c| c.name == name)
        .map(|c| WamrEngine::new(*c))
}

/// One WAMR configuration.
pub struct WamrEngine {
    configuration: Configuration,
}

impl WamrEngine {
    /// Creates the engine (initialising the process-wide WAMR runtime it needs on first use).
    pub fn new(configuration: Configuration) -> Result<Self, String> {
        match configuration.mode {
            Mode::FastInterpreter => Linked::initialised()?,
            #[cfg(feature = "llvm")]
            Mode::Aot | Mode::Jit => llvm::Llvm::initialised()?,
        }
        Ok(Self { configuration })
    }

    /// Loads a module from bytes (used for modules that are not files, e.g. in tests).
    pub fn load_bytes(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        let shape = inspect::inspect(name, bytes)?;
        let engine = self.configuration.name;
        match self.configuration.mode {
            Mode::FastInterpreter => instance::load::<Linked>(
                name,
                engine,
                bytes.to_vec(),
                Image::Wasm,
                shape.memory_pages,
                None,
            ),
            #[cfg(feature = "llvm")]
            Mode::Aot => {
                let image = llvm::compile_aot(bytes).map_err(|detail| FilterError::Load {
                    module: name.to_owned(),
                    engine: engine.to_owned(),
                    detail: format!("WAMR's AOT compiler: {detail}"),
                })?;
                instance::load::<llvm::Llvm>(
                    name,
                    engine,
                    image,
                    Image::Aot,
                    shape.memory_pages,
                    None,
                )
            }
            #[cfg(feature = "llvm")]
            Mode::Jit => instance::load::<llvm::Llvm>(
                name,
                engine,
                bytes.to_vec(),
                Image::Wasm,
                shape.memory_pages,
                Some(wamrx_sys::Mode_LLVM_JIT),
            ),
        }
    }
}

impl Engine for WamrEngine {
    fn info(&self) -> EngineInfo {
        let compiler = match self.configuration.mode {
            Mode::FastInterpreter => "fast-interpreter".to_owned(),
            #[cfg(feature = "llvm")]
            Mode::Aot => format!("llvm-aot (LLVM {})", llvm::LLVM_VERSION),
            #[cfg(feature = "llvm")]
            Mode::Jit => format!("llvm-jit (LLVM {})", llvm::LLVM_VERSION),
        };
        EngineInfo {
            name: self.configuration.name.to_owned(),
            family: "wamr".to_owned(),
            version: WAMR_VERSION.to_owned(),
            compiler,
            options: Vec::new(),
            description: self.configuration.description.to_owned(),
        }
    }

    fn load(&self, source: &ModuleSource) -> Result<Box<dyn LoadedModule>, FilterError> {
        let bytes = source.read_wasm(self.configuration.name)?;
        self.load_bytes(&source.name, &bytes)
    }

    fn reload_per_block(&self) -> bool {
        // WAMR's LLVM JIT compiles the whole module at load (seconds for an SDK filter, tens
        // of seconds for Go) and cannot save its code.
        match self.configuration.mode {
            #[cfg(feature = "llvm")]
            Mode::Jit => false,
            _ => true,
        }
    }

    fn load_serialized(
        &self,
        source: &ModuleSource,
        artifact: &[u8],
    ) -> Result<Box<dyn LoadedModule>, FilterError> {
        #[cfg(not(feature = "llvm"))]
        let _ = artifact;
        match self.configuration.mode {
            #[cfg(feature = "llvm")]
            Mode::Aot => {
                let (memory_pages, image) =
                    instance::split_artifact(artifact).ok_or_else(|| FilterError::Load {
                        module: source.name.clone(),
                        engine: self.configuration.name.to_owned(),
                        detail: "not an artifact serialized by wamr-aot".to_owned(),
                    })?;
                instance::load::<llvm::Llvm>(
                    &source.name,
                    self.configuration.name,
                    image.to_vec(),
                    Image::Aot,
                    memory_pages,
                    None,
                )
            }
            _ => Err(FilterError::Unsupported {
                module: source.name.clone(),
                engine: self.configuration.name.to_owned(),
                detail: filterbench_host::engine::NO_SERIALIZED_FORMAT.to_owned(),
            }),
        }
    }
}
