//! A filter spec's module in Envoy (`filterbench envoy --spec FILE`): what the spec adds to the
//! bootstrap (a cluster per upstream it declares, served by a scripted upstream; the route's
//! name; the direct route answering with the first workload's response), and its expectations
//! checked through Envoy on real requests.
//!
//! Checked as in-process: request headers as the upstream received them, response headers as
//! the client got them, local replies (a request that never reached the upstream) and their
//! body, log lines (in Envoy's log, the `wasm` component at the spec's level). Different by
//! nature: a metric must be defined (`wasmcustom.NAME`) with at least the stated value, since
//! Envoy runs one VM per worker plus one on the main thread and they share the stat; ticks follow
//! Envoy's real clock, so `ticks_at_least` is checked in-process only. A workload stated as
//! `paused` must get no answer within [`PAUSED_WAIT`] (Envoy holds a paused stream until its
//! timeouts); the others must be answered.
//!
//! A network filter's workloads are TCP connections through a `tcp_proxy` listener to the
//! scripted TCP upstream ([`crate::tcp`]); a root-only plugin's ticks come from Envoy's clock
//! (nothing is sent; its log and metrics are checked) and its queue items are checked
//! in-process only.

use crate::config::SpecRouting;
use crate::http::Response;
use crate::process::EnvoyProcess;
use crate::requests::{self, find_workload};
use crate::tcp::{self, TcpUpstream};
use crate::upstream::{Answer, ECHO_HEADER, Echo, Rule, Upstream};
use filterbench_harness::assertions::{self, Assertions};
use filterbench_harness::catalog::FilterSpec;
use filterbench_host::{GrpcRoute, HeaderMap, TcpExchange, Unit, UpstreamRoute};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Request header naming the workload whose response the upstream answers with.
pub const RESPOND_HEADER: &str = "x-fb-respond";

/// The properties Envoy takes from the route's name. (Envoy 1.40 answers `route_name` with an
/// empty string while request headers are processed, before the router has picked the route;
/// `xds.route_name` has the name then.)
const ROUTE_NAME_PROPERTIES: [&str; 2] = ["xds.route_name", "route_name"];

/// How long a request the spec expects to stay paused is waited for (Envoy holds a paused
/// stream until its own timeouts, minutes by default).
const PAUSED_WAIT: Duration = Duration::from_secs(2);

/// How long a spec that calls out gets for its first answers to arrive (Envoy answers a
/// module's HTTP calls asynchronously, after it is ready).
const SETTLE: Duration = Duration::from_secs(5);

/// How long a network filter's check may wait for its close callbacks: V8 compiles a module's
/// functions on their first call, which under callgrind on a busy machine took seconds.
const TCP_SETTLE: Duration = Duration::from_secs(20);

/// Whether `filter` comes from a spec file.
pub fn is_spec(filter: &FilterSpec) -> bool {
    filter.custom.spec_file.is_some()
}

/// An answer made of a Proxy-Wasm header map (with `:status`) and body chunks.
pub fn answer_of(headers: &HeaderMap, body: &[u8]) -> Answer {
    let status = headers
        .get(b":status")
        .and_then(|s| std::str::from_utf8(s).ok()?.trim().parse().ok())
        .unwrap_or(200);
    Answer {
        status,
        headers: headers
            .iter()
            .filter(|(k, _)| !k.starts_with(b":"))
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).to_ascii_lowercase(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        delay: Duration::ZERO,
    }
}

/// The upstream clusters `filter` calls, each with its scripted answers, in the spec's order.
pub fn cluster_rules(filter: &FilterSpec) -> Vec<(String, Vec<Rule>)> {
    rules_by_cluster(&filter.upstreams)
}

/// Scripted HTTP answers grouped by cluster, in order, as the scripted upstream's rules.
pub fn rules_by_cluster(routes: &[UpstreamRoute]) -> Vec<(String, Vec<Rule>)> {
    let mut out: Vec<(String, Vec<Rule>)> = Vec::new();
    for route in routes {
        let rule = Rule {
            when_header: route.when_header.clone(),
            answer: Answer {
                delay: Duration::from_millis(route.reply.delay_ms),
                ..answer_of(&route.reply.headers, &route.reply.body)
            },
        };
        match out.iter_mut().find(|(name, _)| *name == route.cluster) {
            Some((_, rules)) => rules.push(rule),
            None => out.push((route.cluster.clone(), vec![rule])),
        }
    }
    out
}

