//! The engine configurations compiled into this build, by name.
//!
//! Each engine family is an adapter crate behind a cargo feature; this crate lists what is
//! available and creates engines from their selectable names (e.g. `wasmtime-cranelift`).

use filterbench_host::Engine;

/// One selectable engine configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEntry {
    /// Selectable name, as given to `--engine`.
    pub name: &'static str,
    /// Engine family.
    pub family: &'static str,
    /// Whether this is the native baseline that ratios are computed against.
    pub is_native: bool,
}

/// Name of the native baseline engine.
pub const NATIVE: &str = "native";

/// Every engine configuration compiled into this build, native last.
pub fn available() -> Vec<EngineEntry> {
    vec![
        #[cfg(feature = "wasmtime")]
        EngineEntry {
            name: "wasmtime-cranelift",
            family: "wasmtime",
            is_native: false,
        },
        #[cfg(feature = "native")]
        EngineEntry {
            name: NATIVE,
            family: "native",
            is_native: true,
        },
    ]
}

/// Why an engine could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEngine {
    /// The name asked for.
    pub name: String,
    /// The reason.
    pub reason: String,
}

impl std::fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "engine '{}': {}", self.name, self.reason)
    }
}

impl std::error::Error for UnknownEngine {}

/// Creates the engine configuration called `name`.
pub fn create(name: &str) -> Result<Box<dyn Engine>, UnknownEngine> {
    let fail = |reason: String| UnknownEngine {
        name: name.to_owned(),
        reason,
    };
    match name {
        #[cfg(feature = "wasmtime")]
        "wasmtime-cranelift" => {
            use filterbench_engine_wasmtime::{Compiler, WasmtimeEngine};
            WasmtimeEngine::new(Compiler::Cranelift)
                .map(|e| Box::new(e) as Box<dyn Engine>)
                .map_err(fail)
        }
        #[cfg(feature = "native")]
        NATIVE => Ok(Box::new(filterbench_engine_native::NativeEngine::new())),
        _ => {
            let known: Vec<&str> = available().iter().map(|e| e.name).collect();
            Err(fail(format!(
                "unknown engine; available: {} (see `filterbench list engines`)",
                known.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_engine_can_be_created_and_describes_itself() {
        for entry in available() {
            let engine = create(entry.name).unwrap();
            let info = engine.info();
            assert_eq!(info.name, entry.name);
            assert_eq!(info.family, entry.family);
            assert!(!info.version.is_empty());
        }
    }

    #[test]
    fn unknown_engines_are_named_in_the_error() {
        let err = create("v9").err().unwrap().to_string();
        assert!(err.contains("'v9'") && err.contains("available"), "{err}");
    }
}
