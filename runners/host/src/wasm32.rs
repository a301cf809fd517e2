//! How the kinds of the ABI tables ([`crate::for_each_proxy_hostcall`],
//! [`crate::for_each_callback`]) map to wasm32 value types, for engine adapters with a typed
//! import/export API (wasmtime, wasmer, wasmi). Exported as macros so the adapters' own table
//! expansions can use them; each is a pure type or value conversion.

/// The wasm type of a hostcall argument kind: `i64` stays `i64`, everything else is `i32`.
#[macro_export]
macro_rules! wasm32_hostcall_param {
    (i64) => {
        i64
    };
    ($other:ident) => {
        i32
    };
}

/// Converts a hostcall argument from its wasm type to the host's: addresses and sizes are
/// zero-extended to `u64`, ids to `u32`, flags to `bool`.
#[macro_export]
macro_rules! wasm32_to_host {
    (u32, $v:expr) => {
        $v as u32
    };
    (ptr, $v:expr) => {
        $v as u32 as u64
    };
    (size, $v:expr) => {
        $v as u32 as u64
    };
    (out, $v:expr) => {
        $v as u32 as u64
    };
    (i64, $v:expr) => {
        $v
    };
    (i32, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v != 0
    };
}

/// The wasm result type of a callback result kind (`none` → `()`, otherwise `i32`).
#[macro_export]
macro_rules! wasm32_callback_result {
    (none) => {
        ()
    };
    ($other:ident) => {
        i32
    };
}

/// Converts a callback argument (host type) to its wasm `i32`.
#[macro_export]
macro_rules! wasm32_callback_arg {
    (flag, $v:expr) => {
        $v as i32
    };
    ($kind:ident, $v:expr) => {
        $v as i32
    };
}

/// Converts a callback's wasm result to the host's type.
#[macro_export]
macro_rules! wasm32_callback_convert {
    (none, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v != 0
    };
    (action, $v:expr) => {
        $crate::abi::Action::from_raw($v as u32)
    };
}