/// The main upstream's rules: a request carrying [`RESPOND_HEADER`]` = W` gets workload W's
/// response.
pub fn workload_rules(filter: &FilterSpec) -> Vec<Rule> {
    filter
        .workloads
        .iter()
        .filter_map(|name| {
            let w = find_workload(filter, name)?;
            Some(Rule {
                when_header: Some((RESPOND_HEADER.to_owned(), (*name).to_owned())),
                answer: answer_of(
                    &w.exchange.response_headers,
                    &w.exchange.response_body.concat(),
                ),
            })
        })
        .collect()
}

/// The spec's gRPC entries grouped by cluster, in order.
pub fn grpc_clusters(filter: &FilterSpec) -> Vec<(String, Vec<GrpcRoute>)> {
    grpc_routes_by_cluster(&filter.custom.grpc_upstreams)
}

/// Scripted gRPC answers grouped by cluster, in order.
pub fn grpc_routes_by_cluster(routes: &[GrpcRoute]) -> Vec<(String, Vec<GrpcRoute>)> {
    let mut out: Vec<(String, Vec<GrpcRoute>)> = Vec::new();
    for route in routes {
        match out.iter_mut().find(|(name, _)| *name == route.cluster) {
            Some((_, routes)) => routes.push(route.clone()),
            None => out.push((route.cluster.clone(), vec![route.clone()])),
        }
    }
    out
}

/// What `filter`'s spec adds to the bootstrap, with its clusters' upstreams at `cluster_ports`,
/// its gRPC clusters' at `grpc_ports` and a network filter's TCP upstream at `tcp_port`.
pub fn routing(
    filter: &FilterSpec,
    cluster_ports: Vec<(String, u16)>,
    grpc_ports: Vec<(String, u16)>,
    tcp_port: Option<u16>,
) -> SpecRouting {
    let route_name = filter
        .plugin
        .properties
        .iter()
        .find(|(k, _)| ROUTE_NAME_PROPERTIES.contains(&k.as_str()))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let direct = filter
        .workloads
        .first()
        .and_then(|name| find_workload(filter, name))
        .map(|w| {
            answer_of(
                &w.exchange.response_headers,
                &w.exchange.response_body.concat(),
            )
        });
    SpecRouting {
        clusters: cluster_ports,
        grpc_clusters: grpc_ports,
        route_name,
        direct,
        tcp_port,
    }
}

/// The TCP connection of workload `name`, if it is one.
pub fn tcp_exchange(filter: &FilterSpec, name: &str) -> Option<TcpExchange> {
    match find_workload(filter, name)?.exchange.unit {
        Unit::Tcp(exchange) => Some(exchange),
        _ => None,
    }
}

/// The connection a network filter's load makes (its first workload's).
pub fn tcp_load(filter: &FilterSpec) -> Option<TcpExchange> {
    tcp_exchange(filter, filter.workloads.first()?)
}

/// Properties the spec sets that Envoy cannot be given (the module sees Envoy's own values).
pub fn untranslatable_properties(filter: &FilterSpec) -> Vec<String> {
    filter
        .plugin
        .properties
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !ROUTE_NAME_PROPERTIES.contains(&k.as_str()))
        .collect()
}

/// Envoy's name for a Proxy-Wasm log level (its `wasm` log component is set to it).
pub fn envoy_log_level(filter: &FilterSpec) -> &'static str {
    use filterbench_host::abi::LogLevel;
    match filter.plugin.log_level.unwrap_or(LogLevel::Info) {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warning",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
    }
}

/// Where a spec's checks send their requests and look for effects.
pub struct Probe<'a> {
    /// The listener running the variant.
    pub listener: SocketAddr,
    /// The Envoy (log and stats).
    pub envoy: &'a EnvoyProcess,
    /// The main upstream (what reached it).
    pub upstream: &'a Upstream,
    /// The variant is the baseline: every request must reach the upstream.
    pub passthrough: bool,
    /// The TCP upstream (a network filter's spec).
    pub tcp: Option<&'a TcpUpstream>,
}

/// One workload's request and what came of it.
struct Sent {
    response: Response,
    /// The request as the upstream received it (`None`: answered in Envoy).
    received: Option<Echo>,
}

