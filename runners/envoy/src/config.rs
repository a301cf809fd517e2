//! Envoy bootstrap configurations, one per (filter, variant), as JSON (Envoy reads a `.json`
//! bootstrap as readily as YAML).
//!
//! Every configuration has one listener (127.0.0.1, ephemeral port), the variant's HTTP filters
//! before the router, and two routes: requests carrying [`ECHO_HEADER`] go to the project's
//! upstream (conformance checks read the forwarded request there); all others get Envoy's
//! `direct_response` (pure filter cost) or go to the upstream too ([`UpstreamMode::Server`]).
//! A spec's network filter gets a TCP listener instead (the filter before `tcp_proxy`), and a
//! root-only plugin a singleton Wasm service (`bootstrap_extensions`).

use crate::upstream::ECHO_HEADER;
use base64::Engine as _;
use filterbench_harness::catalog::{FilterSpec, JWT_SECRET};
use filterbench_harness::envoy::TCP_UNIT;
use serde_json::{Value, json};
use std::path::Path;

/// How a filter is put into Envoy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// No filter: the baseline.
    None,
    /// The bench filter's `.wasm` on Envoy's V8 runtime.
    V8,
    /// The same bench filter source compiled natively and loaded as an Envoy dynamic module
    /// through the Proxy-Wasm bridge (`runners/envoy-bridge`).
    Native,
    /// Envoy's own filter(s) doing the same work.
    Builtin,
    /// An Envoy Lua script doing the same work.
    Lua,
}

impl Variant {
    /// Every variant, in report order.
    pub const ALL: [Variant; 5] = [
        Variant::None,
        Variant::V8,
        Variant::Native,
        Variant::Builtin,
        Variant::Lua,
    ];

    /// Name used with `--variant` and in results.
    pub fn name(self) -> &'static str {
        match self {
            Variant::None => "none",
            Variant::V8 => "v8",
            Variant::Native => "native",
            Variant::Builtin => "builtin",
            Variant::Lua => "lua",
        }
    }

    /// Parses a `--variant` name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Where requests without [`ECHO_HEADER`] are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamMode {
    /// Envoy's `direct_response` (no upstream: the filter's cost alone).
    Direct,
    /// Proxied to the project's upstream server.
    Server,
}

impl UpstreamMode {
    /// Name used with `--upstream` and in results.
    pub fn name(self) -> &'static str {
        match self {
            UpstreamMode::Direct => "direct",
            UpstreamMode::Server => "server",
        }
    }
}

/// A (filter, variant) that cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The variant has no equivalent for this filter.
    #[error(
        "filter {filter} has no {variant} variant (it has: {available}); pick one of those with --variant"
    )]
    NoSuchVariant {
        /// Filter name.
        filter: String,
        /// Variant asked for.
        variant: &'static str,
        /// Variants it has.
        available: String,
    },
    /// The filter's plugin configuration could not be translated.
    #[error("filter {filter}: cannot translate its plugin configuration for Envoy: {detail}")]
    Translate {
        /// Filter name.
        filter: String,
        /// What was wrong.
        detail: String,
    },
}

pub use crate::filters::{DEFAULT_FILTERS, SUPPORTED_FILTERS};

/// The variants `filter` has, in report order: a user's own module (from a spec file, or a
/// module given directly, as the conformance kit's probes) runs on V8 (next to the baseline)
/// and, when it has a native library and is an HTTP filter, natively through the bridge's
/// loader; see [`variants_for`] for the bench filters.
pub fn variants_of(filter: &FilterSpec) -> Vec<Variant> {
    let custom = &filter.custom;
    if custom.spec_file.is_some() || custom.wasm.is_some() || custom.native.is_some() {
        let mut v = vec![Variant::None, Variant::V8];
        if filter.custom.native.is_some() && !is_network(filter) && !is_root_only(filter) {
            v.push(Variant::Native);
        }
        v
    } else {
        variants_for(filter.name)
    }
}

/// The variants the bench filter `filter` has, in report order.
pub fn variants_for(filter: &str) -> Vec<Variant> {
    let mut v = vec![Variant::None, Variant::V8];
    if crate::filters::bridges(filter) {
        v.push(Variant::Native);
    }
    if matches!(filter, "headers" | "jwt-auth" | "waf") {
        v.push(Variant::Builtin);
    }
    if matches!(filter, "noop" | "headers" | "waf") {
        v.push(Variant::Lua);
    }
    v
}

/// One configured variant: Envoy's HTTP filters (router excluded) and a description.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterChain {
    /// `http_filters` entries, in order, before the router (`network`: network filters, in
    /// order, before the TCP proxy).
    pub filters: Vec<Value>,
    /// The listener proxies TCP connections (a network filter's chain) instead of HTTP.
    pub network: bool,
    /// A Wasm service the bootstrap starts (a root-only plugin: `envoy.bootstrap.wasm`).
    pub service: Option<Value>,
    /// What it is, e.g. `envoy.filters.http.wasm (V8) + headers.wasm`.
    pub description: String,
}

