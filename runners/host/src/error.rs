//! Errors a filter cell can end in. Every message names the module (and engine where it
//! matters), says what is wrong and what to do.

/// What stopped a callback, the same on every engine (each adapter maps its engine's own trap
/// codes to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The guest executed `unreachable` (also how Rust panics end in a wasm filter).
    Unreachable,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Integer overflow (e.g. `i32.div_s` of MIN by -1, or a float-to-int conversion).
    IntegerOverflow,
    /// The guest's call stack was exhausted.
    StackOverflow,
    /// An indirect call through a bad table entry or with the wrong signature.
    BadIndirectCall,
    /// The per-call deadline (epoch, fuel or metering budget) ran out.
    Deadline,
    /// A hostcall stopped the guest (e.g. `proc_exit`, or the guest allocator trapped).
    Host,
    /// Anything else the engine reported.
    Other,
}

impl TrapKind {
    /// Stable name used in messages and results.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::MemoryOutOfBounds => "memory_out_of_bounds",
            Self::IntegerDivideByZero => "integer_divide_by_zero",
            Self::IntegerOverflow => "integer_overflow",
            Self::StackOverflow => "stack_overflow",
            Self::BadIndirectCall => "bad_indirect_call",
            Self::Deadline => "deadline",
            Self::Host => "host",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for TrapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trap or host failure inside one module callback, as reported by an engine adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{callback} trapped ({kind}): {message}")]
pub struct CallError {
    /// Export name of the callback, e.g. `proxy_on_request_headers`.
    pub callback: &'static str,
    /// What kind of trap it was.
    pub kind: TrapKind,
    /// The engine's description of the trap.
    pub message: String,
}

/// Most wasm backtrace frames a trap's message names.
pub const BACKTRACE_FRAMES: usize = 8;

impl CallError {
    /// Appends the wasm backtrace's function names (innermost first, at most
    /// [`BACKTRACE_FRAMES`]) to the message, as `; wasm backtrace: f ← g ← …`; nothing when the
    /// engine gave none.
    pub fn with_backtrace(mut self, functions: impl IntoIterator<Item = String>) -> Self {
        let all: Vec<String> = functions.into_iter().map(|f| readable(&f)).collect();
        // A Rust module's panic goes through its standard library's panic and abort code:
        // the frames worth reading start where the module's own code called into it.
        let own = all.iter().position(|f| !is_runtime_frame(f)).unwrap_or(0);
        let mut names: Vec<String> = all
            .into_iter()
            .skip(own)
            .take(BACKTRACE_FRAMES + 1)
            .collect();
        if names.is_empty() {
            return self;
        }
        if names.len() > BACKTRACE_FRAMES {
            names.truncate(BACKTRACE_FRAMES);
            names.push("…".to_owned());
        }
        self.message.push_str("; wasm backtrace: ");
        self.message.push_str(&names.join(" ← "));
        self
    }
}

/// A function name as a reader wants it: Rust names demangled, without their hash.
fn readable(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Whether a (demangled) frame belongs to the panic and abort code of a module's standard
/// library rather than to the module.
fn is_runtime_frame(name: &str) -> bool {
    const RUNTIME: [&str; 7] = [
        "std::",
        "core::",
        "alloc::",
        "__rustc::",
        "__rust_",
        "rust_panic",
        "abort",
    ];
    RUNTIME.iter().any(|p| name.starts_with(p))
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
    /// The module declares a Proxy-Wasm ABI version the host does not run.
    #[error(
        "module '{module}' declares Proxy-Wasm ABI {version}, which filterbench does not run; \
         rebuild it with an SDK for ABI 0.2.x"
    )]
    UnsupportedAbi {
        /// Module name.
        module: String,
        /// Declared version.
        version: &'static str,
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
            Self::UnsupportedAbi { .. } => "unsupported_abi",
            Self::MissingExport { .. } => "missing_export",
            Self::MissingImport { .. } => "missing_import",
            Self::Load { .. } => "load",
            Self::Trap { source, .. } if source.kind == TrapKind::Deadline => "deadline",
            Self::Trap { .. } => "trap",
            Self::Rejected { .. } => "rejected",
            Self::Runaway { .. } => "runaway",
            Self::Unsupported { .. } => "unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backtrace_names_the_modules_own_functions_demangled() {
        let frames = [
            "abort",
            "_RNvNtCset5xJoy1xWQ_3std7process5abort",
            "_RNvCsfLfy6EI15iL_7___rustc10rust_panic",
            "_ZN9my_filter5check17h0123456789abcdefE",
            "proxy_on_request_headers",
        ]
        .map(str::to_owned);
        let error = CallError {
            callback: "proxy_on_request_headers",
            kind: TrapKind::Unreachable,
            message: "unreachable".to_owned(),
        }
        .with_backtrace(frames);
        assert_eq!(
            error.message,
            "unreachable; wasm backtrace: my_filter::check ← proxy_on_request_headers"
        );
    }
}
