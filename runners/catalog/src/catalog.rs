//! The catalog: every bench filter with its plugin configuration, the workloads it runs on by
//! default and — for any workload — the effects it must have (checked on every engine before
//! anything is timed). Expectations are written from the workload itself, independently of the
//! filters' code, so a filter (or an engine) that misbehaves is caught.

use crate::assertions::Assertions;
use crate::price;
use crate::workloads;
pub use crate::workloads::{JWT_FORGED, JWT_VALID, Workload, workload, workloads};
use filterbench_host::abi::LogLevel;
use filterbench_host::{
    FilterError, FilterInstance, HeaderMap, LoadedModule, PluginSpec, UpstreamReply, UpstreamRoute,
};

/// Plugin settings a user gives their own module (`--root-id`, `--vm-id`, `--env`,
/// `--log-level`); the bench filters keep the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginSettings {
    /// `plugin_root_id`: the root context's id (SDKs pick their root context by it); empty by
    /// default.
    pub root_id: Option<String>,
    /// `plugin_vm_id` (default `filterbench.NAME`).
    pub vm_id: Option<String>,
    /// Environment variables the module reads through WASI `environ_get` (none by default, as
    /// in Envoy).
    pub environment: Vec<(String, String)>,
    /// Lowest level the module's log keeps and `proxy_get_log_level` reports (default info).
    pub log_level: Option<LogLevel>,
    /// Properties the module can read (dotted path, value encoded as Envoy encodes it).
    pub properties: Vec<(String, Vec<u8>)>,
    /// Virtual time between requests, ns (0: the wall clock, no ticks); see
    /// [`PluginSpec::clock_step_ns`].
    pub clock_step_ns: u64,
}

/// What a spec file adds to a user's module: workloads of its own, what must hold after each
/// workload's first request, and its gRPC upstreams.
#[derive(Clone, Debug, Default)]
pub struct Custom {
    /// Workloads defined by the spec (names distinct from the catalog's).
    pub workloads: Vec<Workload>,
    /// Assertions by workload name.
    pub assertions: Vec<(String, Assertions)>,
    /// The spec file the filter comes from (`None` for the bench filters and `--module`).
    pub spec_file: Option<std::path::PathBuf>,
    /// The spec's `.wasm`, for runners that load the file themselves (Envoy).
    pub wasm: Option<std::path::PathBuf>,
    /// Scripted answers to the module's gRPC calls and streams.
    pub grpc_upstreams: Vec<filterbench_host::GrpcRoute>,
    /// The spec's native library (`.so`), for runners that load the file themselves (Envoy's
    /// native variant, through the bridge's loader).
    pub native: Option<std::path::PathBuf>,
}

impl Custom {
    /// The assertions stated for workload `name`, if any.
    pub fn assertions_for(&self, name: &str) -> Option<&Assertions> {
        self.assertions
            .iter()
            .find(|(w, _)| w == name)
            .map(|(_, a)| a)
    }
}

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
    /// The request body the upstream must receive (`None`: the workload's body, unchanged).
    pub request_body: Option<Vec<u8>>,
    /// The response body the client must receive (`None`: the upstream's body, unchanged).
    pub response_body: Option<Vec<u8>>,
    /// Metrics and their values after the exchange (counters and gauges: the value;
    /// histograms: the sum of recorded values).
    pub metrics: Vec<(String, i64)>,
    /// Fragments that must appear in one message the filter logged.
    pub log_contains: Vec<String>,
}

/// What a filter must do to a workload: `None` when the catalog states no expectation (the
/// effects are then only observed and compared across engines).
pub type Expectation = fn(&Workload) -> Option<Expected>;

/// The language (and SDK) a bench filter is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Rust with the proxy-wasm SDK (`bench-filters/<crate>/`).
    Rust,
    /// AssemblyScript with the `@solo-io/proxy-runtime` SDK (`bench-filters/assemblyscript/`).
    AssemblyScript,
    /// C against the ABI directly, no SDK (`bench-filters/c/`).
    C,
    /// Standard Go against the ABI directly, no SDK (`bench-filters/go/`, a WASI reactor).
    Go,
}

