//! What a user states about their own module's effects on one workload (a spec file's
//! `expect`). Unlike the catalog's expectations, which describe every effect, these are
//! partial: only the headers, reply, log lines, metrics and ticks named are checked.

use filterbench_host::{HeaderMap, HostState};

/// What one header must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    /// Present, with any value.
    Present,
    /// Not present.
    Absent,
    /// Present with exactly this value (the first occurrence).
    Equals(String),
}

/// What must be true after a workload's first request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assertions {
    /// Request headers as forwarded upstream (name in lower case, check).
    pub request_headers: Vec<(String, HeaderCheck)>,
    /// Response headers as sent downstream (name in lower case, check).
    pub response_headers: Vec<(String, HeaderCheck)>,
    /// `Some(None)`: the request must not be answered locally; `Some(Some(status))`: it must
    /// be answered locally with this status; `None`: either.
    pub local_reply: Option<Option<u32>>,
    /// A fragment the local reply's body must contain.
    pub local_reply_body_contains: Option<String>,
    /// Fragments that must each appear in some message the module logged.
    pub log_contains: Vec<String>,
    /// Metrics and their values (counters and gauges: the value; histograms: the sum).
    pub metrics: Vec<(String, i64)>,
    /// Fewest ticks that must have fired by then (on the virtual clock).
    pub ticks_at_least: Option<u64>,
    /// `Some(true)`: the stream must stay paused (never continued); `Some(false)`: it must
    /// complete; `None`: either.
    pub paused: Option<bool>,
}

fn check_headers(
    what: &str,
    map: Option<&HeaderMap>,
    checks: &[(String, HeaderCheck)],
) -> Vec<String> {
    header_mismatches(
        what,
        &|name| {
            map.and_then(|m| m.get(name.as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned())
        },
        checks,
    )
}

/// One line for each of `checks` that the headers `value_of` looks up (first value of a
/// lower-case name) break; `what` names the side, e.g. `request header`.
pub fn header_mismatches(
    what: &str,
    value_of: &dyn Fn(&str) -> Option<String>,
    checks: &[(String, HeaderCheck)],
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, check) in checks {
        match (check, value_of(name)) {
            (HeaderCheck::Present, None) => {
                failures.push(format!("{what} {name}: expected present, absent"));
            }
            (HeaderCheck::Absent, Some(v)) => {
                failures.push(format!("{what} {name}: expected absent, got {v:?}"));
            }
            (HeaderCheck::Equals(want), got) if got.as_deref() != Some(want.as_str()) => {
                failures.push(format!(
                    "{what} {name}: expected {want:?}, got {}",
                    got.map_or("nothing (absent)".to_owned(), |g| format!("{g:?}"))
                ));
            }
            _ => {}
        }
    }
    failures
}

/// One line for each metric in `expected` (name, value) whose value differs or that is not
/// defined.
pub fn metric_mismatches(state: &HostState, expected: &[(String, i64)]) -> Vec<String> {
    expected
        .iter()
        .filter_map(|(name, value)| match state.metric_by_name(name) {
            Some(metric) if metric.value == *value => None,
            Some(metric) => Some(format!(
                "metric {name}: expected {value}, got {}",
                metric.value
            )),
            None => Some(format!("metric {name}: expected {value}, not defined")),
        })
        .collect()
}

/// Whether `checks` need a forwarded request to hold (any but "absent").
pub fn needs_forwarded(checks: &[(String, HeaderCheck)]) -> bool {
    checks
        .iter()
        .any(|(_, c)| !matches!(c, HeaderCheck::Absent))
}

