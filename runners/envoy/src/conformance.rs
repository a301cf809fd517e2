//! Conformance through Envoy: each of the filter's catalog workloads is sent as a real request
//! (routed to the echo upstream), and what arrives — the request the upstream saw, the response
//! the client got — is compared with the catalog's expected effects: header edits in both
//! directions, local responses, rewritten request bodies. (Metrics and log lines are checked
//! in-process; Envoy keeps them elsewhere.) A filter from a spec file is checked against what
//! its spec states instead ([`crate::user_spec`]).

use crate::http::Response;
use crate::load::LoadRequest;
pub use crate::requests::http_request;
use crate::upstream::{ECHO_HEADER, Echo};
pub use crate::user_spec::Probe;
use filterbench_harness::catalog::{Expected, FilterSpec, HeaderEdits, Workload, workload};
use std::net::SocketAddr;

fn check_edits(
    what: &str,
    edits: &HeaderEdits,
    values: &dyn Fn(&str) -> Vec<String>,
    out: &mut Vec<String>,
) {
    for (k, v) in &edits.add {
        let got = values(k);
        if !got.contains(v) {
            out.push(format!(
                "{what} header {k}: expected {v:?} added, got {got:?}"
            ));
        }
    }
    for (k, v) in &edits.replace {
        let got = values(k);
        if got != [v.clone()] {
            out.push(format!(
                "{what} header {k}: expected exactly {v:?}, got {got:?}"
            ));
        }
    }
    for k in &edits.remove {
        let got = values(k);
        if !got.is_empty() {
            out.push(format!("{what} header {k}: expected removed, got {got:?}"));
        }
    }
}