impl Language {
    /// Every language, Rust first.
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::AssemblyScript,
        Language::C,
        Language::Go,
    ];

    /// Name after `@` in a filter's name (`headers@c`), and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::AssemblyScript => "assemblyscript",
            Language::C => "c",
            Language::Go => "go",
        }
    }

    /// How reports describe it.
    pub fn label(self) -> &'static str {
        match self {
            Language::Rust => "Rust (proxy-wasm SDK)",
            Language::AssemblyScript => "AssemblyScript (proxy-runtime SDK)",
            Language::C => "C (no SDK)",
            Language::Go => "Go (no SDK)",
        }
    }
}

/// The filter a catalog name is a language variant of, and its language: `headers@c` →
/// (`headers`, C); a plain name is the Rust filter.
pub fn split_language(name: &str) -> (&str, Language) {
    match name.split_once('@') {
        Some((base, lang)) => (
            base,
            Language::ALL
                .into_iter()
                .find(|l| l.name() == lang)
                .unwrap_or(Language::Rust),
        ),
        None => (name, Language::Rust),
    }
}

/// One bench filter.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    /// Name used with `--filter` and in results (`headers`, `headers@c`).
    pub name: &'static str,
    /// Crate (and library) name in `bench-filters/`; for other languages, the source file's
    /// stem (`headers` for `bench-filters/c/headers.c`).
    pub crate_name: &'static str,
    /// The language and SDK it is written in.
    pub language: Language,
    /// What the filter does.
    pub description: &'static str,
    /// Plugin configuration passed to `proxy_on_configure`.
    pub plugin_config: String,
    /// VM configuration passed to `proxy_on_vm_start` (empty for the bench filters).
    pub vm_config: String,
    /// Scripted answers to the filter's HTTP calls.
    pub upstreams: Vec<UpstreamRoute>,
    /// Workloads it is measured on by default (its allowed and rejected paths).
    pub workloads: Vec<&'static str>,
    /// The effects it must have on a workload.
    pub expect: Expectation,
    /// Largest linear memory an instance may grow to, bytes (`--memory-limit`).
    pub memory_limit_bytes: u64,
    /// Header and metric names whose values change with time (a rate limiter's reset time):
    /// compared across engines by presence only (`--volatile`). Lower case.
    pub volatile: Vec<String>,
    /// Plugin settings beyond the configurations.
    pub plugin: PluginSettings,
    /// Workloads and assertions from a spec file (empty for the bench filters).
    pub custom: Custom,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn local(status: u32) -> Option<Expected> {
    Some(Expected {
        local_response: Some(status),
        ..Expected::default()
    })
}

fn replace_request(list: &[(&str, &str)]) -> Option<Expected> {
    Some(Expected {
        request: HeaderEdits {
            replace: pairs(list),
            ..HeaderEdits::default()
        },
        ..Expected::default()
    })
}

/// The HMAC key `jwt-auth` is configured with.
pub const JWT_SECRET: &str = "filterbench-hs256-secret";

fn expect_noop(_: &Workload) -> Option<Expected> {
    Some(Expected::default())
}

fn expect_headers(_: &Workload) -> Option<Expected> {
    Some(Expected {
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
        ..Expected::default()
    })
}

fn expect_jwt(w: &Workload) -> Option<Expected> {
    let header = w.exchange.request_headers.get(b"authorization");
    if header == Some(format!("Bearer {JWT_VALID}").as_bytes()) {
        replace_request(&[("x-jwt-sub", "alice"), ("x-jwt-scope", "items:read")])
    } else {
        local(401)
    }
}

