//! Named request/response shapes the filters are measured on: everyday requests, the allowed
//! and rejected paths of the security filters, bodies from 1 KiB to 1 MiB delivered in 16 KiB
//! chunks (as a proxy reads them off a socket), and two scaling sweeps (header count 8 → 128,
//! body size 1 KiB → 1 MiB) that show how cost grows with work.

use filterbench_host::{HeaderMap, HttpExchange};

/// A valid HS256 token for the `jwt-auth` configuration (sub alice, aud api.example.com,
/// scope items:read, exp 2100-01-01), signed with `catalog::JWT_SECRET`.
pub const JWT_VALID: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6ImFwaS5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwic2NvcGUiOiJpdGVtczpyZWFkIn0.zblc78QcSUcltpLYL9HR7CQyJjWjlZwZX01l33ycB74";
/// The same claims signed with another key.
pub const JWT_FORGED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImF1ZCI6ImFwaS5leGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMCwic2NvcGUiOiJpdGVtczpyZWFkIn0.r0tdkGBLPtB4mI79J53meoFXxYok_8-FJT0WkXqKi5c";

/// A named request/response shape.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Name used with `--workload` and in results.
    pub name: &'static str,
    /// What the exchange looks like.
    pub description: String,
    /// The sweep it belongs to (`headers` or `body`), if any.
    pub sweep: Option<&'static str>,
    /// The exchange itself.
    pub exchange: HttpExchange,
}

