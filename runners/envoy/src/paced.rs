//! Paced load on one keep-alive HTTP/1.1 connection: request `i` is sent at `start + i / rate`
//! (never early), and each is answered before the next is sent. Below the server's capacity
//! this is a fixed-rate load whose every slice sends exactly the same requests, so Envoy's CPU
//! time over a slice divided by its request count is comparable between listeners. The caller
//! runs it on the load CPU, away from Envoy's.

use crate::load::LoadRequest;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one response may take before the slice fails.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one paced run did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacedRun {
    /// Requests answered.
    pub requests: u64,
    /// Of those, answered with a status other than 2xx.
    pub non_2xx: u64,
    /// From the first request sent to the last response read, seconds.
    pub seconds: f64,
}

impl PacedRun {
    /// Requests per second achieved.
    pub fn achieved_rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One open keep-alive connection to a listener, sending one prepared request.
pub struct PacedConnection {
    stream: TcpStream,
    request: Vec<u8>,
    buffer: Vec<u8>,
    target: SocketAddr,
}

fn invalid(target: SocketAddr, detail: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("response from {target}: {detail}"),
    )
}

/// Calls `send_one` `count` times, call `i` at `start + i / rate` (never early, each after the
/// previous returned); stops at the first failure. `send_one` says whether the answer was the
/// expected one (counted as `non_2xx` when not).
pub fn pace(
    rate: f64,
    count: u64,
    mut send_one: impl FnMut() -> std::io::Result<bool>,
) -> std::io::Result<PacedRun> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let start = Instant::now();
    let mut non_2xx = 0;
    for i in 0..count {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if !send_one()? {
            non_2xx += 1;
        }
    }
    Ok(PacedRun {
        requests: count,
        non_2xx,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl PacedConnection {
    /// Connects to `target` (loopback only) to send `request` over and over.
    pub fn open(target: SocketAddr, request: &LoadRequest) -> std::io::Result<Self> {
        assert!(
            target.ip().is_loopback(),
            "load is only ever sent to 127.0.0.1"
        );
        let stream = TcpStream::connect_timeout(&target, RESPONSE_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        stream.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
        let mut head = format!(
            "GET {} HTTP/1.1\r\nhost: {}\r\n",
            request.path, request.authority
        );
        for (k, v) in &request.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        Ok(Self {
            stream,
            request: head.into_bytes(),
            buffer: Vec::with_capacity(4096),
            target,
        })
    }

    /// Sends the request once and reads its response; returns the status code.
    pub fn send_one(&mut self) -> std::io::Result<u16> {
        self.stream.write_all(&self.request)?;
        self.read_response()
    }

    /// Sends `count` requests at `rate` per second; stops at the first failure.
    pub fn run(&mut self, rate: f64, count: u64) -> std::io::Result<PacedRun> {
        pace(rate, count, || Ok((200..300).contains(&self.send_one()?)))
    }

    /// Reads one whole response (head and a `content-length` body) off the connection.
    fn read_response(&mut self) -> std::io::Result<u16> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buffer) {
                Ok(httparse::Status::Complete(head)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut length = None;
                    for h in parsed.headers.iter() {
                        if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(invalid(
                                self.target,
                                "chunked bodies are not supported by the paced load",
                            ));
                        }
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok());
                        }
                    }
                    let length =
                        length.ok_or_else(|| invalid(self.target, "no content-length header"))?;
                    if self.buffer.len() >= head + length {
                        self.buffer.drain(..head + length);
                        return Ok(status);
                    }
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(invalid(self.target, e)),
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(invalid(self.target, "connection closed"));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers every request on its one connection with `ok` (2 responses per
    /// read when the client pipelines, which it does not).
    fn serve(responses: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            for _ in 0..responses {
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                // The response arrives in two writes to exercise partial reads.
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-le").unwrap();
                s.write_all(b"ngth: 3\r\n\r\nok\n").unwrap();
            }
        });
        addr
    }

    #[test]
    fn paces_requests_at_the_rate_on_one_connection() {
        let addr = serve(50);
        let request = LoadRequest {
            path: "/".to_owned(),
            headers: vec![("x-a".to_owned(), "1".to_owned())],
            authority: "example.com".to_owned(),
        };
        let mut c = PacedConnection::open(addr, &request).unwrap();
        let run = c.run(500.0, 50).unwrap();
        assert_eq!((run.requests, run.non_2xx), (50, 0));
        // 49 intervals of 2 ms: never faster than the schedule.
        assert!(run.seconds >= 0.098, "{run:?}");
        assert!(run.achieved_rps() <= 515.0, "{run:?}");
        // The server has answered all it will: the next request finds the connection closed.
        let e = c.send_one().unwrap_err();
        assert!(e.to_string().contains("connection closed"), "{e}");
    }
}