fn expect_rate_limit(w: &Workload) -> Option<Expected> {
    match w.exchange.request_headers.get(b"x-client-id") {
        Some(b"flooder") => local(429),
        _ => replace_request(&[("x-ratelimit-remaining", "999999999")]),
    }
}

fn expect_waf(w: &Workload) -> Option<Expected> {
    match w.name {
        "get-sqli" | "get-path-traversal" => local(403),
        _ => replace_request(&[("x-waf", "clean")]),
    }
}

/// The fields `body-redact` masks, and the mask.
const REDACTED_FIELDS: [&str; 2] = ["password", "card.number"];
const MASK: &str = "[REDACTED]";

/// The body `body-redact` must produce from `body` (a model written for the catalog).
fn redacted(headers: &HeaderMap, body: &[u8]) -> Option<Vec<u8>> {
    fn mask(value: &mut serde_json::Value, path: &[&str]) -> usize {
        match value {
            serde_json::Value::Array(items) => items.iter_mut().map(|v| mask(v, path)).sum(),
            serde_json::Value::Object(map) => match path {
                [last] if map.contains_key(*last) => {
                    map.insert(
                        (*last).to_owned(),
                        serde_json::Value::String(MASK.to_owned()),
                    );
                    1
                }
                [first, rest @ ..] if !rest.is_empty() => {
                    map.get_mut(*first).map_or(0, |v| mask(v, rest))
                }
                _ => 0,
            },
            _ => 0,
        }
    }
    if body.is_empty()
        || !headers
            .get(b"content-type")
            .is_some_and(|t| t.starts_with(b"application/json"))
    {
        return None;
    }
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let masked: usize = REDACTED_FIELDS
        .iter()
        .map(|f| mask(&mut value, &f.split('.').collect::<Vec<_>>()))
        .sum();
    Some(if masked > 0 {
        serde_json::to_vec(&value).ok()?
    } else {
        body.to_vec()
    })
}

fn expect_body_redact(w: &Workload) -> Option<Expected> {
    let ex = &w.exchange;
    let mut expected = Expected::default();
    if let Some(body) = redacted(&ex.request_headers, &ex.request_body.concat()) {
        expected.request.remove.push("content-length".to_owned());
        expected.request_body = Some(body);
    }
    if let Some(body) = redacted(&ex.response_headers, &ex.response_body.concat()) {
        expected.response.remove.push("content-length".to_owned());
        expected.response_body = Some(body);
    }
    Some(expected)
}

fn expect_access_log(w: &Workload) -> Option<Expected> {
    let req = &w.exchange.request_headers;
    let text = |map: &HeaderMap, key: &str| {
        String::from_utf8_lossy(map.get(key.as_bytes()).unwrap_or(b"-")).into_owned()
    };
    Some(Expected {
        log_contains: vec![
            format!(
                "access \"{} {} HTTP/1.1\" {} ",
                text(req, ":method"),
                text(req, ":path"),
                text(&w.exchange.response_headers, ":status")
            ),
            format!(
                " upstream={} ua=\"{}\"",
                filterbench_host::state::UPSTREAM_ADDRESS,
                text(req, "user-agent")
            ),
        ],
        ..Expected::default()
    })
}

fn expect_metrics(w: &Workload) -> Option<Expected> {
    let ex = &w.exchange;
    let method =
        String::from_utf8_lossy(ex.request_headers.get(b":method").unwrap_or(b"-")).into_owned();
    let class = ex
        .response_headers
        .get(b":status")
        .and_then(|s| s.first())
        .map_or("other".to_owned(), |c| format!("{}xx", *c as char));
    Some(Expected {
        metrics: vec![
            (
                format!("filterbench_requests_total;method={method};status={class}"),
                1,
            ),
            (
                "filterbench_request_headers".to_owned(),
                ex.request_headers.len() as i64,
            ),
        ],
        ..Expected::default()
    })
}