/// Size of the body chunks a workload delivers, bytes.
pub const CHUNK_SIZE: usize = 16 * 1024;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The 8 request headers of an everyday GET.
fn request_headers(method: &str, path: &str) -> Vec<(String, String)> {
    [
        (":method", method),
        (":path", path),
        (":authority", "api.example.com"),
        (":scheme", "https"),
        ("user-agent", USER_AGENT),
        ("accept", "application/json"),
        ("x-request-id", "3f2b9c1e-7d4a-4e8b-9a61-0c5d2e7f8a90"),
        ("x-debug", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The 6 response headers of a small JSON answer.
fn response_headers(body_len: usize) -> HeaderMap {
    HeaderMap::from_pairs(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", body_len.to_string().as_str()),
        ("date", "Wed, 25 Nov 2026 12:00:00 GMT"),
        ("server", "upstream"),
        ("cache-control", "no-store"),
    ])
}

/// A JSON array of user records of about `size` bytes (at least one record), each with a
/// password and a card number for `body-redact` to mask.
pub fn json_records(size: usize) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut i = 0;
    while out.len() + 2 < size || i == 0 {
        if i > 0 {
            out.push(b',');
        }
        let record = format!(
            r#"{{"id":{i},"user":"user{i:05}","email":"user{i:05}@example.com","password":"hunter{i:04}","card":{{"number":"4111111111{i:06}","exp":"12/30"}},"note":"premium customer since 2019"}}"#
        );
        out.extend_from_slice(record.as_bytes());
        i += 1;
    }
    out.push(b']');
    out
}

fn chunks(body: &[u8]) -> Vec<Vec<u8>> {
    body.chunks(CHUNK_SIZE).map(<[u8]>::to_vec).collect()
}

fn get(extra: &[(&str, &str)], path: &str) -> HttpExchange {
    let mut headers = request_headers("GET", path);
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let answer = json_records(RESPONSE_BODY_BYTES);
    HttpExchange {
        request_headers: HeaderMap::from_pairs(&headers),
        response_headers: response_headers(answer.len()),
        response_body: vec![answer],
        ..HttpExchange::default()
    }
}

/// About the size of a GET's JSON answer, bytes (the body is whole records, a little more).
const RESPONSE_BODY_BYTES: usize = 512;

/// A GET answered `204 No Content`: no body either way, so the headers end the stream in both
/// directions and no body callback runs.
fn get_headers_only() -> HttpExchange {
    let headers = request_headers("GET", "/api/v1/items/42/touch");
    HttpExchange {
        request_headers: HeaderMap::from_pairs(&headers),
        response_headers: HeaderMap::from_pairs(&[
            (":status", "204"),
            ("date", "Wed, 25 Nov 2026 12:00:00 GMT"),
            ("server", "upstream"),
            ("cache-control", "no-store"),
        ]),
        ..HttpExchange::default()
    }
}

/// GET with `count` request headers in all (the 8 everyday ones plus `x-sweep-N`).
fn get_with_headers(count: usize) -> HttpExchange {
    let extra: Vec<(String, String)> = (8..count)
        .map(|i| {
            (
                format!("x-sweep-{i:03}"),
                format!("value-{i:03}-abcdefghijklmnop"),
            )
        })
        .collect();
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    get(&extra, "/api/v1/items?id=42&view=full")
}

/// POST of a JSON body of about `size` bytes; the response carries one JSON record.
fn post(size: usize) -> HttpExchange {
    let body = json_records(size);
    let mut headers = request_headers("POST", "/api/v1/users/import");
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    headers.push(("content-length".to_owned(), body.len().to_string()));
    let answer = json_records(1);
    HttpExchange {
        request_headers: HeaderMap::from_pairs(&headers),
        request_body: chunks(&body),
        response_headers: response_headers(answer.len()),
        response_body: vec![answer],
        ..HttpExchange::default()
    }
}

fn named(name: &'static str, description: &str, exchange: HttpExchange) -> Workload {
    Workload {
        name,
        description: description.to_owned(),
        sweep: None,
        exchange,
    }
}

/// Header-count sweep points.
const HEADER_SWEEP: [(&str, usize); 5] = [
    ("headers-8", 8),
    ("headers-16", 16),
    ("headers-32", 32),
    ("headers-64", 64),
    ("headers-128", 128),
];
/// Body-size sweep points.
const BODY_SWEEP: [(&str, usize); 6] = [
    ("body-1k", 1 << 10),
    ("body-4k", 4 << 10),
    ("body-16k", 16 << 10),
    ("body-64k", 64 << 10),
    ("body-256k", 256 << 10),
    ("body-1m", 1 << 20),
];

/// Workloads whose bodies are 256 KiB or more. Earlier runs found WebAssembly cells faster
/// than native code of the same source only on these: an allocator effect (a linear memory
/// keeps its pages, while native code's `malloc` serves blocks this large by other paths), not
/// an engine being faster than native code.
pub const LARGE_BODY_WORKLOADS: [&str; 3] = ["post-1m", "body-256k", "body-1m"];

/// Whether the workload named `name` is a point of a scaling sweep (sweeps are reported as
/// curves, never folded into a filter's or an engine's headline ratio).
pub fn is_sweep_point(name: &str) -> bool {
    HEADER_SWEEP
        .iter()
        .chain(BODY_SWEEP.iter())
        .any(|(point, _)| *point == name)
}

/// The workloads of sweep `group` (`headers` or `body`), smallest first.
pub fn sweep(group: &str) -> Vec<Workload> {
    match group {
        "headers" => HEADER_SWEEP
            .iter()
            .map(|(name, n)| Workload {
                name,
                description: format!("GET with {n} request headers"),
                sweep: Some("headers"),
                exchange: get_with_headers(*n),
            })
            .collect(),
        "body" => BODY_SWEEP
            .iter()
            .map(|(name, size)| Workload {
                name,
                description: format!("POST of a {} KiB JSON body in 16 KiB chunks", size >> 10),
                sweep: Some("body"),
                exchange: post(*size),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every workload, in listing order (sweeps last).
pub fn workloads() -> Vec<Workload> {
    let mut all = vec![
        named(
            "get-small",
            "GET with 8 request headers, no body; 200 with 6 headers and a 0.5 KiB JSON body",
            get(&[], "/api/v1/items?id=42&view=full"),
        ),
        named(
            "get-headers-only",
            "GET with 8 request headers answered 204 with 4: the headers end the stream both ways",
            get_headers_only(),
        ),
        named(
            "get-large-headers",
            "GET with 64 request headers",
            get_with_headers(64),
        ),
        named(
            "post-1k",
            "POST of a 1 KiB JSON body; 200 with a JSON record",
            post(1 << 10),
        ),
        named(
            "post-64k",
            "POST of a 64 KiB JSON body in 16 KiB chunks",
            post(64 << 10),
        ),
        named(
            "post-1m",
            "POST of a 1 MiB JSON body in 16 KiB chunks",
            post(1 << 20),
        ),
        named(
            "get-authorized",
            "GET with a valid HS256 bearer token",
            get(
                &[("authorization", &format!("Bearer {JWT_VALID}"))],
                "/api/v1/items?id=42&view=full",
            ),
        ),
        named(
            "get-forged-token",
            "GET with a bearer token signed with the wrong key",
            get(
                &[("authorization", &format!("Bearer {JWT_FORGED}"))],
                "/api/v1/items?id=42&view=full",
            ),
        ),
        named(
            "get-sqli",
            "GET whose query is a SQL-injection tautology",
            get(&[], "/api/v1/items?id=1'%20OR%20'1'='1"),
        ),
        named(
            "get-path-traversal",
            "GET of a path-traversal path",
            get(&[], "/static/../../etc/passwd"),
        ),
        named(
            "get-flood-client",
            "GET from a client whose rate limit is exhausted",
            get(
                &[("x-client-id", "flooder")],
                "/api/v1/items?id=42&view=full",
            ),
        ),
        named(
            "get-denied-user",
            "GET from a user the authorization service refuses",
            get(&[("x-user", "mallory")], "/api/v1/items?id=42&view=full"),
        ),
    ];
    all.extend(sweep("headers"));
    all.extend(sweep("body"));
    all
}

/// The workload called `name`.
pub fn workload(name: &str) -> Option<Workload> {
    workloads().into_iter().find(|w| w.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_what_their_names_say() {
        assert_eq!(
            workload("get-small")
                .unwrap()
                .exchange
                .request_headers
                .len(),
            8
        );
        assert_eq!(
            workload("get-large-headers")
                .unwrap()
                .exchange
                .request_headers
                .len(),
            64
        );
        for (name, n) in HEADER_SWEEP {
            assert_eq!(
                workload(name).unwrap().exchange.request_headers.len(),
                n,
                "{name}"
            );
        }
        for (name, size) in BODY_SWEEP {
            let ex = workload(name).unwrap().exchange;
            let body = ex.request_body.concat();
            assert!(
                body.len() >= size && body.len() < size + 300,
                "{name}: {}",
                body.len()
            );
            assert!(ex.request_body.iter().all(|c| c.len() <= CHUNK_SIZE));
            serde_json::from_slice::<serde_json::Value>(&body).expect("valid JSON");
            let declared = ex.request_headers.get(b"content-length").unwrap();
            assert_eq!(declared, body.len().to_string().as_bytes());
        }
        for w in workloads() {
            let ex = &w.exchange;
            for (side, headers, body) in [
                ("request", &ex.request_headers, ex.request_body.concat()),
                ("response", &ex.response_headers, ex.response_body.concat()),
            ] {
                match headers.get(b"content-length") {
                    Some(declared) => assert_eq!(
                        declared,
                        body.len().to_string().as_bytes(),
                        "{}: the {side}'s content-length is its body's",
                        w.name
                    ),
                    None => assert!(body.is_empty(), "{}: a {side} body undeclared", w.name),
                }
            }
        }
        let only = workload("get-headers-only").unwrap().exchange;
        assert!(only.request_body.is_empty() && only.response_body.is_empty());
        let names: Vec<&str> = workloads().iter().map(|w| w.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
