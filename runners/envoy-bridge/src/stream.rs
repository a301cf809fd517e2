//! The bridge's state for one HTTP stream: which body callback is running and whether the
//! filter asked Envoy to buffer, and the actions a filter takes during a callback that must
//! wait until the callback has returned.
//!
//! Deferral is what Envoy's Wasm filter does too ("after VM call" actions): a local reply sent
//! from inside `proxy_on_request_headers` makes Envoy run the response path — this filter's
//! `proxy_on_response_headers` included — and the Proxy-Wasm SDK must not be re-entered while
//! one of its callbacks is still on the stack.

use crate::envoy_abi::BodyType;
use crate::host::StreamHost;
use crate::proxy_abi::local_reply::{LocalReplies, LocalReply};
use crate::proxy_abi::{Action, BufferType, Status, StreamType, buffers};
use std::ops::Range;

/// Owned header pairs.
type OwnedPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Something the filter asked for during a callback, done once the callback returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deferred {
    /// `proxy_send_local_response`.
    Reply {
        /// HTTP status.
        status: u32,
        /// Extra response headers.
        headers: OwnedPairs,
        /// Response body.
        body: Vec<u8>,
        /// Response code details (for Envoy's logs).
        details: Vec<u8>,
    },
    /// `proxy_continue_stream`: resume the request (`true`) or the response.
    Resume(bool),
}

/// Per-stream bridge state (Envoy's own state lives behind [`StreamHost`]).
#[derive(Debug, Default)]
pub struct StreamCore {
    /// The Proxy-Wasm context id of this stream.
    pub context_id: u32,
    /// The body callback running now: request (`true`) or response (`false`).
    in_body: Option<bool>,
    /// Whether the filter's last body callback paused, per direction (request, response):
    /// Envoy then buffers, and the body the filter sees is all data so far.
    buffering: [bool; 2],
    deferred: Vec<Deferred>,
    /// A local reply was sent: later callbacks still run (Envoy's response path) but the
    /// request is over.
    pub replied: bool,
    /// The response headers have gone downstream (a response body or trailers callback ran)
    /// and the stream is not yet being logged: Envoy's Wasm host then answers `BAD_ARGUMENT`
    /// for the response header map, and the bridge does too.
    pub response_headers_sent: bool,
}

fn direction(buffer: u32) -> Result<bool, Status> {
    match BufferType::from_raw(buffer) {
        Some(BufferType::HttpRequestBody) => Ok(true),
        Some(BufferType::HttpResponseBody) => Ok(false),
        Some(BufferType::HttpCallResponseBody) => Err(Status::NotFound),
        Some(_) => Err(Status::Unimplemented),
        None => Err(Status::BadArgument),
    }
}

fn body_types(request: bool) -> (BodyType, BodyType) {
    if request {
        (BodyType::BufferedRequest, BodyType::ReceivedRequest)
    } else {
        (BodyType::BufferedResponse, BodyType::ReceivedResponse)
    }
}

impl StreamCore {
    /// State for a new stream with context id `context_id`.
    pub fn new(context_id: u32) -> Self {
        Self {
            context_id,
            ..Self::default()
        }
    }

    /// Marks the start of a body callback for the request (`true`) or response.
    pub fn enter_body(&mut self, request: bool) {
        self.in_body = Some(request);
        self.response_headers_sent |= !request;
    }

    /// Marks the end of a body callback with the filter's action; returns Envoy's status.
    pub fn leave_body(&mut self, request: bool, action: Action) -> u32 {
        self.in_body = None;
        self.buffering[usize::from(!request)] = action == Action::Pause;
        crate::envoy_abi::body_status(action)
    }