fn expect_http_callout(w: &Workload) -> Option<Expected> {
    match w.exchange.request_headers.get(b"x-user") {
        Some(b"mallory") => local(403),
        _ => replace_request(&[("x-auth-user", "alice")]),
    }
}

/// Every bench filter, in listing order: the Rust filters, then their versions in other
/// languages ([`LANGUAGE_VARIANTS`]), then the price-list probes ([`crate::price`]).
pub fn filters() -> Vec<FilterSpec> {
    let reply = |status: &str, extra: &[(&str, &str)]| {
        let mut headers = HeaderMap::from_pairs(&[(":status", status)]);
        for (k, v) in extra {
            headers.add(k.as_bytes(), v.as_bytes());
        }
        UpstreamReply {
            headers,
            ..UpstreamReply::default()
        }
    };
    let spec = |name: &'static str,
                description: &'static str,
                config: &str,
                workloads: &[&'static str],
                expect: Expectation| {
        FilterSpec {
            name,
            crate_name: name,
            language: Language::Rust,
            description,
            plugin_config: config.to_owned(),
            vm_config: String::new(),
            upstreams: Vec::new(),
            workloads: workloads.to_vec(),
            expect,
            memory_limit_bytes: filterbench_host::DEFAULT_MEMORY_LIMIT_BYTES,
            volatile: Vec::new(),
            plugin: PluginSettings::default(),
            custom: Custom::default(),
        }
    };
    let mut rust = vec![
        spec(
            "noop",
            "passes everything through untouched (the bare lifecycle cost)",
            "",
            &[
                "get-small",
                "get-headers-only",
                "get-large-headers",
                "post-64k",
            ],
            expect_noop,
        ),
        spec(
            "headers",
            "request: adds 3 headers, replaces 1, removes 1; response: adds 2 headers",
            r#"{
  "request": {
    "add": [["x-fb-tenant", "acme"], ["x-fb-region", "eu-west-1"], ["x-fb-trace", "on"]],
    "replace": [["user-agent", "filterbench-proxy/1.0"]],
    "remove": ["x-debug"]
  },
  "response": { "add": [["x-fb-served-by", "filterbench"], ["x-fb-cache", "miss"]] }
}"#,
            &["get-small", "get-large-headers", "post-1k"],
            expect_headers,
        ),
        spec(
            "jwt-auth",
            "validates an HS256 JWT (signature, exp, aud), forwards its claims; 401 otherwise",
            &format!(r#"{{"secret": "{JWT_SECRET}", "audience": "api.example.com"}}"#),
            &["get-authorized", "get-forged-token"],
            expect_jwt,
        ),
        spec(
            "rate-limit",
            "token bucket per client key in shared data with CAS retries; 429 when empty",
            r#"{"key_header": "x-client-id", "capacity": 1000000000, "refill_per_second": 1000000000,
  "overrides": {"flooder": {"capacity": 0, "refill_per_second": 0}}}"#,
            &["get-small", "get-flood-client"],
            expect_rate_limit,
        ),
        spec(
            "body-redact",
            "buffers JSON request/response bodies and masks password and card.number",
            r#"{"fields": ["password", "card.number"], "mask": "[REDACTED]"}"#,
            &["post-1k", "post-64k", "post-1m"],
            expect_body_redact,
        ),
        spec(
            "waf",
            "regex rules over path, query and headers (SQL injection, path traversal); 403 on match",
            r#"{"rules": [
  {"name": "sqli-tautology", "pattern": "(?i)'(\\s|%20|\\+)*(or|and)(\\s|%20|\\+)", "target": "query"},
  {"name": "sqli-union", "pattern": "(?i)union(\\s|%20|\\+)+select", "target": "query"},
  {"name": "path-traversal", "pattern": "(\\.\\./|%2e%2e%2f|\\.\\.%2f)", "target": "path"},
  {"name": "scanner-agent", "pattern": "(?i)(sqlmap|nikto|nmap)", "target": "headers"}
]}"#,
            &["get-small", "get-sqli", "get-path-traversal"],
            expect_waf,
        ),
        spec(
            "access-log",
            "writes one formatted access-log line per request from request/response properties",
            r#"{"prefix": "access"}"#,
            &["get-small", "post-1k"],
            expect_access_log,
        ),
        spec(
            "metrics",
            "counts requests by method and status class; histogram of request header counts",
            r#"{"prefix": "filterbench"}"#,
            &["get-small", "get-large-headers"],
            expect_metrics,
        ),
        FilterSpec {
            upstreams: vec![
                UpstreamRoute {
                    cluster: "auth-service".to_owned(),
                    when_header: Some(("x-user".to_owned(), "mallory".to_owned())),
                    reply: reply("403", &[]),
                },
                UpstreamRoute {
                    cluster: "auth-service".to_owned(),
                    when_header: None,
                    reply: reply("200", &[("x-auth-user", "alice")]),
                },
            ],
            ..spec(
                "http-callout",
                "asks an authorization service with an HTTP call, then resumes or answers 403",
                r#"{"upstream": "auth-service", "authority": "auth.internal", "path": "/check", "user_header": "x-user"}"#,
                &["get-small", "get-denied-user"],
                expect_http_callout,
            )
        },
    ];
    let variants: Vec<FilterSpec> = LANGUAGE_VARIANTS
        .iter()
        .filter_map(|(name, base, language)| {
            let rust = rust.iter().find(|f| f.name == *base)?;
            Some(FilterSpec {
                name,
                language: *language,
                ..rust.clone()
            })
        })
        .collect();
    rust.extend(variants);
    rust.extend(price_probes());
    rust
}

