//! Conformance: did the filter, on this engine, have exactly the effects the catalog states?
//!
//! The expected header maps are computed here from the workload and the catalog's edits with a
//! model independent of the host's own header map, then compared with what the filter left in
//! the host (as multisets: order is not part of the contract).

use crate::assertions::metric_mismatches;
use crate::catalog::{Expected, HeaderEdits};
use filterbench_host::state::UnitKind;
use filterbench_host::{FilterError, FilterInstance, HeaderMap, HostState, HttpExchange};

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The header list `edits` should produce from `input`.
pub fn apply_edits(input: &HeaderMap, edits: &HeaderEdits) -> Pairs {
    let mut out: Pairs = input.to_pairs();
    for (k, v) in &edits.add {
        out.push((k.to_ascii_lowercase().into_bytes(), v.clone().into_bytes()));
    }
    for (k, v) in &edits.replace {
        let key = k.to_ascii_lowercase().into_bytes();
        match out.iter().position(|(name, _)| *name == key) {
            Some(first) => {
                out[first].1 = v.clone().into_bytes();
                let mut i = 0;
                out.retain(|(name, _)| {
                    i += 1;
                    i - 1 == first || *name != key
                });
            }
            None => out.push((key, v.clone().into_bytes())),
        }
    }
    for k in &edits.remove {
        let key = k.to_ascii_lowercase().into_bytes();
        out.retain(|(name, _)| *name != key);
    }
    out
}

fn show((k, v): &(Vec<u8>, Vec<u8>)) -> String {
    format!(
        "{}: {}",
        String::from_utf8_lossy(k),
        String::from_utf8_lossy(v)
    )
}

/// Lines describing how `actual` differs from `expected` (empty when equal as multisets).
fn diff_maps(what: &str, expected: &Pairs, actual: &Pairs) -> Vec<String> {
    let (mut expected, mut actual) = (expected.clone(), actual.clone());
    expected.sort();
    actual.sort();
    let mut lines = Vec::new();
    let mut remaining = actual.clone();
    for pair in &expected {
        match remaining.iter().position(|p| p == pair) {
            Some(i) => {
                remaining.remove(i);
            }
            None => lines.push(format!("{what}: missing   {}", show(pair))),
        }
    }
    lines.extend(
        remaining
            .iter()
            .map(|p| format!("{what}: unexpected {}", show(p))),
    );
    lines
}

fn show_body(body: &[u8]) -> String {
    const SHOWN: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(SHOWN)]).into_owned();
    if body.len() > SHOWN {
        format!("{text}… ({} bytes)", body.len())
    } else {
        text
    }
}

/// A line describing how body `actual` differs from `expected`, if it does.
fn diff_body(what: &str, expected: &[u8], actual: &[u8]) -> Option<String> {
    (expected != actual).then(|| {
        let at = expected.iter().zip(actual).position(|(a, b)| a != b).unwrap_or(expected.len().min(actual.len()));
        format!(
            "{what}: {} bytes expected, {} forwarded, first difference at byte {at}: expected {:?}, got {:?}",
            expected.len(),
            actual.len(),
            show_body(&expected[at..]),
            show_body(&actual[at..])
        )
    })
}

