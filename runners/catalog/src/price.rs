//! The price-list probes: one C filter (`bench-filters/c/price.c`, no SDK) configured to repeat
//! one hostcall K times per request. Each probe `price:OP@c` is measured next to the baseline
//! probe `price:none@c` (the same module doing nothing K times) on the same engine and workload;
//! the price of one operation is the per-round difference divided by K.

/// Prefix of every probe's catalog name.
pub const PREFIX: &str = "price:";

/// The baseline probe: the same module and callbacks, no operation.
pub const BASE: &str = "price:none@c";

/// The workload on which the baseline is also measured against the host floor: its time above
/// the floor, over the callbacks of one lifecycle, is the price of an empty callback.
pub const CALLBACK_WORKLOAD: &str = "get-small";

/// Name of the measurement group all probes share (they run in the same interleaved rounds).
pub const GROUP: &str = "price";

/// One priced operation.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// Catalog name (`price:get-header@c`).
    pub name: &'static str,
    /// The operation as the probe's configuration names it (`get-header`).
    pub op: &'static str,
    /// Times the probe repeats it per request.
    pub repeat: u32,
    /// What one operation is, for reports.
    pub description: &'static str,
    /// Workloads it is priced on (the body size or header count varies between them).
    pub workloads: &'static [&'static str],
    /// What it visibly does.
    pub effect: Effect,
    /// The unit its price grows with between its two workloads, if it has two.
    pub per: Option<Per>,
}

/// The unit an operation's price grows with, measured between its two workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// A KiB of request body.
    KiB,
    /// A request header.
    Header,
}

impl Per {
    /// The unit's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Per::KiB => "KiB",
            Per::Header => "header",
        }
    }

    /// How many units workload `name` has (request body KiB or request headers).
    pub fn units(self, name: &str) -> Option<f64> {
        let w = crate::workloads::workload(name)?;
        Some(match self {
            Per::KiB => w.exchange.request_body.iter().map(Vec::len).sum::<usize>() as f64 / 1024.0,
            Per::Header => w.exchange.request_headers.len() as f64,
        })
    }
}

const ON_GET: &[&str] = &["get-small"];
/// Repeats per request for a header-sized operation.
pub const K: u32 = 32;
/// Repeats per request for a body operation (64 KiB each).
const K_BODY: u32 = 16;
/// Repeats per request for an HTTP call (each answered and delivered).
const K_CALL: u32 = 8;

/// What a probe visibly does to a request (K: its repeats), checked before it is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing visible.
    Nothing,
    /// [`HEADER`] added K times to the request headers.
    AddsHeaders,
    /// [`HEADER`] set once in the request headers.
    ReplacesHeader,
    /// The request headers [`removed_headers`] removed.
    RemovesHeaders,
    /// The request body overwritten by as many `x` bytes.
    OverwritesBody,
    /// [`COUNTER`] at K.
    Counts,
    /// [`HISTOGRAM`] recorded K times (values of 1: a sum of K).
    Records,
    /// [`LOG_LINE`] logged at info.
    Logs,
}

/// The header the header probes add or set: (name, value).
pub const HEADER: (&str, &str) = ("x-price", "1");
/// The headers the remove probe removes, one per repeat: `x-sweep-008` onwards (present in
/// get-large-headers).
pub fn removed_headers() -> Vec<String> {
    (8..8 + K).map(|i| format!("x-sweep-{i:03}")).collect()
}

/// The counter the probe defines.
pub const COUNTER: &str = "price_counter";
/// The histogram the probe defines.
pub const HISTOGRAM: &str = "price_histogram";
/// The line the logging probes log.
pub const LOG_LINE: &str = "price: one log line";
/// The cluster the HTTP-call probe calls.
pub const UPSTREAM: &str = "price-upstream";

