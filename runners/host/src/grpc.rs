//! gRPC calls and streams against the scripted gRPC upstream of a plugin
//! ([`crate::PluginSpec::grpc_upstreams`]), with Envoy's semantics:
//!
//! - a unary call (`proxy_grpc_call`) ends in `proxy_on_grpc_receive` with the answer's first
//!   message when its status is OK, else in `proxy_on_grpc_close` with the status (an OK status
//!   without a message is INTERNAL, as Envoy's gRPC client reports it); no metadata callbacks;
//! - a stream (`proxy_grpc_stream`) receives the server's initial metadata once it is open
//!   (`:status`, `content-type`, the scripted pairs and `x-envoy-upstream-service-time: 0`, as
//!   Envoy hands over the response headers its router saw), one scripted message per message the module sends, and — once the module ends its
//!   side (`end_stream` or `proxy_grpc_close`) — the remaining messages, the trailing metadata
//!   (`grpc-status`, `grpc-message`, the scripted pairs) and `proxy_on_grpc_close`;
//! - the status message read in `proxy_on_grpc_close` carries Envoy's response code details:
//!   `via_upstream`, or `MESSAGE{via_upstream}`;
//! - `proxy_grpc_cancel` (and `proxy_grpc_close` on a unary call) drops the call or stream with
//!   no further callback; a context's calls and streams end with it (Envoy resets them).
//!
//! Every answer is queued when the module acts and delivered after the current callback
//! returns, like the answers to HTTP calls.

use crate::abi::Status;
use crate::header_map::HeaderMap;
use crate::pairs::Bytes;
use std::collections::VecDeque;

/// gRPC status UNIMPLEMENTED: what the scripted upstream answers a method it has no rule for.
pub const STATUS_UNIMPLEMENTED: u32 = 12;
/// gRPC status INTERNAL: a unary call whose answer is OK but carries no message.
pub const STATUS_INTERNAL: u32 = 13;

/// What the scripted gRPC upstream answers a call or stream.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GrpcReply {
    /// Initial metadata (response headers) after `:status` and `content-type`.
    pub initial_metadata: HeaderMap,
    /// Response messages (their bytes, without gRPC's length prefix).
    pub messages: Vec<Bytes>,
    /// Trailing metadata after `grpc-status` and `grpc-message`.
    pub trailing_metadata: HeaderMap,
    /// gRPC status code (0 = OK).
    pub status: u32,
    /// Status message (read with `proxy_get_status` in `proxy_on_grpc_close`).
    pub status_message: Bytes,
    /// How long the upstream waits before answering, ms. Applied by the gRPC upstream of Envoy
    /// runs; the in-process host answers at once (waiting is no filter's work).
    pub delay_ms: u64,
}

/// One rule of the scripted gRPC upstream: calls and streams to `cluster` (and to `service`,
/// `method` where set) get `reply`. The first matching rule answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcRoute {
    /// Cluster name the module passes to `proxy_grpc_call` / `proxy_grpc_stream`.
    pub cluster: String,
    /// Only this service (`None`: any).
    pub service: Option<String>,
    /// Only this method (`None`: any).
    pub method: Option<String>,
    /// The answer.
    pub reply: GrpcReply,
}

/// The answer to a call of `service`/`method` on `cluster`: the first matching rule's, an
/// UNIMPLEMENTED status when the cluster has rules but none for this method, `None` when no
/// rule names the cluster (Envoy then refuses the call: PARSE_FAILURE).
pub fn answer(
    routes: &[GrpcRoute],
    cluster: &str,
    service: &str,
    method: &str,
) -> Option<GrpcReply> {
    let mut known = false;
    for route in routes.iter().filter(|r| r.cluster == cluster) {
        known = true;
        if route.service.as_deref().is_none_or(|s| s == service)
            && route.method.as_deref().is_none_or(|m| m == method)
        {
            return Some(route.reply.clone());
        }
    }
    known.then(|| GrpcReply {
        status: STATUS_UNIMPLEMENTED,
        status_message: format!("no scripted answer for {service}/{method}").into_bytes(),
        ..GrpcReply::default()
    })
}