/// Compares the state a stream left behind with the expectation; returns the differences.
pub fn check(exchange: &HttpExchange, expected: &Expected, state: &HostState) -> Vec<String> {
    let stream = &state.stream;
    let mut diff = Vec::new();
    if let Some(callback) = stream.paused_in {
        diff.push(format!(
            "stream: paused in {callback} and never continued (expected to complete)"
        ));
    }
    let local = stream.local_response.as_ref().map(|l| l.status_code);
    if local != expected.local_response {
        let show = |s: Option<u32>| s.map_or("none".to_owned(), |s| s.to_string());
        diff.push(format!(
            "local response: expected {}, got {}",
            show(expected.local_response),
            show(local)
        ));
    }
    let actual_request: Pairs = stream
        .request_headers
        .as_ref()
        .map(HeaderMap::to_pairs)
        .unwrap_or_default();
    diff.extend(diff_maps(
        "request header",
        &apply_edits(&exchange.request_headers, &expected.request),
        &actual_request,
    ));
    if expected.local_response.is_none() {
        let actual_response: Pairs = stream
            .response_headers
            .as_ref()
            .map(HeaderMap::to_pairs)
            .unwrap_or_default();
        let expected_response = apply_edits(&exchange.response_headers, &expected.response);
        diff.extend(diff_maps(
            "response header",
            &expected_response,
            &actual_response,
        ));
        let request_body = expected
            .request_body
            .clone()
            .unwrap_or_else(|| exchange.request_body.concat());
        diff.extend(diff_body(
            "request body",
            &request_body,
            &stream.request_body_forwarded,
        ));
        let response_body = expected
            .response_body
            .clone()
            .unwrap_or_else(|| exchange.response_body.concat());
        diff.extend(diff_body(
            "response body",
            &response_body,
            &stream.response_body_forwarded,
        ));
    }
    diff.extend(metric_mismatches(state, &expected.metrics));
    if !expected.log_contains.is_empty() {
        let logged = state.logs.records().any(|r| {
            expected
                .log_contains
                .iter()
                .all(|part| r.message.contains(part.as_str()))
        });
        if !logged {
            let seen: Vec<String> = state.logs.records().map(|r| r.message.clone()).collect();
            diff.push(format!(
                "log: no message contains all of {:?}; logged: {seen:?}",
                expected.log_contains
            ));
        }
    }
    diff
}

/// Most lines of a module's log a cell records ([`log_text`]).
pub const LOG_LINES: usize = 20;
/// Most characters of one recorded log line.
pub const LOG_LINE_CHARS: usize = 200;

/// The module's log so far, `[Level] message` per line: the last [`LOG_LINES`] lines the host
/// kept, each cut at [`LOG_LINE_CHARS`] characters (marked `…`).
pub fn log_text(state: &HostState) -> Vec<String> {
    let records: Vec<_> = state.logs.records().collect();
    records[records.len().saturating_sub(LOG_LINES)..]
        .iter()
        .map(|r| {
            let line = format!("[{:?}] {}", r.level, r.message);
            match line.char_indices().nth(LOG_LINE_CHARS) {
                Some((cut, _)) => format!("{}…", &line[..cut]),
                None => line,
            }
        })
        .collect()
}

/// How the stream ended when it did not complete: paused for good, or reset by the module.
fn stream_line(state: &HostState) -> Option<String> {
    let stream = &state.stream;
    match (stream.paused_in, stream.closed) {
        (Some(callback), _) => Some(format!("stream: paused in {callback}, never continued")),
        (None, true) => Some("stream: reset by the module".to_owned()),
        (None, false) => None,
    }
}

/// Whether the stream was answered locally, and with which status.
fn local_response_line(state: &HostState) -> String {
    match &state.stream.local_response {
        Some(local) => format!("local response: {}", local.status_code),
        None => "local response: none".to_owned(),
    }
}

/// One line per header and trailer forwarded (request, then response; each sorted), as
/// `line(what, key, value)` writes it; none when the last unit was not an HTTP stream. A
/// request answered locally, reset or paused never went upstream: its headers are not listed.
fn header_lines(state: &HostState, line: impl Fn(&str, &[u8], &[u8]) -> String) -> Vec<String> {
    let stream = &state.stream;
    let mut lines = Vec::new();
    if stream.kind != UnitKind::Http {
        return lines;
    }
    let none = None;
    let upstream = |map| {
        if stream.request_forwarded { map } else { &none }
    };
    for (what, map) in [
        ("request header", upstream(&stream.request_headers)),
        ("request trailer", upstream(&stream.request_trailers)),
        ("response header", &stream.response_headers),
        ("response trailer", &stream.response_trailers),
    ] {
        let mut these: Vec<String> = map
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| line(what, k, v))
            .collect();
        these.sort();
        lines.extend(these);
    }
    lines
}

/// The path a stream took, for checking that later requests take the same one: whether it was
/// answered locally (and with which status) and the names of the headers forwarded both ways.
/// Values and bodies are left out: counters and timestamps change from request to request
/// without changing the path, and bodies are not kept while timing.
pub fn path(state: &HostState) -> Vec<String> {
    let mut lines = Vec::new();
    if state.stream.kind == UnitKind::Http {
        lines.push(local_response_line(state));
    }
    lines.extend(stream_line(state));
    lines.extend(header_lines(state, |what, key, _| {
        format!("{what}: {}", String::from_utf8_lossy(key))
    }));
    lines.dedup();
    lines
}