/// Every priced operation, in report order.
pub const OPERATIONS: [Operation; 17] = [
    Operation {
        name: "price:get-header@c",
        op: "get-header",
        repeat: K,
        description: "get one request header's value (user-agent)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:get-pairs@c",
        op: "get-pairs",
        repeat: K,
        description: "get all request header pairs (8 / 64 headers)",
        workloads: &["get-small", "get-large-headers"],
        effect: Effect::Nothing,
        per: Some(Per::Header),
    },
    Operation {
        name: "price:add-header@c",
        op: "add-header",
        repeat: K,
        description: "add a request header",
        workloads: ON_GET,
        effect: Effect::AddsHeaders,
        per: None,
    },
    Operation {
        name: "price:replace-header@c",
        op: "replace-header",
        repeat: K,
        description: "replace a request header",
        workloads: ON_GET,
        effect: Effect::ReplacesHeader,
        per: None,
    },
    Operation {
        name: "price:remove-header@c",
        op: "remove-header",
        repeat: K,
        description: "remove a request header that is there (one of 64)",
        workloads: &["get-large-headers"],
        effect: Effect::RemovesHeaders,
        per: None,
    },
    Operation {
        name: "price:get-body@c",
        op: "get-body",
        repeat: K_BODY,
        description: "get the whole buffered request body (1 KiB / 64 KiB)",
        workloads: &["post-1k", "post-64k"],
        effect: Effect::Nothing,
        per: Some(Per::KiB),
    },
    Operation {
        name: "price:set-body@c",
        op: "set-body",
        repeat: K_BODY,
        description: "overwrite the whole buffered request body (1 KiB / 64 KiB)",
        workloads: &["post-1k", "post-64k"],
        effect: Effect::OverwritesBody,
        per: Some(Per::KiB),
    },
    Operation {
        name: "price:get-property@c",
        op: "get-property",
        repeat: K,
        description: "get a property (request.path)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:shared-get@c",
        op: "shared-get",
        repeat: K,
        description: "get a shared-data value (16 bytes)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:shared-set@c",
        op: "shared-set",
        repeat: K,
        description: "set a shared-data value (16 bytes)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:shared-cas@c",
        op: "shared-cas",
        repeat: K,
        description: "get a shared-data value, then set it with its CAS (two hostcalls)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:metric-increment@c",
        op: "metric-increment",
        repeat: K,
        description: "increment a counter",
        workloads: ON_GET,
        effect: Effect::Counts,
        per: None,
    },
    Operation {
        name: "price:metric-record@c",
        op: "metric-record",
        repeat: K,
        description: "record a histogram value",
        workloads: ON_GET,
        effect: Effect::Records,
        per: None,
    },
    Operation {
        name: "price:log-enabled@c",
        op: "log-enabled",
        repeat: K,
        description: "log a line at info (the plugin's level: kept)",
        workloads: ON_GET,
        effect: Effect::Logs,
        per: None,
    },
    Operation {
        name: "price:log-disabled@c",
        op: "log-disabled",
        repeat: K,
        description: "log a line at trace (below the level: the empty hostcall)",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:current-time@c",
        op: "current-time",
        repeat: K,
        description: "read the current time",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
    Operation {
        name: "price:http-call@c",
        op: "http-call",
        repeat: K_CALL,
        description: "dispatch an HTTP call, its answer delivered to an empty callback",
        workloads: ON_GET,
        effect: Effect::Nothing,
        per: None,
    },
];

/// Whether `name` is a price-list probe (the baseline included).
pub fn is_probe(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// The operation a probe measures (`None` for the baseline and other filters).
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Workloads of the baseline: every workload an operation is priced on.
pub fn base_workloads() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for w in OPERATIONS.iter().flat_map(|o| o.workloads.iter()) {
        if !out.contains(w) {
            out.push(w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_unique_probe_name_and_known_workloads() {
        for op in &OPERATIONS {
            assert!(is_probe(op.name) && op.name.ends_with("@c"), "{}", op.name);
            assert_eq!(OPERATIONS.iter().filter(|o| o.name == op.name).count(), 1);
            assert_eq!(operation(op.name).map(|o| o.op), Some(op.op));
            for w in op.workloads {
                assert!(crate::workloads::workload(w).is_some(), "{w}");
                assert!(base_workloads().contains(w));
            }
        }
        assert!(is_probe(BASE) && operation(BASE).is_none());
        assert!(!is_probe("headers@c"));
    }
}
