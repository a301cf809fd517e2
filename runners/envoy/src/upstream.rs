//! The project's own upstream: a small HTTP/1.1 server on 127.0.0.1 (keep-alive, one thread per
//! connection; bodies by content-length or chunked) for proxied runs and for conformance checks.
//! A request carrying [`ECHO_HEADER`] gets back what the upstream received — method, path,
//! headers, body — as JSON, which is how a check sees the request headers a filter forwarded;
//! any other request gets a small `200 ok`. A spec's upstream is scripted instead
//! ([`Upstream::start_scripted`]): the first [`Rule`] a request matches answers it, and an echo
//! request so answered is recorded ([`Upstream::received`]) instead of echoed. Parsing is httparse's (heads and chunk sizes); the
//! loop stays hand-written so the load path is unchanged (a server crate would change every
//! Envoy figure's baseline).

use crate::cpu;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Request header that asks for an echo (and routes the request to this upstream).
pub const ECHO_HEADER: &str = "x-fb-echo";

/// A scripted answer: status, headers (no pseudo-headers; `content-length` is the body's) and
/// body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// How long to wait before answering.
    pub delay: std::time::Duration,
}

/// Requests carrying `when_header` (any request when `None`) get `answer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Header name (lower case) and value the request must carry.
    pub when_header: Option<(String, String)>,
    /// The answer.
    pub answer: Answer,
}

/// What one upstream answers and what it saw.
#[derive(Default)]
struct Script {
    rules: Vec<Rule>,
    /// Echo requests answered by a rule, by their echo header's value (oldest first, at most
    /// [`MAX_RECEIVED`]).
    received: Mutex<Vec<(String, Echo)>>,
}

/// Recorded echo requests kept at most (conformance checks send a handful).
const MAX_RECEIVED: usize = 1024;

impl Script {
    fn answer_for(&self, headers: &[(String, String)]) -> Option<&Answer> {
        self.rules
            .iter()
            .find(|r| match &r.when_header {
                None => true,
                Some((name, value)) => headers.iter().any(|(k, v)| k == name && v == value),
            })
            .map(|r| &r.answer)
    }
}

/// What the upstream received, as echoed back.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Echo {
    /// Request method.
    pub method: String,
    /// Request target.
    pub path: String,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body (lossy UTF-8).
    pub body: String,
}

impl Echo {
    /// Values of header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        crate::http::values_of(&self.headers, name)
    }
}

/// A running upstream; stops when dropped.
pub struct Upstream {
    addr: SocketAddr,
    script: Arc<Script>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Listens on 127.0.0.1 (ephemeral port); its threads run on `cpu`.
    pub fn start(cpu: Option<u32>) -> std::io::Result<Self> {
        Self::start_scripted(cpu, Vec::new())
    }

    /// [`Self::start`], answering with the first of `rules` a request matches (echo requests
    /// included, which are then recorded instead of echoed); requests no rule matches are
    /// answered as by [`Self::start`].
    pub fn start_scripted(cpu: Option<u32>, rules: Vec<Rule>) -> std::io::Result<Self> {
        let script = Arc::new(Script {
            rules,
            received: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let shared = script.clone();
        let acceptor = std::thread::Builder::new()
            .name("fb-upstream".into())
            .spawn(move || {
                cpu::pin_thread(cpu);
                for stream in listener.incoming() {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let script = shared.clone();
                        let _ = std::thread::Builder::new()
                            .name("fb-upstream-conn".into())
                            .spawn(move || {
                                cpu::pin_thread(cpu);
                                let _ = serve(stream, &script);
                            });
                    }
                }
            })?;
        Ok(Self {
            addr,
            script,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request that carried echo header value `id` and was answered by a rule, if it
    /// arrived (taken: a second call gives `None`).
    pub fn received(&self, id: &str) -> Option<Echo> {
        let mut received = self
            .script
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let at = received.iter().position(|(k, _)| k == id)?;
        Some(received.remove(at).1)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves keep-alive requests on one connection until the peer closes it.
fn serve(stream: TcpStream, script: &Script) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        // Read the head line by line up to the empty line.
        loop {
            let before = head.len();
            if reader.read_until(b'\n', &mut head)? == 0 {
                return Ok(());
            }
            if head.len() > 1 << 20 {
                return Err(std::io::Error::other("request head over 1 MiB"));
            }
            if head[before..] == *b"\r\n" || head[before..] == *b"\n" {
                break;
            }
        }
        let mut headers = [httparse::EMPTY_HEADER; 256];
        let mut request = httparse::Request::new(&mut headers);
        if !matches!(request.parse(&head), Ok(httparse::Status::Complete(_))) {
            writer.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let headers = crate::http::owned_headers(request.headers);
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let length = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            body
        };
        let echo = headers
            .iter()
            .find(|(k, _)| k == ECHO_HEADER)
            .map(|(_, v)| v.clone());
        let close = headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
        let scripted = if script.rules.is_empty() {
            None
        } else {
            script.answer_for(&headers).cloned()
        };
        let received = |headers| Echo {
            method: request.method.unwrap_or("").to_owned(),
            path: request.path.unwrap_or("").to_owned(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let answer = match (scripted, echo) {
            (Some(answer), Some(id)) => {
                let mut list = script.received.lock().unwrap_or_else(|p| p.into_inner());
                if list.len() >= MAX_RECEIVED {
                    list.remove(0);
                }
                list.push((id, received(headers)));
                answer
            }
            (Some(answer), None) => answer,
            (None, Some(_)) => Answer {
                status: 200,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: serde_json::to_vec(&received(headers)).map_err(std::io::Error::other)?,
                delay: std::time::Duration::ZERO,
            },
            (None, None) => Answer {
                status: 200,
                headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
                body: b"ok\n".to_vec(),
                delay: std::time::Duration::ZERO,
            },
        };
        if !answer.delay.is_zero() {
            std::thread::sleep(answer.delay);
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
        for (k, v) in answer.headers.iter().filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        }) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", answer.body.len()));
        writer.write_all(head.as_bytes())?;
        let payload = answer.body;
        writer.write_all(&payload)?;
        if close {
            return Ok(());
        }
    }
}

/// The reason phrase of `status` (HTTP/1.1 clients ignore it; kept readable).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400..=499 => "Client Error",
        500..=599 => "Server Error",
        _ => "Status",
    }
}

/// Reads a `transfer-encoding: chunked` body (sizes parsed by httparse), and its trailers,
/// which are dropped.
fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::other(
                "connection closed inside a chunked body",
            ));
        }
        let size = match httparse::parse_chunk_size(&line) {
            Ok(httparse::Status::Complete((_, size))) => usize::try_from(size)
                .ok()
                .filter(|&size| body.len() + size <= 1 << 30)
                .ok_or_else(|| std::io::Error::other("chunked body over 1 GiB"))?,
            _ => return Err(std::io::Error::other("malformed chunk size line")),
        };
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 || line == b"\r\n" || line == b"\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;
    use std::time::Duration;

