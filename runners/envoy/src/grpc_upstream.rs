//! The project's gRPC upstream for filter specs: an HTTP/2 server (cleartext, as Envoy's
//! clusters with `http2_protocol_options` speak it) on 127.0.0.1 that answers the gRPC calls and
//! streams Envoy makes for a module, as the spec's `grpc` entries script them — the answers the
//! in-process host gives ([`filterbench_host::grpc`]): the response headers (`:status` 200,
//! `content-type: application/grpc`, the initial metadata) at once; one scripted message per
//! message received; once the client ends its side, the remaining messages and the trailers
//! (`grpc-status`, `grpc-message`, the trailing metadata). A method with no entry gets status 12
//! (UNIMPLEMENTED). A scripted delay holds the answer back that long. HTTP/2 itself is the
//! `h2` crate's, on a one-thread tokio runtime.

use crate::cpu;
use bytes::Bytes;
use filterbench_host::GrpcRoute;
use filterbench_host::grpc::{self, GrpcReply};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A running gRPC upstream for one cluster; stops when dropped.
pub struct GrpcUpstream {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl GrpcUpstream {
    /// Starts answering `cluster`'s calls with `routes` (the entries of that cluster), on a
    /// thread pinned to `cpu`.
    pub fn start(
        cpu: Option<u32>,
        cluster: String,
        routes: Vec<GrpcRoute>,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (stop, mut stopped) = oneshot::channel();
        let routes = Arc::new(routes);
        let thread = std::thread::Builder::new()
            .name("fb-grpc-upstream".into())
            .spawn(move || {
                cpu::pin_thread(cpu);
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                if let Ok((socket, _)) = accepted {
                                    tokio::spawn(serve_connection(socket, cluster.clone(), routes.clone()));
                                }
                            }
                        }
                    }
                });
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for GrpcUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_connection(
    socket: tokio::net::TcpStream,
    cluster: String,
    routes: Arc<Vec<GrpcRoute>>,
) {
    let Ok(mut connection) = h2::server::handshake(socket).await else {
        return;
    };
    while let Some(Ok((request, respond))) = connection.accept().await {
        let reply = {
            let path = request.uri().path();
            let (service, method) = path
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or((path, ""));
            grpc::answer(&routes, &cluster, service, method).unwrap_or_default()
        };
        tokio::spawn(serve_call(request.into_body(), respond, reply));
    }
}

/// gRPC's length-prefixed message: a compression flag (0) and the length, big-endian.
fn framed(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out.into()
}

/// Length of the first whole message in `received`, if it holds one.
fn whole_message(received: &[u8]) -> Option<usize> {
    let len = u32::from_be_bytes(received.get(1..5)?.try_into().ok()?) as usize;
    (received.len() >= 5 + len).then_some(len)
}

