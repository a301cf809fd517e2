//! The requests a check sends through Envoy: a workload (the spec's own or the catalog's) as
//! an HTTP/1.1 request.

use crate::http::{self, Response};
use crate::load::LoadRequest;
use filterbench_harness::catalog::{self, FilterSpec, Workload};
use std::net::SocketAddr;
use std::time::Duration;

/// Workload `name` of `filter`: its own (from the spec) or the catalog's.
pub fn find_workload(filter: &FilterSpec, name: &str) -> Option<Workload> {
    filter
        .custom
        .workloads
        .iter()
        .find(|w| w.name == name)
        .cloned()
        .or_else(|| catalog::workload(name))
}

/// The request line, authority, headers and body of `w` as an HTTP/1.1 request.
pub fn http_request(w: &Workload) -> (String, LoadRequest, Vec<u8>) {
    let headers = &w.exchange.request_headers;
    let text =
        |k: &str| String::from_utf8_lossy(headers.get(k.as_bytes()).unwrap_or(b"")).into_owned();
    let mut method = text(":method");
    if method.is_empty() {
        method = "GET".to_owned();
    }
    let request = LoadRequest {
        path: text(":path"),
        authority: text(":authority"),
        headers: headers
            .iter()
            .filter(|(k, _)| !k.starts_with(b":"))
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .filter(|(k, _)| !matches!(k.as_str(), "content-length" | "host" | "connection"))
            .collect(),
    };
    (method, request, w.exchange.request_body.concat())
}

/// How long a check waits for Envoy's answer to one request.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends workload `w` to `listener` with `extra` headers added, waiting up to `timeout`;
/// returns the request as sent and the response.
pub fn send(
    w: &Workload,
    listener: SocketAddr,
    extra: &[(&str, &str)],
    timeout: Duration,
) -> (LoadRequest, std::io::Result<Response>) {
    let (method, mut request, body) = http_request(w);
    request.headers.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let response = http::request(
        listener,
        &method,
        &request.path,
        &request.authority,
        &request.headers,
        &body,
        timeout,
    );
    (request, response)
}
