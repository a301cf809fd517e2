//! The engine configurations compiled into this build, by name.
//!
//! Each engine family is an adapter crate behind a cargo feature (`wasmtime`, `wasmer`,
//! `wasmi`, `wamr`, `native`; `wasmer-llvm` is opt-in). This crate lists every configuration a
//! user may ask for — including those this build cannot run, with the reason — and creates
//! engines from their selectable names (e.g. `wasmtime-cranelift+fuel`).

use filterbench_host::Engine;

/// One selectable engine configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineEntry {
    /// Selectable name, as given to `--engine`.
    pub name: &'static str,
    /// Engine family (`wasmtime`, `wasmer`, `wasmi`, `wamr`, `native`, …).
    pub family: &'static str,
    /// Whether this is the native baseline that ratios are computed against.
    pub is_native: bool,
    /// Why this build cannot run it (`None` when it can).
    pub unavailable: Option<String>,
}

/// Name of the native baseline engine.
pub const NATIVE: &str = "native";

fn entry(name: &'static str, family: &'static str, unavailable: Option<String>) -> EngineEntry {
    EngineEntry {
        name,
        family,
        is_native: name == NATIVE,
        unavailable,
    }
}

fn family(
    family: &'static str,
    names: impl IntoIterator<Item = &'static str>,
    unavailable: Option<String>,
) -> Vec<EngineEntry> {
    names
        .into_iter()
        .map(|name| entry(name, family, unavailable.clone()))
        .collect()
}

#[cfg(not(all(
    feature = "wasmtime",
    feature = "wasmer",
    feature = "wasmi",
    feature = "wamr",
    feature = "native"
)))]
fn not_compiled_in(feature: &str) -> Option<String> {
    Some(format!(
        "not compiled into this build; rebuild with `--features {feature}`"
    ))
}

/// Every configuration filterbench knows, available or not, in listing order (native last).
pub fn all() -> Vec<EngineEntry> {
    let mut entries = Vec::new();

    #[cfg(feature = "wasmtime")]
    entries.extend(family(
        "wasmtime",
        filterbench_engine_wasmtime::CONFIGURATIONS
            .iter()
            .map(|c| c.name),
        None,
    ));
    #[cfg(not(feature = "wasmtime"))]
    entries.extend(family(
        "wasmtime",
        ["wasmtime-cranelift"],
        not_compiled_in("wasmtime"),
    ));

    #[cfg(feature = "wasmer")]
    entries.extend(family(
        "wasmer",
        filterbench_engine_wasmer::CONFIGURATIONS
            .iter()
            .map(|c| c.name),
        None,
    ));
    #[cfg(not(feature = "wasmer"))]
    entries.extend(family(
        "wasmer",
        ["wasmer-cranelift"],
        not_compiled_in("wasmer"),
    ));
    #[cfg(not(feature = "wasmer-llvm"))]
    entries.push(entry(
        "wasmer-llvm",
        "wasmer",
        Some(
            "wasmer's LLVM compiler is not compiled in (it needs LLVM 22): run \
             `apt-get install llvm-22-dev libpolly-22-dev libzstd-dev`, then build with \
             `--features wasmer-llvm`"
                .to_owned(),
        ),
    ));

    #[cfg(feature = "wasmi")]
    entries.extend(family(
        "wasmi",
        filterbench_engine_wasmi::CONFIGURATIONS
            .iter()
            .map(|c| c.name),
        None,
    ));
    #[cfg(not(feature = "wasmi"))]
    entries.extend(family("wasmi", ["wasmi-eager"], not_compiled_in("wasmi")));

    #[cfg(feature = "wamr")]
    entries.extend(family(
        "wamr",
        filterbench_engine_wamr::CONFIGURATIONS
            .iter()
            .map(|c| c.name),
        None,
    ));
    #[cfg(not(feature = "wamr"))]
    entries.extend(family(
        "wamr",
        ["wamr-fast-interp"],
        not_compiled_in("wamr"),
    ));
    #[cfg(not(feature = "wamr-llvm"))]
    for name in ["wamr-aot", "wamr-jit"] {
        entries.push(entry(
            name,
            "wamr",
            Some(
                "WAMR's AOT compiler and LLVM JIT are not compiled in (WAMR built a second time \
                 with LLVM 22): run `apt-get install llvm-22-dev libpolly-22-dev libzstd-dev`, \
                 then build with `--features wamr-llvm`"
                    .to_owned(),
            ),
        ));
    }
    entries.push(entry(
        "v8",
        "v8",
        Some(
            "measured inside Envoy (its V8 runtime), not in-process: the v8 crate downloads a \
             prebuilt library at build time"
                .to_owned(),
        ),
    ));

    #[cfg(feature = "native")]
    entries.push(entry(NATIVE, "native", None));
    #[cfg(not(feature = "native"))]
    entries.push(entry(NATIVE, "native", not_compiled_in("native")));
    entries
}