    /// The chunks that make up "the body" for the filter right now: during a body callback,
    /// what Envoy buffered for this filter (if it paused before) and the data just received;
    /// outside one, what is buffered.
    fn chunks<'h>(&self, host: &'h impl StreamHost, request: bool) -> Vec<&'h [u8]> {
        let (buffered, received) = body_types(request);
        if self.in_body == Some(request) {
            let mut chunks = if self.buffering[usize::from(!request)] {
                host.body(buffered)
            } else {
                Vec::new()
            };
            chunks.extend(host.body(received));
            chunks
        } else {
            host.body(buffered)
        }
    }

    /// Size of the body the filter sees (what `proxy_on_*_body` reports).
    pub fn body_size(&self, host: &impl StreamHost, request: bool) -> usize {
        self.chunks(host, request).iter().map(|c| c.len()).sum()
    }

    /// `proxy_get_buffer_bytes` for a body: bytes `start..start+max` (clamped).
    pub fn get_body(
        &self,
        host: &impl StreamHost,
        buffer: u32,
        start: usize,
        max: usize,
    ) -> Result<Vec<u8>, Status> {
        let request = direction(buffer)?;
        let chunks = self.chunks(host, request);
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let Range { start, end } = buffers::read_range(total, start, max)?;
        let mut out = Vec::with_capacity(end - start);
        let mut offset = 0;
        for chunk in chunks {
            let (lo, hi) = (offset, offset + chunk.len());
            offset = hi;
            if hi <= start || lo >= end {
                continue;
            }
            out.extend_from_slice(&chunk[start.max(lo) - lo..end.min(hi) - lo]);
        }
        Ok(out)
    }

    /// `proxy_set_buffer_bytes` for a body, by Envoy's rules (`proxy_abi::buffers::Write`):
    /// `start == 0` replaces the first `size` bytes with `data`; `start` at or past the end
    /// appends; anything else is `BAD_ARGUMENT`. Envoy's dynamic modules can only append and drain, so the new
    /// body is written as one piece where the filter sees it (received data during a body
    /// callback, else the buffered body).
    pub fn set_body(
        &self,
        host: &mut impl StreamHost,
        buffer: u32,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> Status {
        let request = match direction(buffer) {
            Ok(request) => request,
            Err(status) => return status,
        };
        let mut new: Vec<u8> = self.chunks(host, request).concat();
        match buffers::Write::of(new.len(), start, size) {
            Ok(write) => write.apply(&mut new, data),
            Err(status) => return status,
        }
        let (buffered, received) = body_types(request);
        let in_body = self.in_body == Some(request);
        let mut ok = true;
        if !in_body || self.buffering[usize::from(!request)] {
            ok &= host.drain_body(buffered, usize::MAX);
        }
        if in_body {
            ok &= host.drain_body(received, usize::MAX);
        }
        ok &= host.append_body(if in_body { received } else { buffered }, &new);
        if ok { Status::Ok } else { Status::BadArgument }
    }

    /// `proxy_continue_stream`: defers resuming the request or the response.
    pub fn continue_stream(&mut self, stream: u32) -> Status {
        match StreamType::from_raw(stream) {
            Some(StreamType::HttpRequest) => self.deferred.push(Deferred::Resume(true)),
            Some(StreamType::HttpResponse) => self.deferred.push(Deferred::Resume(false)),
            Some(_) => return Status::BadArgument,
            None => return Status::BadArgument,
        }
        Status::Ok
    }

    /// Whether something waits for [`StreamCore::flush`].
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Takes what the filter deferred, in order, dropping what no longer applies (a second
    /// local reply; resuming a request that was answered). Marks the stream replied.
    pub fn take_deferred(&mut self) -> Vec<Deferred> {
        let mut ready = Vec::new();
        for action in std::mem::take(&mut self.deferred) {
            match action {
                Deferred::Reply { .. } if self.replied => {}
                Deferred::Reply { .. } => {
                    self.replied = true;
                    ready.push(action);
                }
                Deferred::Resume(true) if self.replied => {}
                Deferred::Resume(_) => ready.push(action),
            }
        }
        ready
    }

    /// Does what the filter deferred. Call once the filter's callback returned.
    pub fn flush(&mut self, host: &mut impl StreamHost) {
        for action in self.take_deferred() {
            action.apply(host);
        }
    }
}

/// The shared local-reply rules (`filterbench_proxy_abi::local_reply`) decide; the bridge
/// defers the reply until the filter's callback has returned.
impl LocalReplies for StreamCore {
    fn replied(&self) -> Result<bool, Status> {
        let pending = self
            .deferred
            .iter()
            .any(|d| matches!(d, Deferred::Reply { .. }));
        Ok(self.replied || pending)
    }

    fn send_local_reply(&mut self, reply: LocalReply<'_>) {
        self.deferred.push(Deferred::Reply {
            status: reply.status,
            headers: reply
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_vec()))
                .collect(),
            body: reply.body.to_vec(),
            details: reply.details.to_vec(),
        });
    }
}