/// The price-list probes ([`crate::price`]) as catalog filters: the do-nothing probe first, then
/// one per operation, all from `bench-filters/c/price.c` configured "OP K".
fn price_probes() -> Vec<FilterSpec> {
    let spec = |name: &'static str,
                description: &'static str,
                config: String,
                workloads: Vec<&'static str>,
                expect: Expectation| FilterSpec {
        name,
        crate_name: "price",
        language: Language::C,
        description,
        plugin_config: config,
        vm_config: String::new(),
        upstreams: vec![UpstreamRoute {
            cluster: price::UPSTREAM.to_owned(),
            when_header: None,
            reply: UpstreamReply {
                headers: HeaderMap::from_pairs(&[(":status", "200")]),
                ..UpstreamReply::default()
            },
        }],
        workloads,
        expect,
        memory_limit_bytes: filterbench_host::DEFAULT_MEMORY_LIMIT_BYTES,
        volatile: Vec::new(),
        plugin: PluginSettings::default(),
        custom: Custom::default(),
    };
    let mut out = vec![spec(
        price::BASE,
        "price-list baseline: the probe module doing nothing",
        "none 0".to_owned(),
        price::base_workloads(),
        expect_noop,
    )];
    out.extend(price::OPERATIONS.iter().map(|o| {
        let expect: Expectation = match o.effect {
            price::Effect::Nothing => expect_noop,
            price::Effect::AddsHeaders => expect_price_headers_added,
            price::Effect::ReplacesHeader => expect_price_header_replaced,
            price::Effect::RemovesHeaders => expect_price_headers_removed,
            price::Effect::OverwritesBody => expect_price_body_overwritten,
            price::Effect::Counts => expect_price_counted,
            price::Effect::Records => expect_price_recorded,
            price::Effect::Logs => expect_price_logged,
        };
        spec(
            o.name,
            o.description,
            format!("{} {}", o.op, o.repeat),
            o.workloads.to_vec(),
            expect,
        )
    }));
    out
}

fn price_header() -> (String, String) {
    (price::HEADER.0.to_owned(), price::HEADER.1.to_owned())
}