/// The HTTP filters that make `variant` of `filter`; `artifact` is the filter's `.wasm` (V8)
/// or its bridged dynamic module (native), unused otherwise.
pub fn filter_chain(
    filter: &FilterSpec,
    variant: Variant,
    artifact: &Path,
) -> Result<FilterChain, ConfigError> {
    if !variants_of(filter).contains(&variant) {
        return Err(ConfigError::NoSuchVariant {
            filter: filter.name.to_owned(),
            variant: variant.name(),
            available: variants_of(filter)
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let chain = |filters: Vec<Value>, description: String| FilterChain {
        filters,
        description,
        ..FilterChain::default()
    };
    if is_root_only(filter) {
        return Ok(match variant {
            Variant::V8 => FilterChain {
                service: Some(wasm_service(filter, artifact)),
                description: format!(
                    "envoy.bootstrap.wasm (a singleton service on V8) running {}; a root-only \
                     plugin: checked through Envoy, no requests",
                    file_name(artifact)
                ),
                ..FilterChain::default()
            },
            _ => chain(Vec::new(), "no plugin".to_owned()),
        });
    }
    if is_network(filter) {
        let (filters, description) = match variant {
            Variant::V8 => (
                vec![wasm_network_filter(filter, artifact)],
                format!(
                    "envoy.filters.network.wasm on V8 running {} before tcp_proxy; {TCP_UNIT}",
                    file_name(artifact)
                ),
            ),
            _ => (
                Vec::new(),
                format!("no filter (tcp_proxy only); {TCP_UNIT}"),
            ),
        };
        return Ok(FilterChain {
            filters,
            network: true,
            description,
            service: None,
        });
    }
    Ok(match variant {
        Variant::None => chain(Vec::new(), "no filter (router only)".to_owned()),
        Variant::V8 => chain(
            vec![wasm_filter(filter, artifact)],
            format!(
                "envoy.filters.http.wasm on V8 running {}",
                file_name(artifact)
            ),
        ),
        Variant::Native if filter.custom.native.is_some() => chain(
            vec![dynamic_module_filter(filter, artifact)?],
            format!(
                "envoy.filters.http.dynamic_modules loading {} natively through the Proxy-Wasm bridge's loader",
                filter
                    .custom
                    .native
                    .as_deref()
                    .map(file_name)
                    .unwrap_or_default()
            ),
        ),
        Variant::Native => chain(
            vec![dynamic_module_filter(filter, artifact)?],
            format!(
                "envoy.filters.http.dynamic_modules loading {} (the same source, native, through the Proxy-Wasm bridge)",
                file_name(artifact)
            ),
        ),
        Variant::Lua => chain(
            vec![lua_filter(&lua_script(filter)?)],
            format!("envoy.filters.http.lua ({} script)", filter.name),
        ),
        Variant::Builtin => match filter.name {
            "headers" => chain(
                vec![header_mutation(&HeaderEdits::parse(filter)?)],
                "envoy.filters.http.header_mutation".to_owned(),
            ),
            "jwt-auth" => chain(
                vec![jwt_authn(filter)?],
                "envoy.filters.http.jwt_authn (HS256 local JWKS, claims to headers)".to_owned(),
            ),
            "waf" => chain(
                vec![
                    rbac_waf(filter)?,
                    header_mutation(&HeaderEdits {
                        request_replace: vec![("x-waf".into(), "clean".into())],
                        ..HeaderEdits::default()
                    }),
                ],
                "envoy.filters.http.rbac (deny rules, RE2) + header_mutation (x-waf: clean)"
                    .to_owned(),
            ),
            _ => unreachable!("variants_for lists builtin only for the filters above"),
        },
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The bridged module as a dynamic-module HTTP filter: the plugin configuration goes in as the
/// filter config (a `StringValue`, which Envoy hands over as its bytes).
fn dynamic_module_filter(filter: &FilterSpec, module: &Path) -> Result<Value, ConfigError> {
    if !filter.vm_config.is_empty() {
        return Err(ConfigError::Translate {
            filter: filter.name.to_owned(),
            detail: "the native variant's bridge passes no VM configuration".to_owned(),
        });
    }
    Ok(json!({
        "name": "envoy.filters.http.dynamic_modules",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {
                "module": {"local": {"filename": module.display().to_string()}},
            },
            "filter_name": filter.name,
            "filter_config": string_value(&filter.plugin_config),
        }
    }))
}

/// What a workload sends through Envoy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    /// An HTTP request (every catalog workload).
    Http,
    /// A TCP connection (a network filter's).
    Tcp,
    /// A tick or a queue item (a root-only plugin's).
    Root,
}

/// The kind of `filter`'s workload `name` (a spec's own, else the catalog's: HTTP).
pub fn workload_kind(filter: &FilterSpec, name: &str) -> WorkloadKind {
    use filterbench_host::Unit;
    match filter.custom.workloads.iter().find(|w| w.name == name) {
        Some(w) => match w.exchange.unit {
            Unit::Http => WorkloadKind::Http,
            Unit::Tcp(_) => WorkloadKind::Tcp,
            Unit::Tick | Unit::QueueItem { .. } => WorkloadKind::Root,
        },
        None => WorkloadKind::Http,
    }
}

/// Whether every workload of `filter` is of `kind` (and it has some).
fn all_of_kind(filter: &FilterSpec, kind: WorkloadKind) -> bool {
    !filter.workloads.is_empty()
        && filter
            .workloads
            .iter()
            .all(|name| workload_kind(filter, name) == kind)
}

/// Whether `filter` is a network (TCP) filter: a spec whose workloads are all TCP connections.
pub fn is_network(filter: &FilterSpec) -> bool {
    all_of_kind(filter, WorkloadKind::Tcp)
}

/// Whether `filter` is a root-only plugin: a spec whose workloads are all ticks and queue items.
pub fn is_root_only(filter: &FilterSpec) -> bool {
    all_of_kind(filter, WorkloadKind::Root)
}

/// The module as a singleton Wasm service (`envoy.bootstrap.wasm`, one VM on Envoy's main
/// thread): what Envoy runs a root-only plugin as.
fn wasm_service(filter: &FilterSpec, wasm: &Path) -> Value {
    let http = wasm_filter(filter, wasm);
    json!({
        "name": "envoy.bootstrap.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.wasm.v3.WasmService",
            "singleton": true,
            "config": http["typed_config"]["config"],
        }
    })
}

/// The module as a network filter (`envoy.filters.network.wasm`): the same plugin and VM
/// configuration as the HTTP filter's.
fn wasm_network_filter(filter: &FilterSpec, wasm: &Path) -> Value {
    let mut value = wasm_filter(filter, wasm);
    value["name"] = json!("envoy.filters.network.wasm");
    value["typed_config"]["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm");
    value
}

fn wasm_filter(filter: &FilterSpec, wasm: &Path) -> Value {
    let plugin = &filter.plugin;
    let mut vm_config = json!({
        "vm_id": plugin.vm_id.as_deref().unwrap_or(filter.name),
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": wasm.display().to_string()}},
    });
    if !filter.vm_config.is_empty() {
        vm_config["configuration"] = string_value(&filter.vm_config);
    }
    if !plugin.environment.is_empty() {
        let values: serde_json::Map<String, Value> = plugin
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        vm_config["environment_variables"] = json!({"key_values": values});
    }
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": filter.name,
                "root_id": plugin.root_id.as_deref().unwrap_or(""),
                "configuration": string_value(&filter.plugin_config),
                "vm_config": vm_config,
                "fail_open": false,
            }
        }
    })
}

