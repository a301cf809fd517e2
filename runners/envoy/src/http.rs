//! A minimal HTTP/1.1 client over one TCP connection (`connection: close`) for Envoy's admin
//! endpoint and the conformance requests. Sends exactly the headers given — no `user-agent` or
//! `accept-encoding` of its own — which a conformance check needs; responses are parsed with
//! `httparse`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An HTTP response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Values of header `name` (lower case) in `headers`, in order.
pub fn values_of<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

impl Response {
    /// Values of header `name` (lower case), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        values_of(&self.headers, name)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `addr` and reads the whole response, giving up after `timeout`.
/// `headers` must not contain `host` (taken from `authority`), `content-length` or `connection`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    authority: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// `GET path` on `addr` with a short timeout (admin endpoint).
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Response> {
    request(
        addr,
        "GET",
        path,
        &addr.to_string(),
        &[],
        &[],
        Duration::from_secs(5),
    )
}

fn invalid(detail: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, detail.into())
}

/// Parsed headers as owned (name lower-cased, value lossy UTF-8) pairs, in order.
pub fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Parses a complete response (head and body up to EOF or `content-length`).
pub fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(invalid("response ended inside its head")),
        Err(e) => return Err(invalid(format!("malformed response: {e}"))),
    };
    let headers = owned_headers(parsed.headers);
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let mut body = if chunked {
        dechunk(&raw[head_len..])?
    } else {
        raw[head_len..].to_vec()
    };
    if !chunked
        && let Some(len) = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(Response {
        status: parsed.code.unwrap_or(0),
        headers,
        body,
    })
}

/// Decodes a chunked body (trailers ignored).
fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let (used, size) = match httparse::parse_chunk_size(raw) {
            Ok(httparse::Status::Complete(found)) => found,
            _ => return Err(invalid("malformed chunked body")),
        };
        if size == 0 {
            return Ok(body);
        }
        let size = usize::try_from(size).map_err(|_| invalid("chunk too large"))?;
        let end = used
            .checked_add(size)
            .filter(|end| *end <= raw.len())
            .ok_or_else(|| invalid("chunked body ends inside a chunk"))?;
        body.extend_from_slice(&raw[used..end]);
        raw = raw.get(end + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_headers_and_body_up_to_content_length() {
        let raw =
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhelloEXTRA";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.header_values("x-a"), vec!["1", "2"]);
        assert_eq!(r.body, b"hello");
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nLIVE\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().body, b"LIVE\nabc");
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nab")
                .is_err()
        );
    }

    #[test]
    fn a_truncated_head_is_an_error_not_a_panic() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nx-a: 1\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }
}
