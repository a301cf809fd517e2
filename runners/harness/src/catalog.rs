//! The catalog: every bench filter with its plugin configuration, the workloads it runs on and
//! the effects it must have (checked on every engine before anything is timed).

use filterbench_host::{HeaderMap, HttpExchange};

/// Header edits one direction of a stream is expected to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderEdits {
    /// Headers appended.
    pub add: Vec<(String, String)>,
    /// Headers set (first occurrence overwritten, duplicates removed; appended if absent).
    pub replace: Vec<(String, String)>,
    /// Headers removed (every occurrence).
    pub remove: Vec<String>,
}

/// The observable effects of a filter on one exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Effects on the request headers forwarded upstream.
    pub request: HeaderEdits,
    /// Effects on the response headers sent downstream.
    pub response: HeaderEdits,
    /// Status of the local response the filter must send, if any.
    pub local_response: Option<u32>,
}

/// One bench filter.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    /// Name used with `--filter` and in results.
    pub name: &'static str,
    /// Crate (and library) name in `bench-filters/`.
    pub crate_name: &'static str,
    /// What the filter does.
    pub description: &'static str,
    /// Plugin configuration passed to `proxy_on_configure`.
    pub plugin_config: String,
    /// Workloads it is measured on.
    pub workloads: Vec<&'static str>,
    /// The effects it must have on those workloads.
    pub expected: Expected,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every bench filter, in listing order.
pub fn filters() -> Vec<FilterSpec> {
    vec![
        FilterSpec {
            name: "noop",
            crate_name: "noop",
            description: "passes every request and response through untouched (the bare lifecycle cost)",
            plugin_config: String::new(),
            workloads: vec!["get-small"],
            expected: Expected::default(),
        },
        FilterSpec {
            name: "headers",
            crate_name: "headers",
            description: "request: adds 3 headers, replaces 1, removes 1; response: adds 2 headers",
            plugin_config: r#"{
  "request": {
    "add": [["x-fb-tenant", "acme"], ["x-fb-region", "eu-west-1"], ["x-fb-trace", "on"]],
    "replace": [["user-agent", "filterbench-proxy/1.0"]],
    "remove": ["x-debug"]
  },
  "response": {
    "add": [["x-fb-served-by", "filterbench"], ["x-fb-cache", "miss"]]
  }
}"#
            .to_owned(),
            workloads: vec!["get-small"],
            expected: Expected {
                request: HeaderEdits {
                    add: pairs(&[
                        ("x-fb-tenant", "acme"),
                        ("x-fb-region", "eu-west-1"),
                        ("x-fb-trace", "on"),
                    ]),
                    replace: pairs(&[("user-agent", "filterbench-proxy/1.0")]),
                    remove: vec!["x-debug".to_owned()],
                },
                response: HeaderEdits {
                    add: pairs(&[("x-fb-served-by", "filterbench"), ("x-fb-cache", "miss")]),
                    ..HeaderEdits::default()
                },
                local_response: None,
            },
        },
    ]
}

/// The filter called `name`.
pub fn filter(name: &str) -> Option<FilterSpec> {
    filters().into_iter().find(|f| f.name == name)
}

/// A named request/response shape.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name used with `--workload` and in results.
    pub name: &'static str,
    /// What the exchange looks like.
    pub description: &'static str,
    /// The exchange itself.
    pub exchange: HttpExchange,
}

/// Every workload, in listing order.
pub fn workloads() -> Vec<Workload> {
    vec![Workload {
        name: "get-small",
        description: "GET with 8 request headers, no body; 200 response with 6 headers, no body",
        exchange: HttpExchange {
            request_headers: HeaderMap::from_pairs(&[
                (":method", "GET"),
                (":path", "/api/v1/items?id=42&view=full"),
                (":authority", "api.example.com"),
                (":scheme", "https"),
                (
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                ),
                ("accept", "application/json"),
                ("x-request-id", "3f2b9c1e-7d4a-4e8b-9a61-0c5d2e7f8a90"),
                ("x-debug", "1"),
            ]),
            response_headers: HeaderMap::from_pairs(&[
                (":status", "200"),
                ("content-type", "application/json"),
                ("content-length", "512"),
                ("date", "Wed, 25 Nov 2026 12:00:00 GMT"),
                ("server", "upstream"),
                ("cache-control", "no-store"),
            ]),
            ..HttpExchange::default()
        },
    }]
}

/// The workload called `name`.
pub fn workload(name: &str) -> Option<Workload> {
    workloads().into_iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_names_known_workloads_and_a_valid_configuration() {
        for filter in filters() {
            assert!(!filter.workloads.is_empty(), "{}", filter.name);
            for w in &filter.workloads {
                assert!(
                    workload(w).is_some(),
                    "{} uses unknown workload {w}",
                    filter.name
                );
            }
            if !filter.plugin_config.is_empty() {
                serde_json::from_str::<serde_json::Value>(&filter.plugin_config)
                    .unwrap_or_else(|e| panic!("{}: bad plugin config: {e}", filter.name));
            }
        }
        assert_eq!(
            workload("get-small")
                .unwrap()
                .exchange
                .request_headers
                .len(),
            8
        );
    }
}