fn string_value(text: &str) -> Value {
    json!({"@type": "type.googleapis.com/google.protobuf.StringValue", "value": text})
}

fn lua_filter(script: &str) -> Value {
    json!({
        "name": "envoy.filters.http.lua",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
            "default_source_code": {"inline_string": script},
        }
    })
}

/// The header edits of the `headers` filter, read from its plugin configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HeaderEdits {
    request_add: Vec<(String, String)>,
    request_replace: Vec<(String, String)>,
    request_remove: Vec<String>,
    response_add: Vec<(String, String)>,
}

impl HeaderEdits {
    fn parse(filter: &FilterSpec) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Side {
            add: Vec<(String, String)>,
            replace: Vec<(String, String)>,
            remove: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct Config {
            #[serde(default)]
            request: Side,
            #[serde(default)]
            response: Side,
        }
        let config: Config =
            serde_json::from_str(&filter.plugin_config).map_err(|e| ConfigError::Translate {
                filter: filter.name.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            request_add: config.request.add,
            request_replace: config.request.replace,
            request_remove: config.request.remove,
            response_add: config.response.add,
        })
    }
}

fn header_mutation(edits: &HeaderEdits) -> Value {
    let append = |list: &[(String, String)], action: &str| -> Vec<Value> {
        list.iter()
            .map(|(k, v)| {
                json!({"append": {"header": {"key": k, "value": v}, "append_action": action}})
            })
            .collect()
    };
    let mut request = append(&edits.request_add, "APPEND_IF_EXISTS_OR_ADD");
    request.extend(append(&edits.request_replace, "OVERWRITE_IF_EXISTS_OR_ADD"));
    request.extend(edits.request_remove.iter().map(|k| json!({"remove": k})));
    json!({
        "name": "envoy.filters.http.header_mutation",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
            "mutations": {
                "request_mutations": request,
                "response_mutations": append(&edits.response_add, "APPEND_IF_EXISTS_OR_ADD"),
            }
        }
    })
}

fn config_field<'a>(
    filter: &FilterSpec,
    config: &'a Value,
    key: &str,
) -> Result<&'a str, ConfigError> {
    config[key].as_str().ok_or_else(|| ConfigError::Translate {
        filter: filter.name.to_owned(),
        detail: format!("no string field {key:?}"),
    })
}