/// `grpc-message` as gRPC encodes it: bytes outside printable ASCII, and `%`, percent-encoded.
fn percent_encoded(message: &[u8]) -> String {
    message
        .iter()
        .map(|&b| match b {
            b' '..=b'~' if b != b'%' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn header_map(pairs: &[(&[u8], &[u8])]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k),
            http::HeaderValue::from_bytes(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

async fn serve_call(
    mut body: h2::RecvStream,
    mut respond: h2::server::SendResponse<Bytes>,
    reply: GrpcReply,
) {
    if reply.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(reply.delay_ms)).await;
    }
    let mut head: Vec<(&[u8], &[u8])> = vec![(b"content-type", b"application/grpc")];
    head.extend(reply.initial_metadata.iter());
    let mut response = http::Response::new(());
    *response.headers_mut() = header_map(&head);
    let Ok(mut send) = respond.send_response(response, false) else {
        return;
    };
    let mut received = Vec::new();
    let mut next = 0;
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else {
            return;
        };
        let _ = body.flow_control().release_capacity(chunk.len());
        received.extend_from_slice(&chunk);
        while let Some(len) = whole_message(&received) {
            received.drain(..5 + len);
            if let Some(message) = reply.messages.get(next) {
                next += 1;
                if send.send_data(framed(message), false).is_err() {
                    return;
                }
            }
        }
    }
    for message in reply.messages.iter().skip(next) {
        if send.send_data(framed(message), false).is_err() {
            return;
        }
    }
    let status = reply.status.to_string();
    let message = percent_encoded(&reply.status_message);
    let mut tail: Vec<(&[u8], &[u8])> = vec![(b"grpc-status", status.as_bytes())];
    if !message.is_empty() {
        tail.push((b"grpc-message", message.as_bytes()));
    }
    tail.extend(reply.trailing_metadata.iter());
    let _ = send.send_trailers(header_map(&tail));
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_host::HeaderMap;

    /// A stream over real HTTP/2 (the h2 client): the response headers, a message per message
    /// sent, the rest and the trailers once the client ends its side, all after the scripted
    /// delay; then a method no entry names: status 12.
    #[test]
    fn a_stream_is_answered_message_by_message_then_closed_with_its_trailers() {
        let reply = GrpcReply {
            initial_metadata: HeaderMap::from_pairs(&[("x-v", "7")]),
            messages: vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
            trailing_metadata: HeaderMap::from_pairs(&[("x-end", "1")]),
            status: 7,
            status_message: b"no entry".to_vec(),
            delay_ms: 200,
        };
        let route = GrpcRoute {
            cluster: "feed".to_owned(),
            service: Some("s.Feed".to_owned()),
            method: None,
            reply,
        };
        let upstream = GrpcUpstream::start(None, "feed".to_owned(), vec![route]).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect(upstream.addr())
                .await
                .unwrap();
            let (client, connection) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut client = client.ready().await.unwrap();
            let request = |path: &str| {
                http::Request::post(format!("http://feed{path}"))
                    .header("content-type", "application/grpc")
                    .body(())
                    .unwrap()
            };
            let (response, mut send) = client
                .send_request(request("/s.Feed/Watch"), false)
                .unwrap();
            send.send_data(framed(b"one"), false).unwrap();
            let response = response.await.unwrap();
            assert_eq!(response.headers()["x-v"], "7");
            let mut body = response.into_body();
            let first = body.data().await.unwrap().unwrap();
            assert_eq!(first, framed(b"a"), "one message answers one message");
            send.send_data(framed(b"two"), true).unwrap();
            let mut rest = Vec::new();
            while let Some(chunk) = body.data().await {
                rest.extend_from_slice(&chunk.unwrap());
            }
            assert_eq!(rest, [framed(b"b"), framed(b"c")].concat());
            let trailers = body.trailers().await.unwrap().unwrap();
            assert_eq!(trailers["grpc-status"], "7");
            assert_eq!(trailers["grpc-message"], "no entry");
            assert_eq!(trailers["x-end"], "1");

            let mut client = client.ready().await.unwrap();
            let (response, mut send) = client
                .send_request(request("/other.Svc/Get"), false)
                .unwrap();
            send.send_data(framed(b"x"), true).unwrap();
            let mut body = response.await.unwrap().into_body();
            while body.data().await.is_some() {}
            let trailers = body.trailers().await.unwrap().unwrap();
            assert_eq!(trailers["grpc-status"], "12", "UNIMPLEMENTED");
        });
    }

    #[test]
    fn messages_are_framed_and_found_whole_and_status_messages_percent_encoded() {
        let frame = framed(b"abc");
        assert_eq!(&frame[..], b"\0\0\0\0\x03abc");
        assert_eq!(whole_message(&frame), Some(3));
        assert_eq!(whole_message(&frame[..6]), None);
        assert_eq!(
            percent_encoded("no entry 100% é".as_bytes()),
            "no entry 100%25 %C3%A9"
        );
    }
}
