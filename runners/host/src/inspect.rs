//! Engine-independent checks of a module's bytes before any engine compiles it: is it
//! WebAssembly, which Proxy-Wasm ABI does it declare, does it export what the host needs and
//! import only what the host provides. Every engine reports these problems the same way.

use crate::abi::{self, AbiVersion};
use crate::error::FilterError;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, Validator};

/// What the host learned about a module that passed inspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleShape {
    /// The newest ABI version the module declares.
    pub abi: AbiVersion,
    /// Whether the module exports `proxy_on_memory_allocate` (else it exports `malloc`).
    pub has_proxy_allocator: bool,
    /// Its linear memory's initial and declared maximum size, in 64 KiB pages.
    pub memory_pages: Option<(u64, Option<u64>)>,
}

/// Validates `bytes` as a Proxy-Wasm module called `module`.
pub fn inspect(module: &str, bytes: &[u8]) -> Result<ModuleShape, FilterError> {
    let not_wasm = |detail: String| FilterError::NotWasm {
        module: module.to_owned(),
        detail,
    };
    if !bytes.starts_with(b"\0asm") {
        return Err(not_wasm(
            "the file does not start with the \\0asm magic bytes".to_owned(),
        ));
    }
    Validator::new()
        .validate_all(bytes)
        .map_err(|e| not_wasm(e.to_string()))?;

    let mut function_exports = Vec::new();
    let mut exports_memory = false;
    let mut memory_pages = None;
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| not_wasm(e.to_string()))? {
            Payload::ExportSection(section) => {
                for export in section {
                    let export = export.map_err(|e| not_wasm(e.to_string()))?;
                    match export.kind {
                        ExternalKind::Func => function_exports.push(export.name.to_owned()),
                        ExternalKind::Memory if export.name == "memory" => exports_memory = true,
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(section) => {
                for memory in section {
                    let memory = memory.map_err(|e| not_wasm(e.to_string()))?;
                    memory_pages.get_or_insert((memory.initial, memory.maximum));
                }
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(|e| not_wasm(e.to_string()))?;
                    if let TypeRef::Memory(memory) = import.ty {
                        memory_pages.get_or_insert((memory.initial, memory.maximum));
                    }
                    imports.push((import.module.to_owned(), import.name.to_owned(), import.ty));
                }
            }
            _ => {}
        }
    }

    let exports = |name: &str| function_exports.iter().any(|e| e == name);
    let abi = AbiVersion::detect(exports).ok_or_else(|| FilterError::NoAbiVersion {
        module: module.to_owned(),
    })?;
    if abi == AbiVersion::V0_1_0 {
        return Err(FilterError::UnsupportedAbi {
            module: module.to_owned(),
            version: abi.as_str(),
        });
    }
    let has_proxy_allocator = exports("proxy_on_memory_allocate");
    if !has_proxy_allocator && !exports("malloc") {
        return Err(FilterError::MissingExport {
            module: module.to_owned(),
            export: "proxy_on_memory_allocate".to_owned(),
        });
    }
    if !exports_memory {
        return Err(FilterError::MissingExport {
            module: module.to_owned(),
            export: "memory".to_owned(),
        });
    }
    for (from, name, ty) in &imports {
        if !matches!(ty, TypeRef::Func(_)) || !abi::host_provides(from, name) {
            return Err(FilterError::MissingImport {
                module: module.to_owned(),
                import: format!("{from}.{name}"),
            });
        }
    }
    Ok(ModuleShape {
        abi,
        has_proxy_allocator,
        memory_pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(exports: &str, imports: &str) -> Vec<u8> {
        let text = format!(
            r#"(module {imports}
                 (memory (export "memory") 1)
                 (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
                 {exports})"#
        );
        wat::parse_str(text).unwrap()
    }

    #[test]
    fn accepts_a_minimal_proxy_wasm_module() {
        let shape = inspect(
            "m",
            &module(r#"(func (export "proxy_abi_version_0_2_0"))"#, ""),
        )
        .unwrap();
        assert_eq!(shape.abi, AbiVersion::V0_2_0);
        assert!(shape.has_proxy_allocator);
    }

    #[test]
    fn names_what_is_wrong() {
        let kind = |bytes: &[u8]| inspect("m", bytes).unwrap_err().kind();
        assert_eq!(kind(b"\x7fELF"), "not_wasm");
        assert_eq!(kind(b"\0asm\x01\0\0\0\x01"), "not_wasm");
        assert_eq!(kind(&module("", "")), "no_abi_version");
        assert_eq!(
            kind(&module(r#"(func (export "proxy_abi_version_0_1_0"))"#, "")),
            "unsupported_abi"
        );
        let err = inspect(
            "m",
            &module(
                r#"(func (export "proxy_abi_version_0_2_1"))"#,
                r#"(import "env" "proxy_fly" (func (param i32) (result i32)))"#,
            ),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "missing_import");
        assert!(err.to_string().contains("env.proxy_fly"), "{err}");
        let no_memory = wat::parse_str(r#"(module (func (export "proxy_abi_version_0_2_1")) (func (export "malloc") (param i32) (result i32) (i32.const 0)))"#).unwrap();
        assert!(
            inspect("m", &no_memory)
                .unwrap_err()
                .to_string()
                .contains("does not export memory")
        );
    }
}