fn parse_config(filter: &FilterSpec) -> Result<Value, ConfigError> {
    serde_json::from_str(&filter.plugin_config).map_err(|e| ConfigError::Translate {
        filter: filter.name.to_owned(),
        detail: e.to_string(),
    })
}

fn jwt_authn(filter: &FilterSpec) -> Result<Value, ConfigError> {
    let config = parse_config(filter)?;
    let secret = config_field(filter, &config, "secret")?;
    let audience = config_field(filter, &config, "audience")?;
    debug_assert_eq!(secret, JWT_SECRET);
    let jwks = json!({"keys": [{
        "kty": "oct",
        "alg": "HS256",
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    }]});
    Ok(json!({
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"filterbench": {
                "audiences": [audience],
                "local_jwks": {"inline_string": jwks.to_string()},
                "forward": true,
                "claim_to_headers": [
                    {"header_name": "x-jwt-sub", "claim_name": "sub"},
                    {"header_name": "x-jwt-scope", "claim_name": "scope"},
                ],
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "filterbench"}}],
        }
    }))
}

/// RE2 full-match pattern equivalent to searching `pattern` anywhere in `:path` (`within`:
/// `query` restricts it to after the `?`, `path` to before it).
fn anywhere(pattern: &str, within: &str) -> String {
    let (flags, body) = match pattern.strip_prefix("(?i)") {
        Some(rest) => ("(?i)", rest),
        None => ("", pattern),
    };
    match within {
        "query" => format!("{flags}[^?]*\\?.*(?:{body}).*"),
        "path" => format!("{flags}[^?]*(?:{body})[^?]*(?:\\?.*)?"),
        _ => format!("{flags}.*(?:{body}).*"),
    }
}

fn rbac_waf(filter: &FilterSpec) -> Result<Value, ConfigError> {
    let config = parse_config(filter)?;
    let rules = config["rules"]
        .as_array()
        .ok_or_else(|| ConfigError::Translate {
            filter: filter.name.to_owned(),
            detail: "no rules array".to_owned(),
        })?;
    let mut policies = serde_json::Map::new();
    for rule in rules {
        let name = config_field(filter, rule, "name")?;
        let pattern = config_field(filter, rule, "pattern")?;
        let target = config_field(filter, rule, "target")?;
        // RBAC matches one named header: `headers` rules look at user-agent, where scanners
        // announce themselves (the Wasm and Lua filters look at every header value).
        let (header, regex) = match target {
            "headers" => ("user-agent", anywhere(pattern, "headers")),
            _ => (":path", anywhere(pattern, target)),
        };
        policies.insert(
            name.to_owned(),
            json!({
                "permissions": [{"header": {"name": header, "string_match": {"safe_regex": {"regex": regex}}}}],
                "principals": [{"any": true}],
            }),
        );
    }
    Ok(json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "DENY", "policies": policies},
        }
    }))
}

fn lua_quote(s: &str) -> String {
    format!("{s:?}")
}

/// The Lua script of `filter` (noop and waf are files; headers is generated from its
/// configuration so the edits are the same).
fn lua_script(filter: &FilterSpec) -> Result<String, ConfigError> {
    Ok(match filter.name {
        "noop" => include_str!("../lua/noop.lua").to_owned(),
        "waf" => include_str!("../lua/waf.lua").to_owned(),
        "headers" => {
            let edits = HeaderEdits::parse(filter)?;
            let mut s = String::from(
                "-- headers: the bench filter's edits, generated from its configuration.\n\
                 function envoy_on_request(request_handle)\n  local h = request_handle:headers()\n",
            );
            for (k, v) in &edits.request_add {
                s += &format!("  h:add({}, {})\n", lua_quote(k), lua_quote(v));
            }
            for (k, v) in &edits.request_replace {
                s += &format!("  h:replace({}, {})\n", lua_quote(k), lua_quote(v));
            }
            for k in &edits.request_remove {
                s += &format!("  h:remove({})\n", lua_quote(k));
            }
            s += "end\n\nfunction envoy_on_response(response_handle)\n  local h = response_handle:headers()\n";
            for (k, v) in &edits.response_add {
                s += &format!("  h:add({}, {})\n", lua_quote(k), lua_quote(v));
            }
            s += "end\n";
            s
        }
        other => unreachable!("variants_for lists lua only for noop, headers, waf, not {other}"),
    })
}

/// Copy `index` of `chain` as a separate plugin: every Wasm filter in it gets its own VM id and
/// plugin name (suffix `-index`; copy 0 is `chain` unchanged), so Envoy creates a VM per copy
/// instead of sharing one. Other filters are copied as they are.
pub fn numbered(chain: &FilterChain, index: u32) -> FilterChain {
    let mut copy = chain.clone();
    if index == 0 {
        return copy;
    }
    // Only Wasm filters have `typed_config.config` (indexing would add it to the others).
    let wasm_configs = copy
        .filters
        .iter_mut()
        .filter_map(|f| f.get_mut("typed_config")?.get_mut("config"));
    for config in wasm_configs {
        if let Some(id) = config["vm_config"]["vm_id"].as_str().map(str::to_owned) {
            config["vm_config"]["vm_id"] = json!(format!("{id}-{index}"));
        }
        if let Some(name) = config["name"].as_str().map(str::to_owned) {
            config["name"] = json!(format!("{name}-{index}"));
        }
    }
    copy
}

