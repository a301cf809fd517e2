//! `proxy_send_local_response`, once for the in-process host and the Envoy bridge: the headers
//! must parse as a serialized map and the status must be a three-digit HTTP status
//! (`BAD_ARGUMENT` otherwise), and a stream is answered locally once — a second reply is
//! `BAD_ARGUMENT`. When the reply takes effect (at once for the host; after the callback returns
//! for the bridge, as in Envoy's Wasm filter) is the [`LocalReplies`] implementation's business.

use crate::Status;
use crate::pairs::{self, PairRefs};

/// A local reply the filter asked for, borrowed from its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply<'a> {
    /// HTTP status, 100–999.
    pub status: u32,
    /// Response-code details (for the proxy's logs).
    pub details: &'a [u8],
    /// Response body.
    pub body: &'a [u8],
    /// Extra response headers, keys as the filter wrote them.
    pub headers: PairRefs<'a>,
    /// gRPC status (-1: none).
    pub grpc_status: i32,
}

/// Where local replies go: the stream being called.
pub trait LocalReplies {
    /// Whether the stream being called has been answered locally already (or a reply is
    /// pending); `Err(status)` when no stream is being called.
    fn replied(&self) -> Result<bool, Status>;

    /// Takes `reply` for the stream being called.
    fn send_local_reply(&mut self, reply: LocalReply<'_>);
}

/// `proxy_send_local_response(status, details, body, headers, grpc_status)`.
pub fn send(
    target: &mut impl LocalReplies,
    status: u32,
    details: &[u8],
    body: &[u8],
    headers: &[u8],
    grpc_status: i32,
) -> Result<(), Status> {
    let replied = target.replied()?;
    let headers = pairs::deserialize(headers).map_err(|_| Status::BadArgument)?;
    if replied || !(100..=999).contains(&status) {
        return Err(Status::BadArgument);
    }
    target.send_local_reply(LocalReply {
        status,
        details,
        body,
        headers,
        grpc_status,
    });
    Ok(())
}
