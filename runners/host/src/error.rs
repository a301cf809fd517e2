//! Errors a filter cell can end in. Every message names the module (and engine where it
//! matters), says what is wrong and what to do.

/// A trap or host failure inside one module callback, as reported by an engine adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{callback} trapped: {message}")]
pub struct CallError {
    /// Export name of the callback, e.g. `proxy_on_request_headers`.
    pub callback: &'static str,
    /// The engine's description of the trap.
    pub message: String,
}

/// What can go wrong loading, starting or running a filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The module file could not be read.
    #[error(
        "cannot read module '{module}' from {path}: {detail} (build the filters again or check the path)"
    )]
    Unreadable {
        /// Module name.
        module: String,
        /// Path tried.
        path: String,
        /// OS error.
        detail: String,
    },
    /// The bytes are not a valid WebAssembly binary.
    #[error("module '{module}' is not a valid WebAssembly binary: {detail}")]
    NotWasm {
        /// Module name.
        module: String,
        /// Validator message.
        detail: String,
    },
    /// The module declares no Proxy-Wasm ABI version marker.
    #[error(
        "module '{module}' is not a Proxy-Wasm module: it exports none of proxy_abi_version_0_2_1, \
         proxy_abi_version_0_2_0, proxy_abi_version_0_1_0 (build it with a Proxy-Wasm SDK)"
    )]
    NoAbiVersion {
        /// Module name.
        module: String,
    },
    /// A required export is missing.
    #[error("module '{module}' does not export {export}, which the Proxy-Wasm ABI requires")]
    MissingExport {
        /// Module name.
        module: String,
        /// Missing export.
        export: String,
    },
    /// The module imports a function the host does not provide.
    #[error("module '{module}' imports {import}, which the filterbench host does not provide")]
    MissingImport {
        /// Module name.
        module: String,
        /// `module.name` of the import.
        import: String,
    },
    /// The engine failed to compile or link the module.
    #[error("engine {engine} could not load module '{module}': {detail}")]
    Load {
        /// Module name.
        module: String,
        /// Engine name.
        engine: String,
        /// Engine message.
        detail: String,
    },
    /// A module callback trapped.
    #[error("module '{module}' on {engine}: {source}")]
    Trap {
        /// Module name.
        module: String,
        /// Engine name.
        engine: String,
        /// The trapping call.
        source: CallError,
    },
    /// The module refused to start (`proxy_on_vm_start` or `proxy_on_configure` returned false).
    #[error("module '{module}' rejected its configuration: {callback} returned false{logs}")]
    Rejected {
        /// Module name.
        module: String,
        /// Callback that returned false.
        callback: &'static str,
        /// What the module logged (prefixed with "; module log: "), or empty.
        logs: String,
    },
    /// The filter paused the stream and nothing resumed it.
    #[error("module '{module}' paused the stream in {callback} and never resumed it")]
    Stalled {
        /// Module name.
        module: String,
        /// Callback that paused.
        callback: &'static str,
    },
    /// The filter kept producing events (HTTP calls, queue items) without end.
    #[error("module '{module}' produced more than {limit} follow-up events in one callback")]
    Runaway {
        /// Module name.
        module: String,
        /// Limit hit.
        limit: usize,
    },
    /// The engine cannot run this kind of artifact.
    #[error("engine {engine} cannot run module '{module}': {detail}")]
    Unsupported {
        /// Module name.
        module: String,
        /// Engine name.
        engine: String,
        /// Why.
        detail: String,
    },
}

impl FilterError {
    /// A short machine-readable kind, stable across releases (used in results.json).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "unreadable",
            Self::NotWasm { .. } => "not_wasm",
            Self::NoAbiVersion { .. } => "no_abi_version",
            Self::MissingExport { .. } => "missing_export",
            Self::MissingImport { .. } => "missing_import",
            Self::Load { .. } => "load",
            Self::Trap { .. } => "trap",
            Self::Rejected { .. } => "rejected",
            Self::Stalled { .. } => "stalled",
            Self::Runaway { .. } => "runaway",
            Self::Unsupported { .. } => "unsupported",
        }
    }
}
