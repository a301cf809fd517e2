//! The ways one filter runs in Envoy, by name: the no-filter baseline and the variants compared
//! with it, in report order.

/// The variant name of the no-filter baseline.
pub const BASELINE: &str = "none";

/// Report order of variants: the baseline first, then Wasm, native, Envoy's own, Lua.
pub fn variant_rank(variant: &str) -> usize {
    ["none", "v8", "native", "builtin", "lua"]
        .iter()
        .position(|v| *v == variant)
        .unwrap_or(usize::MAX)
}