/// The configurations this build can run, in listing order (native last).
pub fn available() -> Vec<EngineEntry> {
    all()
        .into_iter()
        .filter(|e| e.unavailable.is_none())
        .collect()
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

#[cfg(any(
    feature = "wasmtime",
    feature = "wasmer",
    feature = "wasmi",
    feature = "wamr"
))]
fn boxed<E: Engine + 'static>(
    created: Option<Result<E, String>>,
) -> Option<Result<Box<dyn Engine>, String>> {
    created.map(|r| r.map(|e| Box::new(e) as Box<dyn Engine>))
}

/// Creates the engine configuration called `name`.
pub fn create(name: &str) -> Result<Box<dyn Engine>, UnknownEngine> {
    let fail = |reason: String| UnknownEngine {
        name: name.to_owned(),
        reason,
    };
    let mut created: Option<Result<Box<dyn Engine>, String>> = None;
    #[cfg(feature = "wasmtime")]
    {
        created = created.or_else(|| boxed(filterbench_engine_wasmtime::create(name)));
    }
    #[cfg(feature = "wasmer")]
    {
        created = created.or_else(|| boxed(filterbench_engine_wasmer::create(name)));
    }
    #[cfg(feature = "wasmi")]
    {
        created = created.or_else(|| boxed(filterbench_engine_wasmi::create(name)));
    }
    #[cfg(feature = "wamr")]
    {
        created = created.or_else(|| boxed(filterbench_engine_wamr::create(name)));
    }
    #[cfg(feature = "native")]
    {
        if name == NATIVE {
            created = Some(Ok(Box::new(filterbench_engine_native::NativeEngine::new())));
        }
    }
    match created {
        Some(result) => result.map_err(fail),
        None => Err(fail(match all().into_iter().find(|e| e.name == name) {
            Some(entry) => entry
                .unavailable
                .unwrap_or_else(|| "unavailable".to_owned()),
            None => {
                let known: Vec<&str> = available().iter().map(|e| e.name).collect();
                format!(
                    "unknown engine; available: {} (see `filterbench list engines`)",
                    known.join(", ")
                )
            }
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_available_engine_can_be_created_and_describes_itself() {
        for entry in available() {
            let engine = create(entry.name).unwrap_or_else(|e| panic!("{e}"));
            let info = engine.info();
            assert_eq!(info.name, entry.name);
            assert_eq!(info.family, entry.family);
            assert!(
                !info.version.is_empty() && !info.compiler.is_empty(),
                "{info:?}"
            );
            assert_eq!(
                info.options.is_empty(),
                !entry.name.contains('+') && entry.family != "wasmi",
                "{info:?}"
            );
        }
    }

    #[test]
    fn unavailable_engines_say_why() {
        for entry in all().into_iter().filter(|e| e.unavailable.is_some()) {
            let err = create(entry.name)
                .err()
                .expect("unavailable engines cannot be created")
                .to_string();
            assert!(err.contains(entry.unavailable.as_deref().unwrap()), "{err}");
        }
        assert!(
            all()
                .iter()
                .any(|e| e.name == "v8" && e.unavailable.is_some())
        );
    }

    #[test]
    fn unknown_engines_are_named_in_the_error() {
        let err = create("v9").err().unwrap().to_string();
        assert!(err.contains("'v9'") && err.contains("available"), "{err}");
    }

    #[test]
    fn names_are_unique_and_native_is_last() {
        let names: Vec<&str> = all().iter().map(|e| e.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        if cfg!(feature = "native") {
            assert_eq!(available().last().map(|e| e.name), Some(NATIVE));
        }
    }

    #[test]
    fn reported_versions_match_the_lock_file() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        let locked = |crate_name: &str| {
            let at = lock.find(&format!("name = \"{crate_name}\"\nversion = \""))?;
            let rest = &lock[at..];
            let start = rest.find("version = \"")? + "version = \"".len();
            Some(rest[start..start + rest[start..].find('"')?].to_owned())
        };
        for entry in available().into_iter().filter(|e| !e.is_native) {
            let version = create(entry.name).unwrap().info().version;
            // WAMR reports its C version and the binding crate's, e.g. "2.4.3 (wamrx-sys 0.3.0)".
            let crate_name = if entry.family == "wamr" {
                "wamrx-sys"
            } else {
                entry.family
            };
            let locked =
                locked(crate_name).unwrap_or_else(|| panic!("{crate_name} is not in Cargo.lock"));
            assert!(
                version.contains(&locked),
                "{}: reports {version}, Cargo.lock has {locked}",
                entry.name
            );
        }
    }
}