/// `copies` copies of `chain` one after another in one chain ([`numbered`]: one VM each).
pub fn repeated(chain: &FilterChain, copies: u32) -> FilterChain {
    FilterChain {
        filters: (0..copies.max(1))
            .flat_map(|i| numbered(chain, i).filters)
            .collect(),
        network: chain.network,
        service: chain.service.clone(),
        description: if copies > 1 {
            format!("{} × {copies} in one chain", chain.description)
        } else {
            chain.description.clone()
        },
    }
}

/// Where the bootstrap's listener, admin and upstream are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Port of the project's upstream on 127.0.0.1.
    pub upstream_port: u16,
    /// How requests without the echo header are answered.
    pub mode: UpstreamMode,
    /// What a filter spec adds (`None` for the bench filters).
    pub spec: Option<SpecRouting>,
}

/// What a filter spec adds to the bootstrap: its upstream clusters (HTTP and gRPC), its route's
/// name and the answer of the direct route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecRouting {
    /// Clusters the module calls (name, port of the scripted upstream on 127.0.0.1).
    pub clusters: Vec<(String, u16)>,
    /// gRPC clusters the module calls (name, port of the gRPC upstream on 127.0.0.1): spoken
    /// to over HTTP/2.
    pub grpc_clusters: Vec<(String, u16)>,
    /// Name of every route (what the module reads as the `route_name` property).
    pub route_name: Option<String>,
    /// What the direct route answers (its first workload's response) instead of `200 ok`.
    pub direct: Option<crate::upstream::Answer>,
    /// Port of the scripted TCP upstream ([`TCP_CLUSTER`]) a network filter's listeners proxy
    /// to.
    pub tcp_port: Option<u16>,
}

/// The cluster a network filter's TCP proxy sends connections to.
pub const TCP_CLUSTER: &str = "tcp_upstream";

fn static_cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address":
                {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]
        }
    })
}

/// The whole bootstrap for one variant: one listener, `ingress`.
pub fn bootstrap(chain: &FilterChain, endpoints: &Endpoints) -> Value {
    bootstrap_listeners(&[("ingress", chain)], endpoints)
}

/// A bootstrap with one listener per `(name, chain)`, each on its own ephemeral port with its
/// own HTTP connection manager (stat prefix = name), all served by the same worker(s).
pub fn bootstrap_listeners(chains: &[(&str, &FilterChain)], endpoints: &Endpoints) -> Value {
    let socket =
        |port: u16| json!({"socket_address": {"address": "127.0.0.1", "port_value": port}});
    let listeners: Vec<Value> = chains
        .iter()
        .map(|(name, chain)| listener(name, chain, endpoints))
        .collect();
    let mut clusters = vec![static_cluster("upstream", endpoints.upstream_port)];
    if let Some(spec) = &endpoints.spec {
        clusters.extend(
            spec.clusters
                .iter()
                .map(|(name, port)| static_cluster(name, *port)),
        );
        if let Some(port) = spec.tcp_port {
            clusters.push(static_cluster(TCP_CLUSTER, port));
        }
        clusters.extend(spec.grpc_clusters.iter().map(|(name, port)| {
            let mut cluster = static_cluster(name, *port);
            cluster["typed_extension_protocol_options"] = json!({
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}
                }
            });
            cluster
        }));
    }
    let services: Vec<Value> = chains
        .iter()
        .filter_map(|(_, chain)| chain.service.clone())
        .collect();
    json!({
        "admin": {"address": socket(0)},
        "bootstrap_extensions": services,
        "static_resources": {
            "listeners": listeners,
            "clusters": clusters,
        },
        // Silences the "no configured limit on downstream connections" warning.
        "overload_manager": {"resource_monitors": [{
            "name": "envoy.resource_monitors.global_downstream_max_connections",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                "max_active_downstream_connections": 10000
            }
        }]}
    })
}

