//! Envoy's header maps behind the shared header-map rules
//! (`filterbench_proxy_abi::header_maps`, the same rules the in-process host follows): which
//! Envoy map a Proxy-Wasm map is, and which maps the bridge cannot offer — no HTTP call is made
//! through the bridge, so an HTTP-call response is never there (`BAD_ARGUMENT`, Envoy's Wasm
//! host's answer for a map that is not there); gRPC metadata is `UNIMPLEMENTED`; an edit Envoy
//! refuses (a map that is gone or not there yet) is `BAD_ARGUMENT`.

use crate::envoy_abi::HeaderType;
use crate::host::StreamHost;
use crate::proxy_abi::header_maps::HeaderMaps;
use crate::proxy_abi::{MapType, Status};
use std::ops::DerefMut;

/// The Envoy header map a Proxy-Wasm map is.
pub fn envoy_map(map: MapType) -> Result<HeaderType, Status> {
    HeaderType::for_map(map).ok_or(match map {
        MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => Status::BadArgument,
        _ => Status::Unimplemented,
    })
}

/// One stream's header maps, as the shared rules see them: a handle to the stream (`&mut`
/// inside Envoy, a box in the tests), and whether the response headers have gone downstream
/// (then the response header map is refused with `BAD_ARGUMENT`, as Envoy's Wasm host does).
pub struct EnvoyMaps<H> {
    stream: H,
    response_headers_sent: bool,
}

impl<H> EnvoyMaps<H> {
    /// The maps of `stream` before its response headers went downstream.
    pub fn new(stream: H) -> Self {
        Self::of(stream, false)
    }

    /// The maps of `stream`, `response_headers_sent` saying whether its response headers have
    /// gone downstream ([`crate::stream::StreamCore::response_headers_sent`]).
    pub fn of(stream: H, response_headers_sent: bool) -> Self {
        Self {
            stream,
            response_headers_sent,
        }
    }

    /// `BAD_ARGUMENT` for the response headers once they have gone downstream.
    fn refused(&self, map: MapType) -> Result<(), Status> {
        if map == MapType::HttpResponseHeaders && self.response_headers_sent {
            Err(Status::BadArgument)
        } else {
            Ok(())
        }
    }
}

fn applied(applied: bool) -> Result<(), Status> {
    if applied {
        Ok(())
    } else {
        Err(Status::BadArgument)
    }
}

impl<H> HeaderMaps for EnvoyMaps<H>
where
    H: DerefMut<Target: StreamHost>,
{
    fn entries(
        &self,
        map: MapType,
    ) -> Result<impl Iterator<Item = (&[u8], &[u8])> + Clone + '_, Status> {
        self.refused(map)?;
        Ok(self.stream.headers(envoy_map(map)?).into_iter())
    }

    fn value(&self, map: MapType, key: &[u8]) -> Result<Option<&[u8]>, Status> {
        self.refused(map)?;
        Ok(self.stream.header(envoy_map(map)?, key))
    }

    fn set(&mut self, map: MapType, key: &[u8], value: Option<&[u8]>) -> Result<(), Status> {
        self.refused(map)?;
        applied(self.stream.set_header(envoy_map(map)?, key, value))
    }

    fn add(&mut self, map: MapType, key: &[u8], value: &[u8]) -> Result<(), Status> {
        self.refused(map)?;
        applied(self.stream.add_header(envoy_map(map)?, key, value))
    }

    fn clear(&mut self, map: MapType) -> Result<(), Status> {
        self.refused(map)?;
        let map = envoy_map(map)?;
        let keys: Vec<Vec<u8>> = self
            .stream
            .headers(map)
            .iter()
            .map(|(k, _)| k.to_vec())
            .collect();
        let mut all = true;
        for key in keys {
            all &= self.stream.set_header(map, &key, None);
        }
        applied(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStream;
    use crate::proxy_abi::{header_maps, suite};

    #[test]
    fn header_maps_follow_the_shared_rules() {
        suite::header_maps(|request| EnvoyMaps::new(Box::new(FakeStream::with_request(request))));
    }

    #[test]
    fn maps_the_bridge_cannot_offer_are_reported() {
        let mut s = FakeStream::with_request(&[("x-a", "1")]);
        let maps = EnvoyMaps::new(&mut s);
        assert_eq!(
            header_maps::value(&maps, 4, b"x-a"),
            Err(Status::Unimplemented),
            "gRPC metadata"
        );
        assert_eq!(
            header_maps::value(&maps, 7, b"x-a"),
            Err(Status::BadArgument),
            "no HTTP call, so no answer's trailers: a map that is not there"
        );
    }

    #[test]
    fn edits_of_an_unavailable_map_are_refused() {
        let mut s = FakeStream::with_request(&[]);
        s.frozen = true;
        let mut maps = EnvoyMaps::new(&mut s);
        assert_eq!(
            header_maps::replace(&mut maps, 0, b"x", b"y"),
            Err(Status::BadArgument)
        );
        assert_eq!(
            header_maps::add(&mut maps, 2, b"X-Out", b"v"),
            Err(Status::BadArgument)
        );
    }

    #[test]
    fn the_response_headers_are_refused_once_they_went_downstream() {
        let mut s = FakeStream::with_request(&[("x-a", "1")]);
        let mut maps = EnvoyMaps::of(&mut s, true);
        assert_eq!(
            header_maps::value(&maps, 2, b"content-type"),
            Err(Status::BadArgument)
        );
        assert_eq!(
            header_maps::add(&mut maps, 2, b"x-late", b"v"),
            Err(Status::BadArgument)
        );
        assert_eq!(header_maps::value(&maps, 0, b"x-a"), Ok(&b"1"[..]));
        let maps = EnvoyMaps::of(&mut s, false);
        assert_eq!(
            header_maps::value(&maps, 2, b"content-type"),
            Err(Status::NotFound)
        );
    }
}