/// Sends workload `name`; `Ok(None)`: no answer within [`PAUSED_WAIT`], as `expect_paused`
/// says there should not be.
fn send(
    filter: &FilterSpec,
    name: &str,
    probe: &Probe,
    expect_paused: bool,
) -> Result<Option<Sent>, String> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let w = find_workload(filter, name).ok_or_else(|| format!("no workload named {name}"))?;
    let id = format!("{name}-{}", SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let timeout = if expect_paused {
        PAUSED_WAIT
    } else {
        requests::ANSWER_TIMEOUT
    };
    let sent = requests::send(
        &w,
        probe.listener,
        &[(ECHO_HEADER, &id), (RESPOND_HEADER, name)],
        timeout,
    )
    .1;
    match sent {
        Err(e) if expect_paused && is_timeout(&e) => Ok(None),
        Err(e) if is_timeout(&e) => Err(format!(
            "no answer within {} s (did the module pause the stream and never continue it?)",
            timeout.as_secs()
        )),
        Err(e) => Err(format!("request failed: {e}")),
        Ok(response) if expect_paused => Err(format!(
            "stream: expected paused, Envoy answered {}",
            response.status
        )),
        Ok(response) => Ok(Some(Sent {
            response,
            received: probe.upstream.received(&id),
        })),
    }
}

/// What `stated` finds wrong with one workload's request through Envoy (log and metrics are
/// checked once for all workloads, in [`check`]).
fn stream_mismatches(stated: &Assertions, sent: &Sent) -> Vec<String> {
    let response = &sent.response;
    let local = sent.received.is_none().then_some(response.status);
    let mut out = Vec::new();
    if let Some(want) = stated.local_reply
        && want != local.map(u32::from)
    {
        let show = |s: Option<u32>| s.map_or("none".to_owned(), |s| s.to_string());
        out.push(format!(
            "local reply: expected {}, got {}{}",
            show(want),
            show(local.map(u32::from)),
            if local.is_some() {
                format!(
                    " ({:?})",
                    response.text().chars().take(120).collect::<String>()
                )
            } else {
                String::new()
            }
        ));
    }
    if let Some(fragment) = &stated.local_reply_body_contains
        && !(local.is_some() && response.text().contains(fragment.as_str()))
    {
        out.push(format!(
            "local reply body: expected to contain {fragment:?}, got {}",
            if local.is_some() {
                format!("{:?}", response.text())
            } else {
                "no local reply".to_owned()
            }
        ));
    }
    if assertions::needs_forwarded(&stated.request_headers) || sent.received.is_some() {
        match &sent.received {
            Some(echo) => out.extend(assertions::header_mismatches(
                "request header",
                &|name| echo.header_values(name).first().map(|v| (*v).to_owned()),
                &stated.request_headers,
            )),
            None => out.push(format!(
                "request headers: the request never reached the upstream (answered {} in Envoy)",
                response.status
            )),
        }
    }
    out.extend(assertions::header_mismatches(
        "response header",
        &|name| {
            response
                .header_values(name)
                .first()
                .map(|v| (*v).to_owned())
        },
        &stated.response_headers,
    ));
    out
}

/// Log fragments and metrics `stated` names that Envoy does not show.
fn envoy_wide_mismatches(stated: &[&Assertions], envoy: &EnvoyProcess) -> Vec<String> {
    let mut out = Vec::new();
    let log = std::fs::read_to_string(envoy.log()).unwrap_or_default();
    for fragment in stated.iter().flat_map(|a| &a.log_contains) {
        if !log.contains(fragment.as_str()) {
            out.push(format!(
                "log: no line of Envoy's log ({}) contains {fragment:?}",
                envoy.log().display()
            ));
        }
    }
    let wanted: Vec<&(String, i64)> = stated.iter().flat_map(|a| &a.metrics).collect();
    if !wanted.is_empty() {
        let stats = envoy.stats("^wasmcustom\\.").unwrap_or_default();
        for (name, value) in wanted {
            match stats.get(&format!("wasmcustom.{name}")) {
                Some(got) if i128::from(*got) >= i128::from(*value) => {}
                Some(got) => out.push(format!(
                    "metric {name}: expected at least {value} (the VMs of every Envoy thread add up), got {got}"
                )),
                None => out.push(format!(
                    "metric {name}: not defined in Envoy (no stat wasmcustom.{name})"
                )),
            }
        }
    }
    out
}

