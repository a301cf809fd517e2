//! TCP connections through Envoy, for network (TCP) filters: the project's scripted TCP
//! upstream ([`TcpUpstream`]: reads a connection to its end, then sends the current answer and
//! closes) and the client side ([`exchange`]: sends the downstream bytes, ends its side, reads
//! to the end), one connection per exchange — what the in-process host's TCP unit does
//! (new connection, downstream data ending the client's side, upstream data, closes).

use crate::cpu;
use crate::paced::{self, PacedRun};
use filterbench_host::TcpExchange;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one connection's side may stay silent before the exchange fails.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the upstream answers and what it last received.
#[derive(Default)]
struct Script {
    /// Chunks sent back once a connection's client side has ended.
    answer: Mutex<Vec<Vec<u8>>>,
    /// What the last finished connection sent (the filter's forwarded downstream data).
    received: Mutex<Option<Vec<u8>>>,
}

/// The scripted TCP upstream on 127.0.0.1 (one thread per connection, on the load CPU).
pub struct TcpUpstream {
    addr: SocketAddr,
    script: Arc<Script>,
    stop: Arc<AtomicBool>,
}

impl TcpUpstream {
    /// Listens on an ephemeral port; its threads are pinned to `cpu`. Answers `answer` until
    /// [`TcpUpstream::set_answer`] changes it.
    pub fn start(cpu: Option<u32>, answer: Vec<Vec<u8>>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let script = Arc::new(Script {
            answer: Mutex::new(answer),
            received: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_script, accept_stop) = (script.clone(), stop.clone());
        std::thread::Builder::new()
            .name("tcp-upstream".to_owned())
            .spawn(move || {
                cpu::pin_thread(cpu);
                for stream in listener.incoming() {
                    if accept_stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let script = accept_script.clone();
                    let _ = std::thread::Builder::new()
                        .name("tcp-upstream-conn".to_owned())
                        .spawn(move || {
                            cpu::pin_thread(cpu);
                            let _ = serve(stream, &script);
                        });
                }
            })?;
        Ok(Self { addr, script, stop })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chunks later connections get back.
    pub fn set_answer(&self, answer: Vec<Vec<u8>>) {
        *self.script.answer.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }

    /// What the last finished connection sent, and forgets it.
    pub fn take_received(&self) -> Option<Vec<u8>> {
        self.script
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl Drop for TcpUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// One upstream connection: read to the end, record it, answer, close.
fn serve(mut stream: TcpStream, script: &Script) -> std::io::Result<()> {
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT))?;
    stream.set_write_timeout(Some(EXCHANGE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    *script.received.lock().unwrap_or_else(|e| e.into_inner()) = Some(received);
    let answer = script
        .answer
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for chunk in &answer {
        stream.write_all(chunk)?;
    }
    stream.shutdown(Shutdown::Both)
}

/// Opens a connection to `target` (loopback only), sends `exchange`'s downstream chunks, ends
/// the client's side and reads until Envoy closes; returns what the client received. Fails on
/// a side silent for `timeout` (a paused connection times out: `WouldBlock`/`TimedOut`).
pub fn exchange(
    target: SocketAddr,
    exchange: &TcpExchange,
    timeout: Duration,
) -> std::io::Result<Vec<u8>> {
    assert!(
        target.ip().is_loopback(),
        "load is only ever sent to 127.0.0.1"
    );
    let mut stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    for chunk in &exchange.downstream {
        stream.write_all(chunk)?;
    }
    stream.shutdown(Shutdown::Write)?;
    let mut received = Vec::new();
    stream.read_to_end(&mut received)?;
    Ok(received)
}

/// Paced TCP load: connection `i` opens at `start + i / rate` and exchanges
/// [`exchange`]'s bytes before the next one opens.
pub struct PacedTcp {
    target: SocketAddr,
    exchange: TcpExchange,
    expected: Vec<u8>,
}

impl PacedTcp {
    /// Connections to `target` exchanging `exchange`; each must bring back what the first did.
    pub fn open(target: SocketAddr, exchange: &TcpExchange) -> std::io::Result<Self> {
        let expected = self::exchange(target, exchange, EXCHANGE_TIMEOUT)?;
        Ok(Self {
            target,
            exchange: exchange.clone(),
            expected,
        })
    }

    /// `count` connections at `rate` per second; stops at the first failure. A connection
    /// that brings back other bytes than the first counts as `non_2xx`.
    pub fn run(&mut self, rate: f64, count: u64) -> std::io::Result<PacedRun> {
        paced::pace(rate, count, || {
            let received = exchange(self.target, &self.exchange, EXCHANGE_TIMEOUT)?;
            Ok(received == self.expected)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_answers_once_the_client_side_ends_and_records_what_it_got() {
        let upstream = TcpUpstream::start(None, vec![b"po".to_vec(), b"ng".to_vec()]).unwrap();
        let sent = TcpExchange {
            downstream: vec![b"ping ".to_vec(), b"ping".to_vec()],
            upstream: Vec::new(),
        };
        let got = exchange(upstream.addr(), &sent, EXCHANGE_TIMEOUT).unwrap();
        assert_eq!(got, b"pong");
        assert_eq!(upstream.take_received().as_deref(), Some(&b"ping ping"[..]));
        assert_eq!(upstream.take_received(), None);
        upstream.set_answer(vec![b"other".to_vec()]);
        let mut paced = PacedTcp::open(upstream.addr(), &sent).unwrap();
        let run = paced.run(f64::MAX, 20).unwrap();
        assert_eq!((run.requests, run.non_2xx), (20, 0));
        upstream.set_answer(vec![b"changed".to_vec()]);
        let run = paced.run(f64::MAX, 3).unwrap();
        assert_eq!(run.non_2xx, 3, "other bytes than the first connection's");
    }
}
