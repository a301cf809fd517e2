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

/// Expands `$m!` with every wasm32 shape an export the host calls can have (the signatures of
/// [`crate::vm`]'s lookups: start functions, allocators, callbacks): a name, one placeholder per
/// `i32` parameter, and the result type (`()` or `i32`). Adapters with typed function handles
/// expand it into an enum of handles, one variant per shape.
#[macro_export]
macro_rules! for_each_wasm32_shape {
    ($m:ident) => {
        $m! {
            Unit0 () -> ();
            Unit1 (a) -> ();
            Value1 (a) -> i32;
            Unit2 (a, b) -> ();
            Value2 (a, b) -> i32;
            Unit3 (a, b, c) -> ();
            Value3 (a, b, c) -> i32;
            Unit5 (a, b, c, d, e) -> ();
        }
    };
}

/// The wasm type of a placeholder of [`for_each_wasm32_shape`]: always `i32`.
#[macro_export]
macro_rules! wasm32_i32 {
    ($placeholder:ident) => {
        i32
    };
}

/// A result type of [`for_each_wasm32_shape`] (`()` or `i32`), as the `u32` that
/// [`crate::vm::WasmVm::call`] returns.
pub trait Wasm32Result {
    /// Whether the function returns a value.
    const RETURNS: bool;
    /// The result as a `u32` (0 for no result).
    fn into_u32(self) -> u32;
}

impl Wasm32Result for () {
    const RETURNS: bool = false;
    fn into_u32(self) -> u32 {
        0
    }
}

impl Wasm32Result for i32 {
    const RETURNS: bool = true;
    fn into_u32(self) -> u32 {
        self as u32
    }
}

macro_rules! shapes {
    ($( $shape:ident ( $( $p:ident ),* ) -> $r:ty ; )*) => {
        /// The wasm32 shape of an export's signature (every kind is an `i32` in wasm32): one
        /// variant per entry of [`for_each_wasm32_shape`].
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum Wasm32Shape {
            $(
                #[doc = concat!("`(", stringify!($( $p ),*), ") -> ", stringify!($r), "`")]
                $shape,
            )*
        }

        impl Wasm32Shape {
            /// The shape of `signature`, `None` if no entry of [`for_each_wasm32_shape`] has it.
            pub fn of(signature: crate::vm::Signature) -> Option<Self> {
                $(
                    if signature.params.len() == <[&str]>::len(&[$( stringify!($p) ),*])
                        && signature.result.is_some() == <$r as Wasm32Result>::RETURNS
                    {
                        return Some(Self::$shape);
                    }
                )*
                None
            }
        }
    };
}

for_each_wasm32_shape!(shapes);