/// How the path `later` differs from `first`: `first: …` for what it lost, `later: …` for
/// what it gained (empty when the same).
pub fn diff_paths(first: &[String], later: &[String]) -> Vec<String> {
    diff_lines(first, later, "first", "later")
}

/// The lines of `a` missing from `b` (as `{a_label}: line`), then those of `b` missing from
/// `a` (as `{b_label}: line`).
fn diff_lines(a: &[String], b: &[String], a_label: &str, b_label: &str) -> Vec<String> {
    let only = |from: &[String], other: &[String], label: &str| -> Vec<String> {
        from.iter()
            .filter(|l| !other.contains(l))
            .map(|l| format!("{label}: {l}"))
            .collect()
    };
    let mut lines = only(a, b, a_label);
    lines.extend(only(b, a, b_label));
    lines
}

/// What an observation shows in place of a volatile value.
pub const VOLATILE: &str = "(volatile: compared by presence)";

/// The effects a stream had, one line each, for modules without stated expectations: local
/// response, headers forwarded both ways, body sizes and digests, metrics, and how many
/// messages were logged at each level (not their text: it may hold timings). Headers and
/// metrics named in `volatile` (lower case) are recorded by presence, not value.
pub fn observe(state: &HostState, volatile: &[String]) -> Vec<String> {
    let is_volatile = |name: &[u8]| volatile.iter().any(|v| v.as_bytes() == name);
    use std::hash::{DefaultHasher, Hash, Hasher};
    let stream = &state.stream;
    let mut lines = Vec::new();
    if stream.kind == UnitKind::Http {
        lines.push(local_response_line(state));
    }
    lines.extend(stream_line(state));
    lines.extend(header_lines(state, |what, key, value| {
        let key = String::from_utf8_lossy(key);
        if is_volatile(key.as_bytes()) {
            format!("{what}: {key}: {VOLATILE}")
        } else {
            format!("{what}: {key}: {}", String::from_utf8_lossy(value))
        }
    }));
    let labels = match stream.kind {
        UnitKind::Http => Some(("request body", "response body")),
        UnitKind::Tcp => Some(("downstream data", "upstream data")),
        UnitKind::Root => None,
    };
    let bodies = labels.map(|(request, response)| {
        [
            (request, &stream.request_body_forwarded),
            (response, &stream.response_body_forwarded),
        ]
    });
    for (what, body) in bodies.into_iter().flatten() {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        lines.push(format!(
            "{what}: {} bytes, digest {:016x}",
            body.len(),
            hasher.finish()
        ));
    }
    let mut metrics: Vec<String> = state
        .metrics
        .iter()
        .map(|m| {
            if is_volatile(m.name.as_bytes()) {
                format!("metric {} = {VOLATILE}", m.name)
            } else {
                format!("metric {} = {}", m.name, m.value)
            }
        })
        .collect();
    metrics.sort();
    lines.extend(metrics);
    let mut levels = std::collections::BTreeMap::new();
    for record in state.logs.records() {
        *levels.entry(format!("{:?}", record.level)).or_insert(0) += 1;
    }
    lines.extend(
        levels
            .into_iter()
            .map(|(level, n)| format!("logged at {level}: {n} message(s)")),
    );
    if state.plugin.clock_step_ns != 0 {
        lines.push(format!("ticks fired: {}", state.clock.ticks_fired));
    }
    lines
}

/// Lines describing how `actual` observations differ from the `reference` engine's.
pub fn diff_observations(
    reference_engine: &str,
    reference: &[String],
    actual: &[String],
) -> Vec<String> {
    diff_lines(
        reference,
        actual,
        &format!("{reference_engine} has, this engine not"),
        &format!("this engine has, {reference_engine} not"),
    )
}