fn expect_price_headers_added(_: &Workload) -> Option<Expected> {
    Some(Expected {
        request: HeaderEdits {
            add: vec![price_header(); price::K as usize],
            ..HeaderEdits::default()
        },
        ..Expected::default()
    })
}

fn expect_price_header_replaced(_: &Workload) -> Option<Expected> {
    Some(Expected {
        request: HeaderEdits {
            replace: vec![price_header()],
            ..HeaderEdits::default()
        },
        ..Expected::default()
    })
}

fn expect_price_headers_removed(_: &Workload) -> Option<Expected> {
    Some(Expected {
        request: HeaderEdits {
            remove: price::removed_headers(),
            ..HeaderEdits::default()
        },
        ..Expected::default()
    })
}

fn expect_price_body_overwritten(w: &Workload) -> Option<Expected> {
    let size: usize = w.exchange.request_body.iter().map(Vec::len).sum();
    Some(Expected {
        request_body: Some(vec![b'x'; size]),
        ..Expected::default()
    })
}

fn expect_price_counted(_: &Workload) -> Option<Expected> {
    Some(Expected {
        metrics: vec![(price::COUNTER.to_owned(), i64::from(price::K))],
        ..Expected::default()
    })
}

fn expect_price_recorded(_: &Workload) -> Option<Expected> {
    Some(Expected {
        metrics: vec![(price::HISTOGRAM.to_owned(), i64::from(price::K))],
        ..Expected::default()
    })
}

fn expect_price_logged(_: &Workload) -> Option<Expected> {
    Some(Expected {
        log_contains: vec![price::LOG_LINE.to_owned()],
        ..Expected::default()
    })
}

/// The group a filter is measured in: all languages of one filter together (`headers`,
/// `headers@c`, …), and all price-list probes together (each is compared with the baseline
/// probe on the same engine).
pub fn measure_group(name: &str) -> &str {
    if price::is_probe(name) {
        price::GROUP
    } else {
        split_language(name).0
    }
}

/// The bench filters also written in other languages: (catalog name, Rust filter, language).
/// Each does exactly the work of the Rust filter, from the same configuration, and is held to
/// the same expectations.
pub const LANGUAGE_VARIANTS: [(&str, &str, Language); 6] = [
    ("noop@assemblyscript", "noop", Language::AssemblyScript),
    (
        "headers@assemblyscript",
        "headers",
        Language::AssemblyScript,
    ),
    ("noop@c", "noop", Language::C),
    ("headers@c", "headers", Language::C),
    ("noop@go", "noop", Language::Go),
    ("headers@go", "headers", Language::Go),
];

impl FilterSpec {
    /// Whether the catalog states no expectation for this filter at all (a user's own module):
    /// its effects are only observed and compared across engines, on any workload.
    pub fn observe_only(&self) -> bool {
        self.workloads
            .iter()
            .filter_map(|w| workload(w))
            .all(|w| (self.expect)(&w).is_none())
    }
}

/// A filter the catalog knows nothing about: a user's own module, run with `plugin_config`
/// and `vm_config` and `plugin` settings on `workloads`, its effects observed (`volatile`
/// headers and metrics by presence) and compared across engines.
pub fn user_module(
    name: &'static str,
    plugin_config: String,
    vm_config: String,
    plugin: PluginSettings,
    workloads: Vec<&'static str>,
    volatile: Vec<String>,
) -> FilterSpec {
    FilterSpec {
        name,
        crate_name: name,
        language: Language::Rust,
        description: "a user's own module (no stated expectations: effects are compared across engines)",
        plugin_config,
        vm_config,
        upstreams: Vec::new(),
        workloads,
        expect: |_| None,
        memory_limit_bytes: filterbench_host::DEFAULT_MEMORY_LIMIT_BYTES,
        volatile: volatile
            .into_iter()
            .map(|name| name.to_ascii_lowercase())
            .collect(),
        plugin,
        custom: Custom::default(),
    }
}