/// Differences between what Envoy did with one request and what was expected (empty: conformant).
pub fn differences(expected: &Expected, response: &Response) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(status) = expected.local_response {
        if u32::from(response.status) != status {
            out.push(format!(
                "expected a local response {status}, got {} ({})",
                response.status,
                response.text().chars().take(120).collect::<String>()
            ));
        }
        return out;
    }
    if response.status != 200 {
        out.push(format!(
            "expected the request to pass (200 from the upstream), got {}: {}",
            response.status,
            response.text().chars().take(160).collect::<String>()
        ));
        return out;
    }
    let echo: Echo = match serde_json::from_slice(&response.body) {
        Ok(echo) => echo,
        Err(e) => {
            out.push(format!("the upstream's echo could not be read: {e}"));
            return out;
        }
    };
    let upstream = |k: &str| {
        echo.header_values(k)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    check_edits("request", &expected.request, &upstream, &mut out);
    let downstream = |k: &str| {
        response
            .header_values(k)
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    check_edits("response", &expected.response, &downstream, &mut out);
    if let Some(body) = &expected.request_body
        && echo.body.as_bytes() != body.as_slice()
    {
        out.push(format!(
            "request body: expected {} bytes as the catalog says, upstream got {} bytes",
            body.len(),
            echo.body.len()
        ));
    }
    out
}

/// Headers Envoy itself adds or rewrites on the way (not a filter's doing).
fn envoy_owned(name: &str) -> bool {
    name.starts_with("x-envoy-") || matches!(name, "x-request-id" | "x-forwarded-proto")
}

/// Differences from an untouched pass: every header `sent` must reach the upstream with the
/// same values, and no `x-` header may appear in the response besides Envoy's own.
pub fn passthrough_differences(sent: &[(String, String)], response: &Response) -> Vec<String> {
    let mut out = differences(&Expected::default(), response);
    if !out.is_empty() {
        return out;
    }
    let Ok(echo) = serde_json::from_slice::<Echo>(&response.body) else {
        return vec!["the upstream's echo could not be read".to_owned()];
    };
    for (k, _) in sent.iter().filter(|(k, _)| !envoy_owned(k)) {
        let want: Vec<&str> = sent
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect();
        let got = echo.header_values(k);
        if got != want {
            out.push(format!(
                "request header {k}: sent {want:?}, upstream got {got:?}"
            ));
        }
    }
    for (k, v) in &response.headers {
        if k.starts_with("x-") && !envoy_owned(k) {
            out.push(format!("response header {k}: {v:?} appeared"));
        }
    }
    out.dedup();
    out
}

/// Sends workload `w` through Envoy at `listener` with [`ECHO_HEADER`] (so it reaches the echo
/// upstream); returns the request as sent and Envoy's response.
pub fn send_to_echo(
    w: &Workload,
    listener: SocketAddr,
) -> (LoadRequest, std::io::Result<Response>) {
    crate::requests::send(
        w,
        listener,
        &[(ECHO_HEADER, "1")],
        crate::requests::ANSWER_TIMEOUT,
    )
}

/// Sends every workload of `filter` through Envoy at `probe.listener`; `Err` lists what
/// differed. `probe.passthrough`: the filter is not in the chain (the baseline), so every
/// request must reach the upstream untouched. A filter from a spec file is checked against
/// what its spec states ([`crate::user_spec::check`]).
pub fn check(filter: &FilterSpec, probe: &Probe) -> Result<(), String> {
    if crate::user_spec::is_spec(filter) {
        return crate::user_spec::check(filter, probe);
    }
    let (listener, passthrough) = (probe.listener, probe.passthrough);
    let mut problems = Vec::new();
    for name in &filter.workloads {
        let Some(w) = workload(name) else { continue };
        let expected = (filter.expect)(&w);
        if expected.is_none() && !passthrough {
            continue;
        }
        let (request, sent) = send_to_echo(&w, listener);
        match sent {
            Ok(response) => {
                let found = match &expected {
                    _ if passthrough => passthrough_differences(&request.headers, &response),
                    Some(expected) => differences(expected, &response),
                    None => Vec::new(),
                };
                problems.extend(found.into_iter().map(|d| format!("{name}: {d}")));
            }
            Err(e) => problems.push(format!("{name}: request failed: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The request the load generators send for `filter`: its first (passing) workload.
pub fn load_request(filter: &FilterSpec) -> Option<LoadRequest> {
    let w = crate::requests::find_workload(filter, filter.workloads.first()?)?;
    Some(http_request(&w).1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_harness::catalog;

    fn spec(name: &str) -> FilterSpec {
        catalog::filter(name).unwrap()
    }

    fn echo_response(headers: &[(&str, &str)], response_headers: &[(&str, &str)]) -> Response {
        let echo = Echo {
            method: "GET".into(),
            path: "/".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: String::new(),
        };
        Response {
            status: 200,
            headers: response_headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: serde_json::to_vec(&echo).unwrap(),
        }
    }

    #[test]
    fn headers_expectations_are_checked_in_both_directions() {
        let w = workload("get-small").unwrap();
        let expected = (spec("headers").expect)(&w).unwrap();
        let good = echo_response(
            &[
                ("x-fb-tenant", "acme"),
                ("x-fb-region", "eu-west-1"),
                ("x-fb-trace", "on"),
                ("user-agent", "filterbench-proxy/1.0"),
            ],
            &[("x-fb-served-by", "filterbench"), ("x-fb-cache", "miss")],
        );
        assert_eq!(differences(&expected, &good), Vec::<String>::new());
        let bad = echo_response(
            &[
                ("x-fb-tenant", "acme"),
                ("x-debug", "1"),
                ("user-agent", "curl"),
            ],
            &[("x-fb-served-by", "filterbench")],
        );
        let diffs = differences(&expected, &bad).join("\n");
        for missing in ["x-fb-region", "x-debug", "user-agent", "x-fb-cache"] {
            assert!(diffs.contains(missing), "{missing} not reported in {diffs}");
        }
    }

    #[test]
    fn a_local_response_must_have_the_expected_status() {
        let w = workload("get-forged-token").unwrap();
        let expected = (spec("jwt-auth").expect)(&w).unwrap();
        let mut r = echo_response(&[], &[]);
        assert!(!differences(&expected, &r).is_empty());
        r.status = 401;
        assert!(differences(&expected, &r).is_empty());
    }

    #[test]
    fn the_load_request_is_the_first_workload_without_pseudo_headers() {
        let r = load_request(&spec("jwt-auth")).unwrap();
        assert_eq!(r.path, "/api/v1/items?id=42&view=full");
        assert_eq!(r.authority, "api.example.com");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "authorization" && v.starts_with("Bearer "))
        );
        assert!(r.headers.iter().all(|(k, _)| !k.starts_with(':')));
    }
}