impl Deferred {
    /// Asks Envoy to do it.
    pub fn apply(self, host: &mut impl StreamHost) {
        match self {
            Deferred::Reply {
                status,
                headers,
                body,
                details,
            } => {
                let headers: Vec<(&[u8], &[u8])> = headers
                    .iter()
                    .map(|(k, v)| (k.as_slice(), v.as_slice()))
                    .collect();
                host.send_response(status, &headers, &body, &details);
            }
            Deferred::Resume(request) => host.resume(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStream;
    use crate::pairs;
    use crate::proxy_abi::{local_reply, suite};

    const REQUEST_BODY: u32 = 0;

    #[test]
    fn a_body_callback_sees_the_buffered_body_only_after_a_pause() {
        let mut host = FakeStream::default();
        host.bodies[BodyType::BufferedRequest as usize] = vec![b"hello ".to_vec()];
        host.bodies[BodyType::ReceivedRequest as usize] = vec![b"wor".to_vec(), b"ld".to_vec()];
        let mut core = StreamCore::new(7);
        core.enter_body(true);
        assert_eq!(core.body_size(&host, true), 5);
        assert_eq!(core.leave_body(true, Action::Pause), 1);
        core.enter_body(true);
        assert_eq!(core.body_size(&host, true), 11);
        assert_eq!(
            core.get_body(&host, REQUEST_BODY, 4, 5).unwrap(),
            b"o wor".to_vec()
        );
        assert_eq!(
            core.get_body(&host, REQUEST_BODY, 0, usize::MAX)
                .unwrap()
                .len(),
            11
        );
        assert_eq!(
            core.get_body(&host, REQUEST_BODY, 12, 1),
            Err(Status::BadArgument)
        );
        assert_eq!(core.get_body(&host, 4, 0, 1), Err(Status::NotFound));
        assert_eq!(core.get_body(&host, 7, 0, 1), Err(Status::Unimplemented));
        assert_eq!(core.leave_body(true, Action::Continue), 0);
        // Outside a body callback only the buffered body is there.
        assert_eq!(core.body_size(&host, true), 6);
    }

    #[test]
    fn set_body_replaces_prefixes_and_appends_like_envoy() {
        let mut host = FakeStream::default();
        host.bodies[BodyType::ReceivedRequest as usize] = vec![b"secret=1234&x=y".to_vec()];
        let mut core = StreamCore::new(1);
        core.enter_body(true);
        assert_eq!(
            core.set_body(&mut host, REQUEST_BODY, 0, 11, b"secret=****"),
            Status::Ok
        );
        assert_eq!(
            host.body_bytes(BodyType::ReceivedRequest),
            b"secret=****&x=y"
        );
        assert_eq!(
            core.set_body(&mut host, REQUEST_BODY, 99, 0, b"!"),
            Status::Ok
        );
        assert_eq!(
            host.body_bytes(BodyType::ReceivedRequest),
            b"secret=****&x=y!"
        );
        assert_eq!(
            core.set_body(&mut host, REQUEST_BODY, 3, 1, b"?"),
            Status::BadArgument
        );
        core.leave_body(true, Action::Continue);
    }

    #[test]
    fn local_replies_follow_the_shared_rules() {
        suite::local_replies(
            || StreamCore::new(3),
            |core| {
                let mut host = FakeStream::default();
                core.flush(&mut host);
                host.sent
                    .into_iter()
                    .map(|s| (s.status, s.headers, s.body, s.details))
                    .collect()
            },
        );
    }

    #[test]
    fn local_replies_and_resumes_wait_for_the_callback_to_return() {
        let mut host = FakeStream::default();
        let mut core = StreamCore::new(3);
        let headers = pairs::serialize(&[(b"X-Waf-Rule".as_slice(), b"sqli".as_slice())]);
        assert_eq!(
            local_reply::send(&mut core, 403, b"waf", b"blocked\n", &headers, -1),
            Ok(())
        );
        assert_eq!(core.continue_stream(0), Status::Ok);
        assert!(
            host.sent.is_empty(),
            "nothing reaches Envoy during the callback"
        );
        assert!(core.has_deferred());
        core.flush(&mut host);
        assert_eq!(host.sent.len(), 1);
        assert_eq!(host.sent[0].status, 403);
        assert_eq!(
            host.sent[0].headers,
            vec![(b"x-waf-rule".to_vec(), b"sqli".to_vec())]
        );
        assert_eq!(host.sent[0].body, b"blocked\n");
        assert!(
            host.resumed.is_empty(),
            "a request that was answered is not resumed"
        );
        assert!(!core.has_deferred());
        assert_eq!(
            local_reply::send(&mut core, 200, b"", b"", b"", -1),
            Err(Status::BadArgument),
            "a stream is answered once"
        );
        assert_eq!(core.continue_stream(9), Status::BadArgument);
        assert_eq!(core.continue_stream(1), Status::Ok);
        core.flush(&mut host);
        assert_eq!(host.resumed, vec![false]);
    }
}