/// The filter called `name`.
pub fn filter(name: &str) -> Option<FilterSpec> {
    filters().into_iter().find(|f| f.name == name)
}

/// Names of the workload groups usable with `--workload` (`sweep:headers`, `sweep:body`).
pub fn expand_workload_names(names: &[String]) -> Vec<String> {
    names
        .iter()
        .flat_map(|name| match name.strip_prefix("sweep:") {
            Some(group) => workloads::sweep(group)
                .iter()
                .map(|w| w.name.to_owned())
                .collect(),
            None => vec![name.clone()],
        })
        .collect()
}

/// The plugin (configuration) of a subject.
pub fn plugin_for(filter: &FilterSpec) -> PluginSpec {
    let mut plugin = PluginSpec {
        upstreams: std::sync::Arc::new(filter.upstreams.clone()),
        grpc_upstreams: std::sync::Arc::new(filter.custom.grpc_upstreams.clone()),
        vm_configuration: filter.vm_config.clone().into_bytes(),
        memory_limit_bytes: filter.memory_limit_bytes,
        environment: filter.plugin.environment.clone(),
        properties: filter.plugin.properties.clone(),
        clock_step_ns: filter.plugin.clock_step_ns,
        ..PluginSpec::new(filter.name, filter.plugin_config.clone().into_bytes())
    };
    let settings = &filter.plugin;
    if let Some(root_id) = &settings.root_id {
        plugin.root_id.clone_from(root_id);
    }
    if let Some(vm_id) = &settings.vm_id {
        plugin.vm_id.clone_from(vm_id);
    }
    if let Some(level) = settings.log_level {
        plugin.log_level = level;
    }
    plugin
}