/// One listener named `name` on 127.0.0.1 (ephemeral port) running `chain` before the router
/// (or, for a network chain, before a TCP proxy to [`TCP_CLUSTER`]).
fn listener(name: &str, chain: &FilterChain, endpoints: &Endpoints) -> Value {
    if chain.network {
        let mut filters = chain.filters.clone();
        filters.push(json!({
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                "stat_prefix": name,
                "cluster": TCP_CLUSTER,
            }
        }));
        return json!({
            "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": filters}],
        });
    }
    let mut filters = chain.filters.clone();
    filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
    }));
    let spec = endpoints.spec.as_ref();
    let mut default_route = match (endpoints.mode, spec.and_then(|s| s.direct.as_ref())) {
        (UpstreamMode::Direct, None) => json!({
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}
        }),
        (UpstreamMode::Direct, Some(answer)) => direct_answer(answer),
        (UpstreamMode::Server, _) => {
            json!({"match": {"prefix": "/"}, "route": {"cluster": "upstream"}})
        }
    };
    let mut echo_route = json!({
        "match": {"prefix": "/", "headers": [{"name": ECHO_HEADER, "present_match": true}]},
        "route": {"cluster": "upstream"}
    });
    if let Some(route_name) = spec.and_then(|s| s.route_name.as_ref()) {
        echo_route["name"] = json!(route_name);
        default_route["name"] = json!(route_name);
    }
    json!({
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": name,
                "route_config": {"name": "local", "virtual_hosts": [{
                    "name": "all",
                    "domains": ["*"],
                    "routes": [echo_route, default_route]
                }]},
                "http_filters": filters,
            }
        }]}]
    })
}

