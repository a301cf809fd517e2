//! The low-level face of an engine — what differs between wasmtime, wasmer, wasmi, WAMR and
//! native code — and, written once above it, everything the host does with an instance: the
//! instantiate sequence (allocator discovery, `_initialize` / `_start`), callback discovery, and
//! the callbacks of [`crate::Callbacks`] (proxy-wasm-cpp-host keeps the same split: `WasmBase`
//! over one `WasmVm` per runtime).
//!
//! An adapter creates its engine's instance with the hostcalls linked and its memory attached,
//! wraps it in a type implementing [`WasmVm`], and hands it to [`start`].

use crate::error::{CallError, FilterError};
use crate::lifecycle::{Callbacks, FilterInstance};
use crate::restricted::Restriction;
use crate::state::HostState;

/// The kind of a parameter or result of an export the host calls. In wasm32 every kind is an
/// `i32`; native code passes sizes as `usize` and flags as `bool`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A context id, token or other 32-bit value (`u32`).
    U32,
    /// A size or an address (`usize` in native code).
    Size,
    /// A boolean (`bool` in native code, 0 or 1 in wasm).
    Flag,
}

/// The signature of an export the host calls.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameter kinds, in order.
    pub params: &'static [Kind],
    /// Result kind; `None` when the function returns nothing.
    pub result: Option<Kind>,
}

impl Signature {
    /// `() -> ()`: `_initialize` and `_start`.
    pub const START: Self = Self {
        params: &[],
        result: None,
    };
    /// `(size) -> address`: `proxy_on_memory_allocate` and `malloc`.
    pub const ALLOCATOR: Self = Self {
        params: &[Kind::Size],
        result: Some(Kind::Size),
    };
}

/// Exports that allocate guest memory for the host, in the order they are looked for.
pub const ALLOCATOR_EXPORTS: [&str; 2] = ["proxy_on_memory_allocate", "malloc"];

/// Start functions, in the order they are looked for; only the first one present runs.
pub const START_EXPORTS: [&str; 2] = ["_initialize", "_start"];

/// One engine's instance of one module, with the host's imports linked and its memory
/// attached — the only part of an instance that differs between engines.
pub trait WasmVm {
    /// A handle of an exported function, looked up once and called many times.
    type Func;
    /// Module name used in error messages.
    fn module_name(&self) -> &str;
    /// Engine configuration name used in error messages (e.g. `wasmtime-cranelift`).
    fn engine_name(&self) -> &str;
    /// The instance's host state.
    fn host(&mut self) -> &mut HostState;
    /// Size of the instance's linear memory, bytes (`None` where there is none: native code).
    fn linear_memory_bytes(&mut self) -> Option<u64>;
    /// Looks up the exported function `name`: `Ok(None)` when there is none, `Err` (saying how)
    /// when it exists with another signature than `signature`.
    fn function(&mut self, name: &str, signature: Signature) -> Result<Option<Self::Func>, String>;
    /// Calls `func` with `args` (one per parameter of the signature it was looked up with:
    /// sizes and ids as they are, flags as 0 or 1) and returns its result (0 when it has none).
    /// On a trap or a stopped call, the error names `callback`.
    fn call<const N: usize>(
        &mut self,
        func: &Self::Func,
        callback: &'static str,
        args: [u32; N],
    ) -> Result<u32, CallError>;
    /// Makes `allocator` (looked up with [`Signature::ALLOCATOR`]) the function hostcalls call
    /// to place data in guest memory. Until then they get address 0 (out of memory).
    fn use_allocator(&mut self, allocator: Self::Func);
}

/// Looks up `name`; a present export with the wrong signature is a load error naming it.
fn export<V: WasmVm>(
    vm: &mut V,
    name: &str,
    signature: Signature,
) -> Result<Option<V::Func>, FilterError> {
    vm.function(name, signature)
        .map_err(|detail| FilterError::Load {
            module: vm.module_name().to_owned(),
            engine: vm.engine_name().to_owned(),
            detail: format!("export {name} has the wrong signature: {detail}"),
        })
}

/// Starts a fresh instance the same way on every engine: finds the allocator
/// (`proxy_on_memory_allocate`, else `malloc`), runs `_initialize` (else `_start`) with the
/// hostcalls restricted as in Envoy ([`Restriction::Start`]), and looks up
/// the callbacks. The root lifecycle is not run yet: call [`FilterInstance::start`].
pub fn start<V: WasmVm + 'static>(mut vm: V) -> Result<Box<dyn FilterInstance>, FilterError> {
    for name in ALLOCATOR_EXPORTS {
        if let Some(allocator) = export(&mut vm, name, Signature::ALLOCATOR)? {
            vm.use_allocator(allocator);
            break;
        }
    }
    for name in START_EXPORTS {
        if let Some(start) = export(&mut vm, name, Signature::START)? {
            vm.host().restriction = Some(Restriction::Start);
            let started = vm.call(&start, name, []);
            vm.host().restriction = None;
            started.map_err(|source| FilterError::Trap {
                module: vm.module_name().to_owned(),
                engine: vm.engine_name().to_owned(),
                source,
            })?;
            break;
        }
    }
    let exports = Exports::resolve(&mut vm)?;
    Ok(Box::new(VmInstance {
        vm,
        exports,
        calls: 0,
    }))
}

