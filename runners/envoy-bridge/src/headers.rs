//! Envoy's header maps behind the shared header-map rules
//! (`filterbench_proxy_abi::header_maps`, the same rules the in-process host follows): which
//! Envoy map a Proxy-Wasm map is, and which maps the bridge cannot offer — no HTTP call is made
//! through the bridge, so an HTTP-call response is `NOT_FOUND`; gRPC metadata is
//! `UNIMPLEMENTED`; an edit Envoy refuses (a map that is gone or not there yet) is
//! `BAD_ARGUMENT`.

use crate::envoy_abi::HeaderType;
use crate::host::StreamHost;
use crate::proxy_abi::header_maps::HeaderMaps;
use crate::proxy_abi::{MapType, Status};
use std::ops::DerefMut;

/// The Envoy header map a Proxy-Wasm map is.
pub fn envoy_map(map: MapType) -> Result<HeaderType, Status> {
    HeaderType::for_map(map).ok_or(match map {
        MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => Status::NotFound,
        _ => Status::Unimplemented,
    })
}

/// One stream's header maps, as the shared rules see them: a handle to the stream (`&mut`
/// inside Envoy, a box in the tests).
pub struct EnvoyMaps<H>(pub H);

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
        Ok(self.0.headers(envoy_map(map)?).into_iter())
    }

    fn value(&self, map: MapType, key: &[u8]) -> Result<Option<&[u8]>, Status> {
        Ok(self.0.header(envoy_map(map)?, key))
    }

    fn set(&mut self, map: MapType, key: &[u8], value: Option<&[u8]>) -> Result<(), Status> {
        applied(self.0.set_header(envoy_map(map)?, key, value))
    }

    fn add(&mut self, map: MapType, key: &[u8], value: &[u8]) -> Result<(), Status> {
        applied(self.0.add_header(envoy_map(map)?, key, value))
    }

    fn clear(&mut self, map: MapType) -> Result<(), Status> {
        let map = envoy_map(map)?;
        let keys: Vec<Vec<u8>> = self
            .0
            .headers(map)
            .iter()
            .map(|(k, _)| k.to_vec())
            .collect();
        let mut all = true;
        for key in keys {
            all &= self.0.set_header(map, &key, None);
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
        suite::header_maps(|request| EnvoyMaps(Box::new(FakeStream::with_request(request))));
    }

    #[test]
    fn maps_the_bridge_cannot_offer_are_reported() {
        let mut s = FakeStream::with_request(&[("x-a", "1")]);
        let maps = EnvoyMaps(&mut s);
        assert_eq!(
            header_maps::value(&maps, 4, b"x-a"),
            Err(Status::Unimplemented),
            "gRPC metadata"
        );
        assert_eq!(
            header_maps::value(&maps, 7, b"x-a"),
            Err(Status::NotFound),
            "no HTTP call, no response trailers"
        );
    }

    #[test]
    fn edits_of_an_unavailable_map_are_refused() {
        let mut s = FakeStream::with_request(&[]);
        s.frozen = true;
        let mut maps = EnvoyMaps(&mut s);
        assert_eq!(
            header_maps::replace(&mut maps, 0, b"x", b"y"),
            Err(Status::BadArgument)
        );
        assert_eq!(
            header_maps::add(&mut maps, 2, b"X-Out", b"v"),
            Err(Status::BadArgument)
        );
    }
}