/// The assertions `stated` that the state a stream left behind breaks, one line each (empty:
/// all hold).
pub fn check(stated: &Assertions, state: &HostState) -> Vec<String> {
    let stream = &state.stream;
    // As through Envoy: a request answered locally, reset or paused never reached the upstream
    // (a header stated absent is then absent).
    let mut failures = if stream.request_forwarded || !needs_forwarded(&stated.request_headers) {
        check_headers(
            "request header",
            stream.request_headers.as_ref(),
            &stated.request_headers,
        )
    } else {
        vec!["request headers: the request never reached the upstream".to_owned()]
    };
    failures.extend(check_headers(
        "response header",
        stream.response_headers.as_ref(),
        &stated.response_headers,
    ));
    let local = stream.local_response.as_ref();
    if let Some(want) = stated.local_reply {
        let got = local.map(|l| l.status_code);
        if got != want {
            let show = |s: Option<u32>| s.map_or("none".to_owned(), |s| s.to_string());
            failures.push(format!(
                "local reply: expected {}, got {}",
                show(want),
                show(got)
            ));
        }
    }
    if let Some(fragment) = &stated.local_reply_body_contains {
        let body = local.map(|l| String::from_utf8_lossy(&l.body).into_owned());
        if !body
            .as_deref()
            .is_some_and(|b| b.contains(fragment.as_str()))
        {
            failures.push(format!(
                "local reply body: expected to contain {fragment:?}, got {}",
                body.map_or("no local reply".to_owned(), |b| format!("{b:?}"))
            ));
        }
    }
    if let Some(want) = stated.paused {
        match (want, stream.paused_in) {
            (true, None) => failures.push("stream: expected paused, it completed".to_owned()),
            (false, Some(callback)) => failures.push(format!(
                "stream: expected to complete, paused in {callback} and never continued"
            )),
            _ => {}
        }
    }
    for fragment in &stated.log_contains {
        if !state
            .logs
            .records()
            .any(|r| r.message.contains(fragment.as_str()))
        {
            let seen: Vec<&str> = state.logs.records().map(|r| r.message.as_str()).collect();
            failures.push(format!(
                "log: no message contains {fragment:?}; logged: {seen:?}"
            ));
        }
    }
    failures.extend(metric_mismatches(state, &stated.metrics));
    if let Some(least) = stated.ticks_at_least
        && state.clock.ticks_fired < least
    {
        failures.push(format!(
            "ticks: expected at least {least}, {} fired (ticks need `clock.request_interval_ms` and a tick period the module sets)",
            state.clock.ticks_fired
        ));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_host::PluginSpec;

    #[test]
    fn each_kind_of_assertion_fails_with_a_line_naming_what_differs() {
        let mut state = HostState::new(PluginSpec::new("own", ""));
        state.stream.request_headers = Some(HeaderMap::from_pairs(&[("x-token", "abc")]));
        state.stream.request_forwarded = true;
        state
            .logs
            .push(filterbench_host::abi::LogLevel::Info, b"refreshed token");
        let holds = Assertions {
            request_headers: vec![
                ("x-token".into(), HeaderCheck::Equals("abc".into())),
                ("x-gone".into(), HeaderCheck::Absent),
            ],
            local_reply: Some(None),
            log_contains: vec!["refreshed".into()],
            ..Assertions::default()
        };
        assert!(check(&holds, &state).is_empty());
        let broken = Assertions {
            request_headers: vec![
                ("x-token".into(), HeaderCheck::Equals("xyz".into())),
                ("x-missing".into(), HeaderCheck::Present),
            ],
            response_headers: vec![("server".into(), HeaderCheck::Present)],
            local_reply: Some(Some(429)),
            local_reply_body_contains: Some("slow down".into()),
            log_contains: vec!["expired".into()],
            metrics: vec![("calls".into(), 1)],
            ticks_at_least: Some(1),
            paused: Some(true),
        };
        let failures = check(&broken, &state);
        assert_eq!(failures.len(), 9, "{failures:#?}");
        assert!(failures.contains(&"stream: expected paused, it completed".to_owned()));
        state.stream.paused_in = Some("proxy_on_request_headers");
        let completes = Assertions {
            paused: Some(false),
            ..Assertions::default()
        };
        assert_eq!(
            check(&completes, &state),
            [
                "stream: expected to complete, paused in proxy_on_request_headers and never continued"
            ]
        );
        assert!(failures[0].contains("expected \"xyz\", got \"abc\""));
        // A request that never went upstream has no forwarded headers to check (a header
        // stated absent is absent).
        state.stream.request_forwarded = false;
        let after_local_reply = check(&holds, &state);
        assert_eq!(
            after_local_reply,
            ["request headers: the request never reached the upstream"]
        );
        let only_absent = Assertions {
            request_headers: vec![("x-gone".into(), HeaderCheck::Absent)],
            ..Assertions::default()
        };
        assert!(check(&only_absent, &state).is_empty());
        assert!(
            failures
                .iter()
                .any(|f| f.starts_with("local reply: expected 429, got none"))
        );
    }
}