/// The direct route answering with `answer` (Envoy sets `content-length` itself).
fn direct_answer(answer: &crate::upstream::Answer) -> Value {
    let headers: Vec<Value> = answer
        .headers
        .iter()
        .filter(|(k, _)| {
            !k.starts_with(':')
                && !matches!(
                    k.as_str(),
                    "content-length" | "transfer-encoding" | "connection" | "date" | "server"
                )
        })
        .map(|(k, v)| json!({"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}))
        .collect();
    json!({
        "match": {"prefix": "/"},
        "direct_response": {
            "status": answer.status,
            "body": {"inline_string": String::from_utf8_lossy(&answer.body)},
        },
        "response_headers_to_add": headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_harness::catalog;

    fn spec(name: &str) -> FilterSpec {
        catalog::filter(name).unwrap()
    }

    fn chain(name: &str, variant: Variant) -> FilterChain {
        filter_chain(&spec(name), variant, Path::new("/abs/headers.wasm")).unwrap()
    }

    fn names(chain: &FilterChain) -> Vec<&str> {
        chain
            .filters
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn repeated_chains_give_every_wasm_copy_its_own_vm() {
        let c = chain("headers", Variant::V8);
        let three = repeated(&c, 3);
        assert_eq!(three.filters.len(), 3);
        let ids: Vec<&str> = three
            .filters
            .iter()
            .map(|f| {
                f["typed_config"]["config"]["vm_config"]["vm_id"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, ["headers", "headers-1", "headers-2"]);
        assert_eq!(
            three.filters[2]["typed_config"]["config"]["name"],
            "headers-2"
        );
        assert!(three.description.ends_with("× 3 in one chain"));
        let lua = chain("headers", Variant::Lua);
        let two = repeated(&lua, 2);
        assert_eq!(two.filters[0], lua.filters[0]);
        assert_eq!(two.filters[1], lua.filters[0]);
        assert_eq!(repeated(&c, 1), c);
    }

    #[test]
    fn baseline_has_only_the_router_and_both_routes() {
        let c = chain("headers", Variant::None);
        assert!(c.filters.is_empty());
        let b = bootstrap(
            &c,
            &Endpoints {
                upstream_port: 4321,
                mode: UpstreamMode::Direct,
                spec: None,
            },
        );
        let hcm = &b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
        let filters = hcm["http_filters"].as_array().unwrap();
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0]["name"], "envoy.filters.http.router");
        let routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
            .as_array()
            .unwrap();
        assert_eq!(routes[0]["match"]["headers"][0]["name"], ECHO_HEADER);
        assert_eq!(routes[1]["direct_response"]["status"], 200);
        assert_eq!(
            b["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"]
                [0]["endpoint"]["address"]["socket_address"]["port_value"],
            4321
        );
        assert_eq!(
            b["admin"]["address"]["socket_address"]["address"],
            "127.0.0.1"
        );
        let proxied = bootstrap(
            &c,
            &Endpoints {
                upstream_port: 4321,
                mode: UpstreamMode::Server,
                spec: None,
            },
        );
        let routes = &proxied["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["route_config"]["virtual_hosts"][0]["routes"];
        assert_eq!(routes[1]["route"]["cluster"], "upstream");
    }

    #[test]
    fn a_spec_adds_its_clusters_route_name_answer_and_plugin_settings() {
        use crate::upstream::Answer;
        let mut filter = spec("noop");
        filter.plugin.root_id = Some("my_root".to_owned());
        filter.plugin.vm_id = Some("my_vm".to_owned());
        filter.plugin.environment = vec![("REGION".to_owned(), "eu".to_owned())];
        let c = filter_chain(&filter, Variant::V8, Path::new("/abs/mine.wasm")).unwrap();
        let config = &c.filters[0]["typed_config"]["config"];
        assert_eq!(config["root_id"], "my_root");
        assert_eq!(config["vm_config"]["vm_id"], "my_vm");
        assert_eq!(
            config["vm_config"]["environment_variables"]["key_values"]["REGION"],
            "eu"
        );
        let b = bootstrap(
            &c,
            &Endpoints {
                upstream_port: 4321,
                mode: UpstreamMode::Direct,
                spec: Some(SpecRouting {
                    clusters: vec![("token-service".to_owned(), 5555)],
                    grpc_clusters: vec![("authz".to_owned(), 5556)],
                    route_name: Some("api-route".to_owned()),
                    direct: Some(Answer {
                        status: 201,
                        headers: vec![
                            ("content-type".to_owned(), "application/json".to_owned()),
                            ("content-length".to_owned(), "10".to_owned()),
                        ],
                        body: b"{\"id\": 42}".to_vec(),
                        delay: std::time::Duration::ZERO,
                    }),
                    tcp_port: None,
                }),
            },
        );
        let clusters = b["static_resources"]["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 3);
        assert_eq!(clusters[1]["name"], "token-service");
        assert_eq!(clusters[2]["name"], "authz");
        assert!(
            clusters[2]["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"]
                .get("http2_protocol_options")
                .is_some(),
            "gRPC clusters speak HTTP/2"
        );
        assert_eq!(
            clusters[1]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"]["port_value"],
            5555
        );
        let routes = &b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
            ["route_config"]["virtual_hosts"][0]["routes"];
        assert_eq!(routes[0]["name"], "api-route");
        assert_eq!(routes[1]["name"], "api-route");
        assert_eq!(routes[1]["direct_response"]["status"], 201);
        assert_eq!(
            routes[1]["direct_response"]["body"]["inline_string"],
            "{\"id\": 42}"
        );
        let added = routes[1]["response_headers_to_add"].as_array().unwrap();
        assert_eq!(added.len(), 1, "content-length is Envoy's: {added:?}");
        assert_eq!(added[0]["header"]["key"], "content-type");
    }

    #[test]
    fn a_network_filter_runs_before_a_tcp_proxy_to_the_tcp_upstream() {
        let mut f = catalog::user_module(
            "mine",
            "{\"mode\": \"tcp\"}".to_owned(),
            String::new(),
            catalog::PluginSettings::default(),
            vec!["echo"],
            Vec::new(),
        );
        let mut w = catalog::workload("get-small").unwrap();
        w.name = "echo";
        w.exchange.unit = filterbench_host::Unit::Tcp(filterbench_host::TcpExchange::default());
        f.custom.workloads.push(w);
        f.custom.spec_file = Some("/x/spec.yaml".into());
        assert!(is_network(&f));
        assert!(!is_root_only(&f));
        // A catalog workload next to it is an HTTP request: no longer a network filter.
        f.workloads.push("get-small");
        assert_eq!(workload_kind(&f, "get-small"), WorkloadKind::Http);
        assert!(!is_network(&f));
        f.workloads.pop();
        let endpoints = Endpoints {
            upstream_port: 1,
            mode: UpstreamMode::Direct,
            spec: Some(SpecRouting {
                clusters: Vec::new(),
                grpc_clusters: Vec::new(),
                route_name: None,
                direct: None,
                tcp_port: Some(7777),
            }),
        };
        for (variant, filters) in [
            (
                Variant::V8,
                vec![
                    "envoy.filters.network.wasm",
                    "envoy.filters.network.tcp_proxy",
                ],
            ),
            (Variant::None, vec!["envoy.filters.network.tcp_proxy"]),
        ] {
            let c = filter_chain(&f, variant, Path::new("/m/probe.wasm")).unwrap();
            assert!(c.network);
            let b = bootstrap(&c, &endpoints);
            let chain = &b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"];
            let names: Vec<&str> = chain
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, filters);
            assert_eq!(
                chain[filters.len() - 1]["typed_config"]["cluster"],
                TCP_CLUSTER
            );
            let clusters = b["static_resources"]["clusters"].as_array().unwrap();
            let tcp = clusters.iter().find(|c| c["name"] == TCP_CLUSTER).unwrap();
            assert_eq!(
                tcp["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
                    ["port_value"],
                7777
            );
        }
        let c = filter_chain(&f, Variant::V8, Path::new("/m/probe.wasm")).unwrap();
        assert_eq!(
            c.filters[0]["typed_config"]["@type"],
            "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
        );
        assert_eq!(
            c.filters[0]["typed_config"]["config"]["configuration"]["value"],
            "{\"mode\": \"tcp\"}"
        );
    }

    #[test]
    fn v8_loads_the_wasm_file_with_the_catalog_configuration() {
        let c = chain("headers", Variant::V8);
        assert_eq!(names(&c), vec!["envoy.filters.http.wasm"]);
        let config = &c.filters[0]["typed_config"]["config"];
        assert_eq!(config["vm_config"]["runtime"], "envoy.wasm.runtime.v8");
        assert_eq!(
            config["vm_config"]["code"]["local"]["filename"],
            "/abs/headers.wasm"
        );
        assert_eq!(
            config["configuration"]["value"],
            spec("headers").plugin_config
        );
        assert_eq!(config["fail_open"], false);
    }

    #[test]
    fn builtin_headers_are_the_same_edits_as_the_plugin_configuration() {
        let c = chain("headers", Variant::Builtin);
        let m = &c.filters[0]["typed_config"]["mutations"];
        let req = m["request_mutations"].as_array().unwrap();
        assert_eq!(req.len(), 5, "{req:?}");
        assert_eq!(req[0]["append"]["header"]["key"], "x-fb-tenant");
        assert_eq!(req[0]["append"]["append_action"], "APPEND_IF_EXISTS_OR_ADD");
        assert_eq!(req[3]["append"]["header"]["value"], "filterbench-proxy/1.0");
        assert_eq!(
            req[3]["append"]["append_action"],
            "OVERWRITE_IF_EXISTS_OR_ADD"
        );
        assert_eq!(req[4]["remove"], "x-debug");
        assert_eq!(m["response_mutations"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn builtin_jwt_uses_the_secret_as_an_oct_key_and_maps_claims() {
        let c = chain("jwt-auth", Variant::Builtin);
        let provider = &c.filters[0]["typed_config"]["providers"]["filterbench"];
        assert_eq!(provider["audiences"][0], "api.example.com");
        let jwks: Value =
            serde_json::from_str(provider["local_jwks"]["inline_string"].as_str().unwrap())
                .unwrap();
        let k = jwks["keys"][0]["k"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k)
                .unwrap(),
            JWT_SECRET.as_bytes()
        );
        assert_eq!(provider["claim_to_headers"][0]["header_name"], "x-jwt-sub");
        assert_eq!(provider["forward"], true);
    }

    #[test]
    fn builtin_waf_denies_each_rule_and_marks_clean_requests() {
        let c = chain("waf", Variant::Builtin);
        assert_eq!(
            names(&c),
            vec![
                "envoy.filters.http.rbac",
                "envoy.filters.http.header_mutation"
            ]
        );
        let rules = &c.filters[0]["typed_config"]["rules"];
        assert_eq!(rules["action"], "DENY");
        let policies = rules["policies"].as_object().unwrap();
        assert_eq!(policies.len(), 4);
        let regex = |name: &str| {
            policies[name]["permissions"][0]["header"]["string_match"]["safe_regex"]["regex"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert!(regex("sqli-tautology").starts_with("(?i)[^?]*\\?"));
        assert_eq!(
            policies["scanner-agent"]["permissions"][0]["header"]["name"],
            "user-agent"
        );
        assert!(regex("path-traversal").contains("\\.\\./"));
    }

    #[test]
    fn lua_scripts_exist_for_their_filters_and_headers_edits_come_from_the_configuration() {
        let c = chain("headers", Variant::Lua);
        let script = c.filters[0]["typed_config"]["default_source_code"]["inline_string"]
            .as_str()
            .unwrap();
        assert!(
            script.contains("h:add(\"x-fb-tenant\", \"acme\")"),
            "{script}"
        );
        assert!(script.contains("h:replace(\"user-agent\", \"filterbench-proxy/1.0\")"));
        assert!(script.contains("h:remove(\"x-debug\")"));
        assert!(script.contains("function envoy_on_response"));
        for name in ["noop", "waf"] {
            let c = chain(name, Variant::Lua);
            assert_eq!(names(&c), vec!["envoy.filters.http.lua"]);
        }
    }

    #[test]
    fn a_variant_a_filter_lacks_is_a_clear_error() {
        let err = filter_chain(&spec("jwt-auth"), Variant::Lua, Path::new("/x.wasm")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("jwt-auth has no lua variant"), "{text}");
        assert!(text.contains("none, v8, native, builtin"), "{text}");
        assert_eq!(
            variants_for("rate-limit"),
            vec![Variant::None, Variant::V8, Variant::Native]
        );
        assert_eq!(variants_for("metrics"), vec![Variant::None, Variant::V8]);
        let err = filter_chain(&spec("metrics"), Variant::Native, Path::new("/x.so")).unwrap_err();
        assert!(err.to_string().contains("metrics has no native variant"));
    }

    #[test]
    fn native_loads_the_bridged_module_with_the_catalog_configuration() {
        let c = filter_chain(
            &spec("waf"),
            Variant::Native,
            Path::new("/abs/libenvoy_waf.so"),
        )
        .unwrap();
        assert_eq!(names(&c), vec!["envoy.filters.http.dynamic_modules"]);
        let config = &c.filters[0]["typed_config"];
        assert_eq!(
            config["dynamic_module_config"]["module"]["local"]["filename"],
            "/abs/libenvoy_waf.so"
        );
        assert_eq!(config["filter_name"], "waf");
        assert_eq!(config["filter_config"]["value"], spec("waf").plugin_config);
        assert!(
            c.description.contains("libenvoy_waf.so"),
            "{}",
            c.description
        );
        let mut with_vm_config = spec("noop");
        with_vm_config.vm_config = "{}".to_owned();
        let err = filter_chain(&with_vm_config, Variant::Native, Path::new("/x.so")).unwrap_err();
        assert!(err.to_string().contains("no VM configuration"), "{err}");
    }
}