/// Opens one TCP connection through Envoy as `exchange` states: it must complete (or stay
/// paused — no end within [`PAUSED_WAIT`] — when `expect_paused`); without the filter the
/// bytes must pass unchanged both ways.
fn check_connection(
    exchange: &TcpExchange,
    probe: &Probe,
    expect_paused: bool,
) -> Result<(), String> {
    let upstream = probe
        .tcp
        .ok_or("a TCP workload needs the TCP upstream, which this run did not start")?;
    upstream.set_answer(exchange.upstream.clone());
    upstream.take_received();
    let timeout = if expect_paused {
        PAUSED_WAIT
    } else {
        tcp::EXCHANGE_TIMEOUT
    };
    let received = match tcp::exchange(probe.listener, exchange, timeout) {
        Err(e) if expect_paused && is_timeout(&e) => return Ok(()),
        Err(e) if is_timeout(&e) => {
            return Err(format!(
                "the connection did not end within {} s (did the module pause its data and never \
                 continue it?)",
                timeout.as_secs()
            ));
        }
        Err(e) => return Err(format!("connection failed: {e}")),
        Ok(_) if expect_paused => {
            return Err("connection: expected paused, Envoy ended it".to_owned());
        }
        Ok(received) => received,
    };
    if probe.passthrough {
        let forwarded = upstream.take_received().unwrap_or_default();
        let sent = exchange.downstream.concat();
        let answered = exchange.upstream.concat();
        if forwarded != sent || received != answered {
            return Err(format!(
                "without the filter the bytes must pass unchanged: the upstream got {} of {} \
                 bytes sent, the client {} of {} answered",
                forwarded.len(),
                sent.len(),
                received.len(),
                answered.len()
            ));
        }
    }
    Ok(())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn check_once(filter: &FilterSpec, probe: &Probe) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stated_all = Vec::new();
    for name in &filter.workloads {
        let stated = filter.custom.assertions_for(name);
        let expect_paused = !probe.passthrough && stated.is_some_and(|a| a.paused == Some(true));
        match find_workload(filter, name).map(|w| w.exchange.unit) {
            // A root-only plugin's ticks come from Envoy's own clock: nothing to send.
            Some(Unit::Tick) => {
                if !probe.passthrough {
                    stated_all.extend(stated);
                }
                continue;
            }
            // An item on the plugin's queue cannot be delivered from outside Envoy: checked
            // in-process only.
            Some(Unit::QueueItem { .. }) => continue,
            Some(Unit::Tcp(exchange)) => {
                if let Err(e) = check_connection(&exchange, probe, expect_paused) {
                    problems.push(format!("{name}: {e}"));
                }
                if !probe.passthrough {
                    stated_all.extend(stated);
                }
                continue;
            }
            _ => {}
        }
        let sent = match send(filter, name, probe, expect_paused) {
            Ok(Some(sent)) => sent,
            Ok(None) => {
                stated_all.extend(stated);
                continue;
            }
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if probe.passthrough {
            if sent.received.is_none() {
                problems.push(format!(
                    "{name}: without the filter the request must reach the upstream, got {} from Envoy",
                    sent.response.status
                ));
            }
            continue;
        }
        if let Some(stated) = stated {
            problems.extend(
                stream_mismatches(stated, &sent)
                    .into_iter()
                    .map(|d| format!("{name}: {d}")),
            );
            stated_all.push(stated);
        }
    }
    problems.extend(envoy_wide_mismatches(&stated_all, probe.envoy));
    problems
}

/// Sends every workload of the spec's `filter` through Envoy and checks what the spec states;
/// `Err` lists what differed. A spec that calls upstreams gets [`SETTLE`] for its first
/// answers, a network filter [`TCP_SETTLE`] for its close callbacks (Envoy calls them after the
/// client has seen the connection end), a root-only plugin for its first ticks (on Envoy's clock): the
/// check is repeated until it passes or the time is up.
pub fn check(filter: &FilterSpec, probe: &Probe) -> Result<(), String> {
    let waits = !filter.upstreams.is_empty()
        || !filter.custom.grpc_upstreams.is_empty()
        || crate::config::is_root_only(filter);
    let settle = if tcp_load(filter).is_some() {
        TCP_SETTLE
    } else if waits {
        SETTLE
    } else {
        Duration::ZERO
    };
    let deadline = Instant::now() + settle;
    loop {
        let problems = check_once(filter, probe);
        // The load that follows sends the first workload's connection: its upstream answers.
        if let (Some(upstream), Some(load)) = (probe.tcp, tcp_load(filter)) {
            upstream.set_answer(load.upstream);
        }
        if problems.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(problems.join("; "));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_harness::catalog::{self, Custom, PluginSettings};
    use filterbench_host::{UpstreamReply, UpstreamRoute};

    fn spec_filter() -> FilterSpec {
        let mut f = catalog::user_module(
            "mine",
            "{}".to_owned(),
            String::new(),
            PluginSettings {
                properties: vec![
                    ("route_name".to_owned(), b"api-route".to_vec()),
                    ("node.id".to_owned(), b"n1".to_vec()),
                ],
                ..PluginSettings::default()
            },
            vec!["get-small"],
            Vec::new(),
        );
        let mut reply = HeaderMap::default();
        reply.add(b":status", b"201");
        reply.add(b"Content-Type", b"text/plain");
        for (cluster, when) in [
            ("auth", None),
            ("auth", Some(("x-a", "1"))),
            ("other", None),
        ] {
            f.upstreams.push(UpstreamRoute {
                cluster: cluster.to_owned(),
                when_header: when.map(|(k, v): (&str, &str)| (k.to_owned(), v.to_owned())),
                reply: UpstreamReply {
                    headers: reply.clone(),
                    body: b"tok".to_vec(),
                    ..UpstreamReply::default()
                },
            });
        }
        f.custom = Custom {
            spec_file: Some("/x/spec.yaml".into()),
            ..Custom::default()
        };
        f
    }

    #[test]
    fn clusters_group_the_upstream_rules_and_keep_their_order() {
        let rules = cluster_rules(&spec_filter());
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].0, "auth");
        assert_eq!(rules[0].1.len(), 2);
        assert_eq!(
            rules[0].1[1].when_header,
            Some(("x-a".to_owned(), "1".to_owned()))
        );
        let answer = &rules[0].1[0].answer;
        assert_eq!(answer.status, 201);
        assert_eq!(
            answer.headers,
            vec![("content-type".to_owned(), "text/plain".to_owned())]
        );
        assert_eq!(answer.body, b"tok");
    }

    #[test]
    fn the_route_is_named_after_the_property_and_answers_with_the_first_workload() {
        let f = spec_filter();
        let r = routing(&f, vec![("auth".to_owned(), 7)], Vec::new(), None);
        assert_eq!(r.route_name.as_deref(), Some("api-route"));
        let get_small = catalog::workload("get-small").unwrap();
        let direct = r.direct.unwrap();
        assert_eq!(
            direct,
            answer_of(
                &get_small.exchange.response_headers,
                &get_small.exchange.response_body.concat()
            )
        );
        assert_eq!(untranslatable_properties(&f), vec!["node.id".to_owned()]);
        assert_eq!(envoy_log_level(&f), "info");
        let rules = workload_rules(&f);
        assert_eq!(
            rules[0].when_header,
            Some((RESPOND_HEADER.to_owned(), "get-small".to_owned()))
        );
    }

    #[test]
    fn stream_checks_tell_local_replies_from_forwarded_requests() {
        let stated = Assertions {
            local_reply: Some(None),
            request_headers: vec![(
                "authorization".to_owned(),
                assertions::HeaderCheck::Equals("Bearer t".to_owned()),
            )],
            ..Assertions::default()
        };
        let local = Sent {
            response: Response {
                status: 503,
                headers: Vec::new(),
                body: b"no token yet".to_vec(),
            },
            received: None,
        };
        let found = stream_mismatches(&stated, &local).join("\n");
        assert!(
            found.contains("local reply: expected none, got 503"),
            "{found}"
        );
        assert!(found.contains("never reached the upstream"), "{found}");
        let forwarded = Sent {
            response: Response {
                status: 200,
                ..Response::default()
            },
            received: Some(Echo {
                method: "GET".into(),
                path: "/".into(),
                headers: vec![("authorization".into(), "Bearer t".into())],
                body: String::new(),
            }),
        };
        assert_eq!(stream_mismatches(&stated, &forwarded), Vec::<String>::new());
    }
}
