//! The header-map hostcalls (`proxy_get_header_map_value`, `…_pairs`, `…_set_header_map_pairs`,
//! `…_add/replace/remove_header_map_value`) on Envoy's header maps, with the semantics of
//! Envoy's Wasm filter: keys are lower-cased, a missing header is `NOT_FOUND`, a map that is not
//! the stream's own (HTTP-call response, gRPC metadata) is reported rather than faked.

use crate::envoy_abi::HeaderType;
use crate::host::StreamHost;
use crate::pairs;
use crate::proxy_abi::{MapType, Status};
use std::borrow::Cow;

/// The Envoy header map a raw `proxy_map_type_t` addresses.
pub fn envoy_map(raw: u32) -> Result<HeaderType, Status> {
    let map = MapType::from_raw(raw).ok_or(Status::BadArgument)?;
    HeaderType::for_map(map).ok_or(match map {
        // No HTTP call was made through the bridge, so there is no response to read.
        MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => Status::NotFound,
        _ => Status::Unimplemented,
    })
}

/// `key` in lower case (Envoy's header maps are keyed by lower-case names), borrowed when it
/// already is.
fn lower(key: &[u8]) -> Cow<'_, [u8]> {
    if key.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

/// `proxy_get_header_map_value`: the first value of `key`.
pub fn value<'h>(host: &'h impl StreamHost, map: u32, key: &[u8]) -> Result<&'h [u8], Status> {
    let map = envoy_map(map)?;
    host.header(map, &lower(key)).ok_or(Status::NotFound)
}

/// `proxy_get_header_map_pairs`: the whole map, serialized.
pub fn pairs(host: &impl StreamHost, map: u32) -> Result<Vec<u8>, Status> {
    let map = envoy_map(map)?;
    Ok(pairs::serialize(&host.headers(map)))
}

/// `proxy_get_header_map_size`-style count of entries.
pub fn count(host: &impl StreamHost, map: u32) -> Result<usize, Status> {
    Ok(host.header_count(envoy_map(map)?))
}

fn done(applied: bool) -> Status {
    if applied {
        Status::Ok
    } else {
        // Envoy refuses edits to a map that is gone or not yet there (e.g. request headers
        // after they were sent upstream).
        Status::BadArgument
    }
}

/// `proxy_set_header_map_pairs`: replaces the whole map with the serialized `bytes`.
pub fn set_pairs(host: &mut impl StreamHost, map: u32, bytes: &[u8]) -> Status {
    let map = match envoy_map(map) {
        Ok(map) => map,
        Err(status) => return status,
    };
    let Ok(new) = pairs::deserialize(bytes) else {
        return Status::BadArgument;
    };
    let old: Vec<Vec<u8>> = host.headers(map).iter().map(|(k, _)| k.to_vec()).collect();
    let mut applied = true;
    for key in old {
        applied &= host.set_header(map, &key, None);
    }
    for (key, value) in new {
        applied &= host.add_header(map, &lower(key), value);
    }
    done(applied)
}

/// `proxy_replace_header_map_value`: sets `key` to `value`, dropping its other values.
pub fn replace(host: &mut impl StreamHost, map: u32, key: &[u8], value: &[u8]) -> Status {
    match envoy_map(map) {
        Ok(map) => done(host.set_header(map, &lower(key), Some(value))),
        Err(status) => status,
    }
}

/// `proxy_add_header_map_value`: adds a value to `key`.
pub fn add(host: &mut impl StreamHost, map: u32, key: &[u8], value: &[u8]) -> Status {
    match envoy_map(map) {
        Ok(map) => done(host.add_header(map, &lower(key), value)),
        Err(status) => status,
    }
}

/// `proxy_remove_header_map_value`: removes `key` (OK when it was absent).
pub fn remove(host: &mut impl StreamHost, map: u32, key: &[u8]) -> Status {
    match envoy_map(map) {
        Ok(map) => done(host.set_header(map, &lower(key), None)),
        Err(status) => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStream;

    const REQ: u32 = 0;
    const RESP: u32 = 2;

    #[test]
    fn reads_the_first_value_with_the_key_lower_cased() {
        let mut s = FakeStream::with_request(&[("x-a", "1"), ("x-a", "2"), (":path", "/p")]);
        assert_eq!(value(&s, REQ, b"X-A"), Ok(b"1".as_slice()));
        assert_eq!(value(&s, REQ, b"x-missing"), Err(Status::NotFound));
        assert_eq!(value(&s, 9, b"x-a"), Err(Status::BadArgument));
        assert_eq!(value(&s, 6, b"x-a"), Err(Status::NotFound));
        assert_eq!(value(&s, 4, b"x-a"), Err(Status::Unimplemented));
        assert_eq!(count(&s, REQ), Ok(3));
        assert_eq!(add(&mut s, RESP, b"X-Out", b"v"), Status::Ok);
        assert_eq!(s.response, vec![(b"x-out".to_vec(), b"v".to_vec())]);
    }

    #[test]
    fn pairs_are_serialized_in_envoys_order() {
        let s = FakeStream::with_request(&[(":path", "/p"), ("x-a", "1")]);
        let bytes = pairs(&s, REQ).unwrap();
        assert_eq!(
            pairs::deserialize(&bytes).unwrap(),
            vec![(b":path".as_slice(), b"/p".as_slice()), (b"x-a", b"1")]
        );
    }

    #[test]
    fn replace_add_and_remove_follow_envoys_wasm_semantics() {
        let mut s = FakeStream::with_request(&[("x-a", "1"), ("x-a", "2"), ("x-b", "b")]);
        assert_eq!(replace(&mut s, REQ, b"x-a", b"3"), Status::Ok);
        assert_eq!(add(&mut s, REQ, b"x-b", b"c"), Status::Ok);
        assert_eq!(remove(&mut s, REQ, b"x-absent"), Status::Ok);
        assert_eq!(remove(&mut s, REQ, b"x-a"), Status::Ok);
        assert_eq!(s.request_pairs(), vec![("x-b", "b"), ("x-b", "c")]);
    }

    #[test]
    fn set_pairs_replaces_the_whole_map() {
        let mut s = FakeStream::with_request(&[("x-old", "1"), (":path", "/")]);
        let new = pairs::serialize(&[(b":path".as_slice(), b"/new".as_slice()), (b"X-New", b"2")]);
        assert_eq!(set_pairs(&mut s, REQ, &new), Status::Ok);
        assert_eq!(s.request_pairs(), vec![(":path", "/new"), ("x-new", "2")]);
        assert_eq!(
            set_pairs(&mut s, REQ, &new[..new.len() - 2]),
            Status::BadArgument
        );
    }

    #[test]
    fn edits_of_an_unavailable_map_are_refused() {
        let mut s = FakeStream::with_request(&[]);
        s.frozen = true;
        assert_eq!(replace(&mut s, REQ, b"x", b"y"), Status::BadArgument);
    }
}
