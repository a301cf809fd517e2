//! Which bench filters the Envoy runner runs, and which of them the native bridge runs.

/// Filters the Envoy runner measures by default: those whose load request is a plain GET and
/// that need nothing from Envoy but the request.
pub const DEFAULT_FILTERS: [&str; 5] = ["noop", "headers", "jwt-auth", "waf", "rate-limit"];

/// Filters the Envoy runner can run at all (the others need bodies or a callout cluster the
/// runner does not set up yet), including the versions in other languages (V8 only).
pub const SUPPORTED_FILTERS: [&str; 13] = [
    "noop",
    "headers",
    "jwt-auth",
    "waf",
    "rate-limit",
    "access-log",
    "metrics",
    "noop@assemblyscript",
    "headers@assemblyscript",
    "noop@c",
    "headers@c",
    "noop@go",
    "headers@go",
];

/// Whether the bridge runs `filter` in Envoy: every Rust filter the Envoy runner supports except
/// `metrics`, which defines its metrics while serving requests (their names carry the method and
/// status); Envoy's dynamic modules only define metrics while the configuration is created, and
/// the Rust SDK aborts on a refused definition.
pub fn bridges(filter: &str) -> bool {
    SUPPORTED_FILTERS.contains(&filter) && !filter.contains('@') && filter != "metrics"
}

/// The filters the bridge runs, in the Envoy runner's order.
pub fn bridged_filters() -> impl Iterator<Item = &'static str> {
    SUPPORTED_FILTERS.into_iter().filter(|f| bridges(f))
}