/// What a gRPC callback delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrpcEventKind {
    /// `proxy_on_grpc_receive_initial_metadata`: the response headers.
    InitialMetadata(HeaderMap),
    /// `proxy_on_grpc_receive`: one message.
    Message(Bytes),
    /// `proxy_on_grpc_receive_trailing_metadata`: the trailers.
    TrailingMetadata(HeaderMap),
    /// `proxy_on_grpc_close`: the final status and its message.
    Close {
        /// gRPC status code.
        status: u32,
        /// Status message.
        message: Bytes,
    },
}

/// One queued gRPC callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcEvent {
    /// Context that made the call or opened the stream.
    pub context_id: u32,
    /// The call's or stream's token.
    pub token: u32,
    /// What is delivered.
    pub kind: GrpcEventKind,
}

#[derive(Clone, Debug)]
struct OpenStream {
    token: u32,
    context_id: u32,
    reply: GrpcReply,
    next_message: usize,
    local_closed: bool,
}

/// The gRPC calls and streams of one VM and their queued callbacks.
#[derive(Clone, Debug, Default)]
pub struct GrpcState {
    /// Unary calls not answered yet: (token, context).
    calls: Vec<(u32, u32)>,
    streams: Vec<OpenStream>,
    events: VecDeque<GrpcEvent>,
    /// What the callback running now delivers (metadata for the metadata maps, the message for
    /// the gRPC receive buffer, the status for `proxy_get_status`).
    pub delivering: Option<GrpcEventKind>,
}

/// What Envoy's router adds to a gRPC stream's response headers: the upstream's time to
/// answer, in ms (0 here: the scripted upstream answers at once).
const SERVICE_TIME_HEADER: &str = "x-envoy-upstream-service-time";

/// Envoy's response code details for an answer that came from the upstream; Envoy's gRPC client
/// hands them over with the status message.
const VIA_UPSTREAM: &str = "via_upstream";

fn metadata(first: &[(&str, String)], scripted: &HeaderMap, last: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in first {
        map.add(k.as_bytes(), v.as_bytes());
    }
    for (k, v) in scripted.iter() {
        map.add(k, v);
    }
    for (k, v) in last {
        map.add(k.as_bytes(), v.as_bytes());
    }
    map
}

/// The status message a module reads in `proxy_on_grpc_close` for a close that came from the
/// upstream, as Envoy 1.40 gives it: `via_upstream`, or `MESSAGE{via_upstream}`.
fn upstream_close_message(status_message: &[u8]) -> Bytes {
    if status_message.is_empty() {
        VIA_UPSTREAM.as_bytes().to_vec()
    } else {
        let mut message = status_message.to_vec();
        message.extend_from_slice(format!("{{{VIA_UPSTREAM}}}").as_bytes());
        message
    }
}

impl GrpcState {
    /// A unary call was made: queues its answer.
    pub fn call(&mut self, token: u32, context_id: u32, reply: GrpcReply) {
        self.calls.push((token, context_id));
        let kind = match reply.messages.first() {
            Some(message) if reply.status == 0 => GrpcEventKind::Message(message.clone()),
            None if reply.status == 0 => GrpcEventKind::Close {
                status: STATUS_INTERNAL,
                message: Bytes::new(),
            },
            _ => GrpcEventKind::Close {
                status: reply.status,
                message: upstream_close_message(&reply.status_message),
            },
        };
        self.events.push_back(GrpcEvent {
            context_id,
            token,
            kind,
        });
    }

    /// A stream was opened: queues the server's initial metadata.
    pub fn open_stream(&mut self, token: u32, context_id: u32, reply: GrpcReply) {
        let headers = metadata(
            &[
                (":status", "200".to_owned()),
                ("content-type", "application/grpc".to_owned()),
            ],
            &reply.initial_metadata,
            &[(SERVICE_TIME_HEADER, "0")],
        );
        self.events.push_back(GrpcEvent {
            context_id,
            token,
            kind: GrpcEventKind::InitialMetadata(headers),
        });
        self.streams.push(OpenStream {
            token,
            context_id,
            reply,
            next_message: 0,
            local_closed: false,
        });
    }