/// The [`Kind`] of a callback table kind (`u32`, `size`, `flag`; results `flag`, `action`).
macro_rules! kind_of {
    (u32) => {
        Kind::U32
    };
    (size) => {
        Kind::Size
    };
    (flag) => {
        Kind::Flag
    };
    (action) => {
        Kind::U32
    };
}

/// The result kind of a callback table result (`none` → no result).
macro_rules! result_of {
    (none) => {
        None
    };
    ($kind:ident) => {
        Some(kind_of!($kind))
    };
}

/// A callback's result from the `u32` [`WasmVm::call`] returns.
macro_rules! from_u32 {
    (none, $v:expr) => {{
        let _ = $v;
    }};
    (flag, $v:expr) => {
        $v != 0
    };
    (action, $v:expr) => {
        $crate::abi::Action::from_raw($v)
    };
}

macro_rules! vm_callbacks {
    ($( $method:ident = $export:literal ( $( $arg:ident : $kind:ident ),* ) -> $ret:ident ; )*) => {
        /// Every export the host looks up, in lookup order: allocators, start functions,
        /// callbacks (for engines that resolve them ahead, e.g. native symbol tables).
        pub const LOOKED_UP_EXPORTS: &[&str] = &[
            ALLOCATOR_EXPORTS[0], ALLOCATOR_EXPORTS[1], START_EXPORTS[0], START_EXPORTS[1],
            $( $export, )*
        ];

        /// Every callback export with its signature.
        pub const CALLBACK_EXPORTS: &[(&str, Signature)] = &[
            $( ($export, Signature { params: &[$( kind_of!($kind) ),*], result: result_of!($ret) }), )*
        ];

        /// The callbacks a module exports, looked up once per instance.
        struct Exports<F> {
            $( $method: Option<F>, )*
        }

        impl<F> Exports<F> {
            fn resolve<V: WasmVm<Func = F>>(vm: &mut V) -> Result<Self, FilterError> {
                Ok(Self {
                    $( $method: export(vm, $export, Signature {
                        params: &[$( kind_of!($kind) ),*],
                        result: result_of!($ret),
                    })?, )*
                })
            }
        }

        impl<V: WasmVm> Callbacks for VmInstance<V> {
            fn host(&mut self) -> &mut HostState {
                self.vm.host()
            }

            fn module_name(&self) -> &str {
                self.vm.module_name()
            }

            fn engine_name(&self) -> &str {
                self.vm.engine_name()
            }

            fn linear_memory_bytes(&mut self) -> Option<u64> {
                self.vm.linear_memory_bytes()
            }

            fn is_network_filter(&self) -> bool {
                self.exports.on_new_connection.is_some()
                    && self.exports.on_request_headers.is_none()
            }

            fn guest_calls(&self) -> u64 {
                self.calls
            }

            $(
                #[inline(always)]
                fn $method(&mut self, $( $arg: $crate::callback_arg_type!($kind) ),*) -> Result<$crate::callback_result_type!($ret), CallError> {
                    let Some(func) = &self.exports.$method else {
                        return Ok($crate::callback_default!($ret));
                    };
                    self.calls += 1;
                    let value = self.vm.call(func, $export, [$( $arg as u32 ),*])?;
                    Ok(from_u32!($ret, value))
                }
            )*
        }
    };
}

crate::for_each_callback!(vm_callbacks);

/// An engine's instance driven by the host: the callbacks it exports, called through its
/// [`WasmVm`].
struct VmInstance<V: WasmVm> {
    vm: V,
    exports: Exports<V::Func>,
    /// Callbacks made into the module.
    calls: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm32::Wasm32Shape;

    #[test]
    fn every_signature_the_host_looks_up_has_a_wasm32_shape() {
        let mut signatures = vec![Signature::START, Signature::ALLOCATOR];
        signatures.extend(CALLBACK_EXPORTS.iter().map(|(_, s)| *s));
        for signature in signatures {
            assert!(
                Wasm32Shape::of(signature).is_some(),
                "{signature:?} has no entry in for_each_wasm32_shape"
            );
        }
    }

    #[test]
    fn looked_up_exports_name_every_callback_once() {
        assert_eq!(LOOKED_UP_EXPORTS.len(), 4 + CALLBACK_EXPORTS.len());
        let mut names = LOOKED_UP_EXPORTS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), LOOKED_UP_EXPORTS.len());
    }
}