    #[test]
    fn echoes_what_it_received_and_answers_ok_otherwise() {
        let upstream = Upstream::start(None).unwrap();
        let headers = vec![
            (ECHO_HEADER.to_owned(), "1".to_owned()),
            ("x-a".to_owned(), "b".to_owned()),
        ];
        let r = http::request(
            upstream.addr(),
            "POST",
            "/p?q=1",
            "example",
            &headers,
            b"hello",
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(r.status, 200);
        let echo: Echo = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(echo.method, "POST");
        assert_eq!(echo.path, "/p?q=1");
        assert_eq!(echo.header_values("x-a"), vec!["b"]);
        assert_eq!(echo.header_values("host"), vec!["example"]);
        assert_eq!(echo.body, "hello");
        let plain = http::get(upstream.addr(), "/").unwrap();
        assert_eq!((plain.status, plain.text().as_str()), (200, "ok\n"));
    }

    #[test]
    fn a_scripted_upstream_answers_by_rule_and_records_what_it_answered() {
        let answer = |status: u16, body: &[u8], delay_ms: u64| Answer {
            status,
            headers: vec![("x-from".to_owned(), "script".to_owned())],
            body: body.to_vec(),
            delay: Duration::from_millis(delay_ms),
        };
        let upstream = Upstream::start_scripted(
            None,
            vec![
                Rule {
                    when_header: Some(("x-kind".to_owned(), "b".to_owned())),
                    answer: answer(503, b"busy", 200),
                },
                Rule {
                    when_header: None,
                    answer: answer(201, b"made", 0),
                },
            ],
        )
        .unwrap();
        let send = |headers: &[(&str, &str)]| {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            http::request(
                upstream.addr(),
                "GET",
                "/x",
                "h",
                &headers,
                b"",
                Duration::from_secs(5),
            )
            .unwrap()
        };
        let asked = std::time::Instant::now();
        let b = send(&[("x-kind", "b")]);
        assert_eq!((b.status, b.text().as_str()), (503, "busy"));
        assert!(
            asked.elapsed() >= Duration::from_millis(200),
            "answered after its delay"
        );
        assert_eq!(b.header_values("x-from"), vec!["script"]);
        let echoed = send(&[(ECHO_HEADER, "id-1"), ("x-a", "1")]);
        assert_eq!((echoed.status, echoed.text().as_str()), (201, "made"));
        let seen = upstream.received("id-1").unwrap();
        assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", "/x"));
        assert_eq!(seen.header_values("x-a"), vec!["1"]);
        assert!(upstream.received("id-1").is_none(), "taken once");
        assert!(upstream.received("id-2").is_none());
    }

    #[test]
    fn reads_chunked_request_bodies_and_keeps_the_connection() {
        use std::io::{Read, Write};
        let upstream = Upstream::start(None).unwrap();
        let mut conn = TcpStream::connect(upstream.addr()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let request = format!(
            "POST /c HTTP/1.1\r\nhost: x\r\n{ECHO_HEADER}: 1\r\ntransfer-encoding: chunked\r\n\r\n\
             5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n"
        );
        // Twice on one connection: the body is consumed exactly, keep-alive goes on.
        for _ in 0..2 {
            conn.write_all(request.as_bytes()).unwrap();
            let mut reader = BufReader::new(&mut conn);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let echo: Echo = serde_json::from_slice(&body).unwrap();
            assert_eq!(echo.body, "hello, world");
        }
    }
}