/// Pushes one exchange through a started instance and checks its effects.
/// `Ok(diff)`: the stream ran (an empty diff means conformant); `Err`: it failed to run.
pub fn run_and_check(
    instance: &mut dyn FilterInstance,
    exchange: &HttpExchange,
    expected: &Expected,
) -> Result<Vec<String>, FilterError> {
    instance.run_stream(exchange)?;
    Ok(check(exchange, expected, instance.state()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_text_is_kept_bounded() {
        let mut state = HostState::new(filterbench_host::PluginSpec::new("own", ""));
        assert!(log_text(&state).is_empty());
        for i in 0..LOG_LINES + 5 {
            state.logs.push(
                filterbench_host::abi::LogLevel::Info,
                format!("line {i}").as_bytes(),
            );
        }
        state.logs.push(
            filterbench_host::abi::LogLevel::Warn,
            "é".repeat(500).as_bytes(),
        );
        let text = log_text(&state);
        assert_eq!(text.len(), LOG_LINES);
        assert_eq!(text[0], "[Info] line 6");
        let last = text.last().unwrap();
        assert!(
            last.starts_with("[Warn] éé") && last.ends_with('…'),
            "{last}"
        );
        assert_eq!(last.chars().count(), LOG_LINE_CHARS + 1);
    }

    #[test]
    fn trailers_resets_and_pauses_are_observed_and_part_of_the_path() {
        let mut state = HostState::new(filterbench_host::PluginSpec::new("own", ""));
        state.stream.request_trailers = Some(HeaderMap::from_pairs(&[("grpc-timeout", "1S")]));
        state.stream.response_trailers = Some(HeaderMap::from_pairs(&[("grpc-status", "0")]));
        // A request that never went upstream (answered locally, reset, paused) shows no
        // forwarded request headers or trailers.
        assert!(
            !observe(&state, &[])
                .iter()
                .any(|l| l.starts_with("request trailer"))
        );
        state.stream.request_forwarded = true;
        let lines = observe(&state, &[]);
        assert!(lines.contains(&"request trailer: grpc-timeout: 1S".to_owned()));
        assert!(lines.contains(&"response trailer: grpc-status: 0".to_owned()));
        assert!(!lines.iter().any(|l| l.starts_with("stream:")), "{lines:?}");
        state.stream.closed = true;
        assert!(observe(&state, &[]).contains(&"stream: reset by the module".to_owned()));
        assert!(path(&state).contains(&"stream: reset by the module".to_owned()));
        state.stream.paused_in = Some("proxy_on_response_headers");
        assert!(
            path(&state).contains(
                &"stream: paused in proxy_on_response_headers, never continued".to_owned()
            )
        );
        assert!(path(&state).contains(&"response trailer: grpc-status".to_owned()));
    }

    #[test]
    fn volatile_headers_and_metrics_are_observed_by_presence() {
        let mut state = HostState::new(filterbench_host::PluginSpec::new("own", ""));
        state.stream.response_headers = Some(HeaderMap::from_pairs(&[
            ("ratelimit-reset", "41"),
            ("x-kept", "1"),
        ]));
        let id = state.define_metric(filterbench_host::abi::MetricType::Gauge, "last_seen");
        state.metric_mut(id).unwrap().value = 1_733_000_000;
        let volatile = ["ratelimit-reset".to_owned(), "last_seen".to_owned()];
        let lines = observe(&state, &volatile);
        assert!(lines.contains(&format!("response header: ratelimit-reset: {VOLATILE}")));
        assert!(lines.contains(&"response header: x-kept: 1".to_owned()));
        assert!(lines.contains(&format!("metric last_seen = {VOLATILE}")));
        assert!(observe(&state, &[]).contains(&"response header: ratelimit-reset: 41".to_owned()));
    }

    #[test]
    fn the_edit_model_adds_replaces_and_removes() {
        let input = HeaderMap::from_pairs(&[("a", "1"), ("b", "2"), ("b", "3"), ("c", "4")]);
        let edits = HeaderEdits {
            add: vec![("N".into(), "5".into())],
            replace: vec![("b".into(), "x".into()), ("z".into(), "y".into())],
            remove: vec!["c".into()],
        };
        let out = apply_edits(&input, &edits);
        let text: Vec<String> = out.iter().map(show).collect();
        assert_eq!(text, ["a: 1", "b: x", "n: 5", "z: y"]);
    }

    #[test]
    fn differences_name_missing_and_unexpected_headers() {
        let expected: Pairs = vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
        ];
        let actual: Pairs = vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
        ];
        assert_eq!(
            diff_maps("h", &expected, &actual),
            ["h: missing   a: 1", "h: unexpected c: 3"]
        );
        assert!(diff_maps("h", &expected, &expected.iter().rev().cloned().collect()).is_empty());
    }
}