    fn stream_index(&self, token: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.token == token)
    }

    /// `proxy_grpc_send`: the next scripted message answers; `end_stream` ends the module's
    /// side. BAD_ARGUMENT for a unary call's token or a stream the module already closed,
    /// NOT_FOUND for an unknown token.
    pub fn send(&mut self, token: u32, end_stream: bool) -> Result<(), Status> {
        if self.calls.iter().any(|(t, _)| *t == token) {
            return Err(Status::BadArgument);
        }
        let i = self.stream_index(token).ok_or(Status::NotFound)?;
        let stream = &mut self.streams[i];
        if stream.local_closed {
            return Err(Status::BadArgument);
        }
        if let Some(message) = stream.reply.messages.get(stream.next_message) {
            stream.next_message += 1;
            self.events.push_back(GrpcEvent {
                context_id: stream.context_id,
                token,
                kind: GrpcEventKind::Message(message.clone()),
            });
        }
        if end_stream {
            self.finish(i);
        }
        Ok(())
    }

    /// The module ended its side of stream `i`: the server sends what is left and closes.
    fn finish(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        stream.local_closed = true;
        let (token, context_id) = (stream.token, stream.context_id);
        let reply = &stream.reply;
        let mut events: Vec<GrpcEventKind> = reply.messages[stream.next_message..]
            .iter()
            .cloned()
            .map(GrpcEventKind::Message)
            .collect();
        stream.next_message = reply.messages.len();
        let mut first = vec![("grpc-status", reply.status.to_string())];
        if !reply.status_message.is_empty() {
            first.push((
                "grpc-message",
                String::from_utf8_lossy(&reply.status_message).into_owned(),
            ));
        }
        events.push(GrpcEventKind::TrailingMetadata(metadata(
            &first,
            &reply.trailing_metadata,
            &[],
        )));
        events.push(GrpcEventKind::Close {
            status: reply.status,
            message: upstream_close_message(&reply.status_message),
        });
        self.events.extend(events.into_iter().map(|kind| GrpcEvent {
            context_id,
            token,
            kind,
        }));
    }

    /// `proxy_grpc_close`: ends the module's side of a stream (the server still answers), or
    /// cancels a unary call. NOT_FOUND for an unknown token.
    pub fn close(&mut self, token: u32) -> Result<(), Status> {
        if self.calls.iter().any(|(t, _)| *t == token) {
            return self.cancel(token);
        }
        let i = self.stream_index(token).ok_or(Status::NotFound)?;
        if !self.streams[i].local_closed {
            self.finish(i);
        }
        Ok(())
    }

    /// `proxy_grpc_cancel`: drops a call or stream; nothing more is delivered for it.
    /// NOT_FOUND for an unknown token.
    pub fn cancel(&mut self, token: u32) -> Result<(), Status> {
        let before = self.calls.len() + self.streams.len();
        self.calls.retain(|(t, _)| *t != token);
        self.streams.retain(|s| s.token != token);
        if self.calls.len() + self.streams.len() == before {
            return Err(Status::NotFound);
        }
        self.events.retain(|e| e.token != token);
        Ok(())
    }

    /// The next callback to deliver; a call or stream whose last callback this is is
    /// forgotten.
    pub fn next_event(&mut self) -> Option<GrpcEvent> {
        let event = self.events.pop_front()?;
        let last = match event.kind {
            GrpcEventKind::Close { .. } => true,
            GrpcEventKind::Message(_) => self.calls.iter().any(|(t, _)| *t == event.token),
            _ => false,
        };
        if last {
            self.calls.retain(|(t, _)| *t != event.token);
            self.streams.retain(|s| s.token != event.token);
        }
        Some(event)
    }

    /// Drops every call and stream of a context that ended (as Envoy resets them).
    pub fn forget_context(&mut self, context_id: u32) {
        if self.calls.is_empty() && self.streams.is_empty() && self.events.is_empty() {
            return;
        }
        self.calls.retain(|(_, c)| *c != context_id);
        self.streams.retain(|s| s.context_id != context_id);
        self.events.retain(|e| e.context_id != context_id);
    }

    /// Whether any callback is waiting.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The metadata map being delivered now for `trailing` or initial metadata.
    pub fn metadata(&self, trailing: bool) -> Option<&HeaderMap> {
        match (&self.delivering, trailing) {
            (Some(GrpcEventKind::InitialMetadata(m)), false)
            | (Some(GrpcEventKind::TrailingMetadata(m)), true) => Some(m),
            _ => None,
        }
    }

    /// Mutable access to the metadata map being delivered now.
    pub fn metadata_mut(&mut self, trailing: bool) -> Option<&mut HeaderMap> {
        match (&mut self.delivering, trailing) {
            (Some(GrpcEventKind::InitialMetadata(m)), false)
            | (Some(GrpcEventKind::TrailingMetadata(m)), true) => Some(m),
            _ => None,
        }
    }

    /// The message being delivered now.
    pub fn message(&self) -> Option<&[u8]> {
        match &self.delivering {
            Some(GrpcEventKind::Message(m)) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(messages: &[&str], status: u32) -> GrpcReply {
        GrpcReply {
            messages: messages.iter().map(|m| m.as_bytes().to_vec()).collect(),
            status,
            status_message: b"why".to_vec(),
            ..GrpcReply::default()
        }
    }

    fn kinds(state: &mut GrpcState) -> Vec<String> {
        std::iter::from_fn(|| state.next_event())
            .map(|e| match e.kind {
                GrpcEventKind::InitialMetadata(m) => format!("initial {}", m.len()),
                GrpcEventKind::Message(m) => format!("message {}", String::from_utf8_lossy(&m)),
                GrpcEventKind::TrailingMetadata(m) => format!("trailing {}", m.len()),
                GrpcEventKind::Close { status, .. } => format!("close {status}"),
            })
            .collect()
    }

    #[test]
    fn a_unary_call_gets_its_first_message_or_its_failure() {
        let mut state = GrpcState::default();
        state.call(1, 7, reply(&["ok", "ignored"], 0));
        state.call(2, 7, reply(&["ok"], 7));
        state.call(3, 7, reply(&[], 0));
        assert_eq!(kinds(&mut state), ["message ok", "close 7", "close 13"]);
        assert_eq!(
            state.cancel(1),
            Err(Status::NotFound),
            "answered calls are gone"
        );
    }

    #[test]
    fn a_stream_answers_each_send_and_closes_after_the_modules_end() {
        let mut state = GrpcState::default();
        state.open_stream(4, 7, reply(&["a", "b", "c"], 0));
        state.send(4, false).unwrap();
        assert_eq!(kinds(&mut state), ["initial 3", "message a"]);
        state.send(4, true).unwrap();
        assert_eq!(
            kinds(&mut state),
            ["message b", "message c", "trailing 2", "close 0"]
        );
        assert_eq!(
            state.send(4, false),
            Err(Status::NotFound),
            "closed streams are gone"
        );
    }

    #[test]
    fn cancel_drops_queued_callbacks_and_close_on_a_call_cancels_it() {
        let mut state = GrpcState::default();
        state.open_stream(5, 7, reply(&["a"], 0));
        state.call(6, 7, reply(&["x"], 0));
        assert_eq!(state.send(6, false), Err(Status::BadArgument));
        state.cancel(5).unwrap();
        state.close(6).unwrap();
        assert!(!state.has_events());
        assert_eq!(state.close(5), Err(Status::NotFound));
    }

    #[test]
    fn a_method_without_a_rule_is_unimplemented_and_an_unknown_cluster_refused() {
        let routes = [GrpcRoute {
            cluster: "authz".into(),
            service: Some("a.Authz".into()),
            method: None,
            reply: reply(&["ok"], 0),
        }];
        assert_eq!(
            answer(&routes, "authz", "a.Authz", "Check").unwrap().status,
            0
        );
        assert_eq!(
            answer(&routes, "authz", "b.Other", "Check").unwrap().status,
            STATUS_UNIMPLEMENTED
        );
        assert!(answer(&routes, "elsewhere", "a.Authz", "Check").is_none());
    }
}