/// Instantiates and starts a module for a filter.
pub fn start_instance(
    module: &dyn LoadedModule,
    filter: &FilterSpec,
) -> Result<Box<dyn FilterInstance>, FilterError> {
    let mut instance = module.instantiate(plugin_for(filter))?;
    instance.start()?;
    Ok(instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_plugin_settings_reach_the_plugin_and_the_defaults_stay_otherwise() {
        let plain = user_module(
            "own",
            "{}".into(),
            String::new(),
            Default::default(),
            vec![],
            vec![],
        );
        let default = plugin_for(&plain);
        assert_eq!(
            (default.root_id.as_str(), default.vm_id.as_str()),
            ("", "filterbench.own")
        );
        assert_eq!(default.log_level, LogLevel::Info);
        assert!(default.environment.is_empty());
        let settings = PluginSettings {
            root_id: Some("edge".into()),
            vm_id: Some("shared-vm".into()),
            environment: vec![("REGION".into(), "eu".into())],
            log_level: Some(LogLevel::Debug),
            ..PluginSettings::default()
        };
        let own = user_module("own", "{}".into(), String::new(), settings, vec![], vec![]);
        let plugin = plugin_for(&own);
        assert_eq!(
            (plugin.root_id.as_str(), plugin.vm_id.as_str()),
            ("edge", "shared-vm")
        );
        assert_eq!(plugin.environment, [("REGION".to_owned(), "eu".to_owned())]);
        assert_eq!(plugin.log_level, LogLevel::Debug);
        assert_eq!(plugin.plugin_configuration, b"{}");
    }

    #[test]
    fn language_variants_do_the_rust_filters_work_from_the_same_configuration() {
        let all = filters();
        for (name, base, language) in LANGUAGE_VARIANTS {
            let variant = all.iter().find(|f| f.name == name).unwrap();
            let rust = all.iter().find(|f| f.name == base).unwrap();
            assert_eq!(variant.language, language);
            assert_eq!(rust.language, Language::Rust);
            assert_eq!(variant.plugin_config, rust.plugin_config);
            assert_eq!(variant.workloads, rust.workloads);
            assert_eq!(variant.crate_name, rust.crate_name);
            assert_eq!(split_language(name), (base, language));
        }
        assert_eq!(split_language("jwt-auth"), ("jwt-auth", Language::Rust));
    }

    #[test]
    fn every_filter_names_known_workloads_with_expectations_and_a_valid_configuration() {
        for filter in filters() {
            assert!(!filter.workloads.is_empty(), "{}", filter.name);
            for w in &filter.workloads {
                let workload = workload(w)
                    .unwrap_or_else(|| panic!("{} uses unknown workload {w}", filter.name));
                assert!(
                    (filter.expect)(&workload).is_some(),
                    "{} states no expectation for {w}",
                    filter.name
                );
            }
            // The price-list probes take "OP K" (checked in `price`); the filters take JSON.
            if !filter.plugin_config.is_empty() && !price::is_probe(filter.name) {
                serde_json::from_str::<serde_json::Value>(&filter.plugin_config)
                    .unwrap_or_else(|e| panic!("{}: bad plugin config: {e}", filter.name));
            }
        }
    }

    #[test]
    fn the_price_probes_are_configured_op_k_with_a_baseline_on_each_workload() {
        let probes: Vec<FilterSpec> = filters()
            .into_iter()
            .filter(|f| price::is_probe(f.name))
            .collect();
        assert_eq!(probes.len(), price::OPERATIONS.len() + 1);
        let base = probes.iter().find(|p| p.name == price::BASE).unwrap();
        assert_eq!(base.plugin_config, "none 0");
        for op in &price::OPERATIONS {
            let probe = probes.iter().find(|p| p.name == op.name).unwrap();
            assert_eq!(probe.plugin_config, format!("{} {}", op.op, op.repeat));
            assert_eq!(probe.language, Language::C);
            assert!(probe.workloads.iter().all(|w| base.workloads.contains(w)));
            assert_eq!(measure_group(probe.name), price::GROUP);
        }
        let added = (filter("price:add-header@c").unwrap().expect)(&workload("get-small").unwrap());
        assert_eq!(added.unwrap().request.add.len(), price::K as usize);
        assert_eq!(measure_group("headers@c"), "headers");
        let large = workload("get-large-headers")
            .unwrap()
            .exchange
            .request_headers;
        for name in price::removed_headers() {
            assert!(
                large.get(name.as_bytes()).is_some(),
                "{name} is not there to remove"
            );
        }
    }

    #[test]
    fn allowed_and_rejected_paths_are_both_covered() {
        for name in ["jwt-auth", "rate-limit", "waf", "http-callout"] {
            let filter = filter(name).unwrap();
            let locals: Vec<Option<u32>> = filter
                .workloads
                .iter()
                .map(|w| {
                    (filter.expect)(&workload(w).unwrap())
                        .unwrap()
                        .local_response
                })
                .collect();
            assert!(
                locals.contains(&None) && locals.iter().any(Option::is_some),
                "{name}: {locals:?}"
            );
        }
    }

    #[test]
    fn the_redaction_model_masks_nested_fields_in_arrays() {
        let headers = HeaderMap::from_pairs(&[("content-type", "application/json")]);
        let body =
            br#"[{"user":"a","password":"p","card":{"number":"4111","exp":"1/30"}},{"user":"b"}]"#;
        let out = String::from_utf8(redacted(&headers, body).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"[{"card":{"exp":"1/30","number":"[REDACTED]"},"password":"[REDACTED]","user":"a"},{"user":"b"}]"#
        );
        assert_eq!(
            redacted(&HeaderMap::new(), body),
            None,
            "only JSON bodies are touched"
        );
    }

    #[test]
    fn sweep_groups_expand() {
        let names = expand_workload_names(&["sweep:headers".to_owned(), "get-small".to_owned()]);
        assert_eq!(names.first().map(String::as_str), Some("headers-8"));
        assert!(
            names.contains(&"headers-128".to_owned()) && names.contains(&"get-small".to_owned())
        );
    }
}
