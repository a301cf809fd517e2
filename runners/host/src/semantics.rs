//! The host's side of the shared hostcall semantics (`filterbench_proxy_abi`'s header maps,
//! logging, local replies and properties): where each lives in [`HostState`]. The rules
//! themselves are written once in `filterbench_proxy_abi` and shared with the Envoy bridge.

use crate::abi::{LogLevel, MapType, Status};
use crate::state::{HeaderMap, HostState, LocalResponse};
use filterbench_proxy_abi::header_maps::HeaderMaps;
use filterbench_proxy_abi::local_reply::{LocalReplies, LocalReply};
use filterbench_proxy_abi::logging::LogSink;
use filterbench_proxy_abi::properties::{PluginIdentity, PropertySource};

/// A map that does not exist now (no stream, no HTTP-call response, gRPC metadata):
/// `BAD_ARGUMENT`, Envoy's Wasm host's answer ("not currently available").
fn absent() -> Status {
    Status::BadArgument
}

/// Whether `map` may be edited (or its size read, which Envoy does through the map it edits)
/// now: a stream's map only from the stream's own context, and not once Envoy has let it go
/// (see [`crate::state::StreamState::released`]).
#[inline]
fn editable(state: &HostState, map: MapType) -> Result<(), Status> {
    if is_stream_map(map) && (!state.in_stream() || state.is_released(map)) {
        Err(absent())
    } else {
        Ok(())
    }
}

/// The map values and pairs are read from now: in `proxy_on_log` the access log's copies
/// (request headers, response headers and trailers; no request trailers), else the live map
/// while Envoy offers it. `Ok(None)`: a map that is not there.
#[inline]
fn readable(state: &HostState, map: MapType) -> Result<Option<&HeaderMap>, Status> {
    if is_stream_map(map) {
        if !state.in_stream() {
            return Err(absent());
        }
        if state.stream.logging {
            return Ok((map != MapType::HttpRequestTrailers)
                .then(|| state.map(map))
                .flatten());
        }
        if state.is_released(map) {
            return Err(absent());
        }
    }
    Ok(state.map(map))
}

/// Whether `map` belongs to an HTTP stream (its request and response headers and trailers).
#[inline]
fn is_stream_map(map: MapType) -> bool {
    matches!(
        map,
        MapType::HttpRequestHeaders
            | MapType::HttpRequestTrailers
            | MapType::HttpResponseHeaders
            | MapType::HttpResponseTrailers
    )
}

impl HeaderMaps for HostState {
    /// `HeaderMap` compares keys ignoring ASCII case and stores them lower case.
    const MATCHES_ANY_CASE: bool = true;

    #[inline]
    fn entries(
        &self,
        map: MapType,
    ) -> Result<impl Iterator<Item = (&[u8], &[u8])> + Clone + '_, Status> {
        Ok(readable(self, map)?.ok_or_else(absent)?.iter())
    }

    #[inline]
    fn value(&self, map: MapType, key: &[u8]) -> Result<Option<&[u8]>, Status> {
        match readable(self, map)? {
            Some(map) => Ok(map.get(key)),
            // Envoy's access-log phase reads a map that is not there as a missing header.
            None if self.stream.logging => Err(Status::NotFound),
            None => Err(absent()),
        }
    }

    fn set(&mut self, map: MapType, key: &[u8], value: Option<&[u8]>) -> Result<(), Status> {
        editable(self, map)?;
        let map = self.map_mut(map).ok_or_else(absent)?;
        match value {
            Some(value) => map.replace(key, value),
            None => map.remove(key),
        }
        Ok(())
    }

    fn add(&mut self, map: MapType, key: &[u8], value: &[u8]) -> Result<(), Status> {
        editable(self, map)?;
        self.map_mut(map).ok_or_else(absent)?.add(key, value);
        Ok(())
    }

    fn clear(&mut self, map: MapType) -> Result<(), Status> {
        editable(self, map)?;
        self.map_mut(map).ok_or_else(absent)?.clear();
        Ok(())
    }

    fn before_size(&mut self, map: MapType) -> Result<(), Status> {
        editable(self, map)?;
        // Envoy creates the trailers a body callback ending its direction may add.
        self.map_mut(map);
        Ok(())
    }
}

impl LogSink for HostState {
    fn log_level(&self) -> LogLevel {
        self.plugin.log_level
    }

    fn write_log(&mut self, level: LogLevel, message: &[u8]) {
        self.logs.push(level, message);
    }
}

impl LocalReplies for HostState {
    fn replied(&self) -> Result<bool, Status> {
        if self.stream.context_id == 0 {
            return Err(Status::NotFound);
        }
        Ok(self.stream.local_response.is_some())
    }

    fn send_local_reply(&mut self, reply: LocalReply<'_>) {
        self.stream.local_response = Some(LocalResponse {
            status_code: reply.status,
            details: reply.details.to_vec(),
            body: reply.body.to_vec(),
            headers: HeaderMap::from_pairs(&reply.headers),
            grpc_status: reply.grpc_status,
        });
    }
}

impl PropertySource for HostState {
    fn plugin(&self) -> PluginIdentity<'_> {
        PluginIdentity {
            name: &self.plugin.name,
            root_id: &self.plugin.root_id,
            vm_id: &self.plugin.vm_id,
        }
    }

    fn property(&self, path: &str) -> Option<Vec<u8>> {
        HostState::property(self, path)
    }
}

#[cfg(test)]
mod tests {
    //! The shared behavioural suite, run against the host's state.
    use super::*;
    use crate::state::PluginSpec;
    use filterbench_proxy_abi::suite;

    fn in_request(request: &[(&str, &str)]) -> HostState {
        let mut plugin = PluginSpec::new("waf", "");
        plugin.root_id = "root".into();
        let mut state = HostState::new(plugin);
        state.stream.context_id = 2;
        state.effective_context_id = 2;
        state.stream.request_headers = Some(HeaderMap::from_pairs(request));
        state
    }

    #[test]
    fn header_maps_follow_the_shared_rules() {
        suite::header_maps(in_request);
    }

    #[test]
    fn logging_follows_the_shared_rules() {
        suite::logging(
            |level| {
                let mut state = in_request(&[]);
                state.plugin.log_level = level;
                state
            },
            |state| {
                state
                    .logs
                    .records()
                    .map(|r| (r.level, r.message.clone().into_bytes()))
                    .collect()
            },
        );
    }

    #[test]
    fn local_replies_follow_the_shared_rules() {
        suite::local_replies(
            || in_request(&[]),
            |state| {
                let reply = state.stream.local_response.clone().into_iter();
                reply
                    .map(|r| (r.status_code, r.headers.to_pairs(), r.body, r.details))
                    .collect()
            },
        );
        let mut outside = in_request(&[]);
        outside.stream.context_id = 0;
        assert_eq!(
            filterbench_proxy_abi::local_reply::send(&mut outside, 403, b"", b"", b"", -1),
            Err(Status::NotFound),
            "no stream to answer"
        );
    }

    #[test]
    fn properties_follow_the_shared_rules() {
        suite::properties(|path| in_request(&[(":path", path)]));
    }
}
