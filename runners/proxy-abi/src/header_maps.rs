//! The header-map hostcalls (`proxy_get_header_map_value`, `…_pairs`, `…_size`,
//! `proxy_set_header_map_pairs`, `proxy_add/replace/remove_header_map_value`), once for the
//! in-process host and the Envoy bridge. What differs — where the maps live and which exist at
//! this point of the stream — is the [`HeaderMaps`] trait; the rules are here:
//!
//! - an unknown map type is `BAD_ARGUMENT`; a map that does not exist now answers the status
//!   the implementation gives (Envoy's Wasm host, and so the host: `BAD_ARGUMENT`, but
//!   `NOT_FOUND` for a value read in `proxy_on_log`; the bridge: `UNIMPLEMENTED` for gRPC
//!   metadata), except its pairs: an empty map and `OK`, as Envoy answers;
//! - keys are matched whatever their ASCII case and stored lower case (Envoy keys its maps by
//!   lower-case names);
//! - a missing header is `NOT_FOUND`; removing a missing header is `OK`;
//! - replace sets the first entry and drops the key's other values; add keeps them;
//! - set-pairs parses the whole serialized map first (`BAD_ARGUMENT` when it is malformed) and
//!   only then replaces the map.

use crate::pairs;
use crate::{MapType, Status};
use std::borrow::Cow;

/// Where a stream's header maps live. Keys passed in are lower case (unless
/// [`HeaderMaps::MATCHES_ANY_CASE`]); every method answers `Err(status)` when `map` does not
/// exist (or refuses the edit) at this point.
pub trait HeaderMaps {
    /// True when the maps themselves match keys whatever their ASCII case and store them lower
    /// case: the rules then pass keys as the filter wrote them, saving a scan and a copy per
    /// hostcall (the in-process host's maps do; Envoy's are keyed by lower-case names only).
    const MATCHES_ANY_CASE: bool = false;

    /// The entries of `map` in order, keys lower case.
    fn entries(
        &self,
        map: MapType,
    ) -> Result<impl Iterator<Item = (&[u8], &[u8])> + Clone + '_, Status>;

    /// The first value of `key` in `map`, `None` when absent. Override when the map has a
    /// faster lookup than a scan.
    fn value(&self, map: MapType, key: &[u8]) -> Result<Option<&[u8]>, Status> {
        Ok(self.entries(map)?.find(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Sets `key` to `value`, replacing all its values (the first entry keeps its place, a
    /// missing key is appended), or removes every entry of `key` (`None`).
    fn set(&mut self, map: MapType, key: &[u8], value: Option<&[u8]>) -> Result<(), Status>;

    /// Appends an entry, keeping the key's other values.
    fn add(&mut self, map: MapType, key: &[u8], value: &[u8]) -> Result<(), Status>;

    /// Removes every entry of `map`.
    fn clear(&mut self, map: MapType) -> Result<(), Status>;

    /// Called before `map`'s size is read. Envoy's Wasm host reads a size through the map it
    /// edits, not the one it reads values and pairs from: it refuses what an edit would refuse
    /// and creates what an edit would create (trailers at the end of a body). By default
    /// nothing.
    fn before_size(&mut self, map: MapType) -> Result<(), Status> {
        let _ = map;
        Ok(())
    }
}

/// The map a raw `proxy_map_type_t` names; `BAD_ARGUMENT` outside the ABI.
pub fn map_type(raw: u32) -> Result<MapType, Status> {
    MapType::from_raw(raw).ok_or(Status::BadArgument)
}

/// `key` as `H` must see it: lower case unless `H` matches any case.
#[inline]
fn key_for<H: HeaderMaps + ?Sized>(key: &[u8]) -> Cow<'_, [u8]> {
    if H::MATCHES_ANY_CASE {
        Cow::Borrowed(key)
    } else {
        lower_case(key)
    }
}

/// `key` in lower case, borrowed when it already is (no allocation on the usual path).
pub fn lower_case(key: &[u8]) -> Cow<'_, [u8]> {
    if key.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(key.to_ascii_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

/// `proxy_get_header_map_value`: the first value of `key`; `NOT_FOUND` when absent.
pub fn value<'h, H: HeaderMaps>(maps: &'h H, map: u32, key: &[u8]) -> Result<&'h [u8], Status> {
    maps.value(map_type(map)?, &key_for::<H>(key))?
        .ok_or(Status::NotFound)
}

/// `proxy_get_header_map_size`: the map's size in serialized form, bytes.
pub fn serialized_size(maps: &mut impl HeaderMaps, map: u32) -> Result<usize, Status> {
    let map = map_type(map)?;
    maps.before_size(map)?;
    Ok(pairs::entries_size(maps.entries(map)?))
}

/// `proxy_get_header_map_pairs`: appends the serialized map to `out` (a map that does not
/// exist now: an empty one, as Envoy's Wasm host answers).
pub fn serialize(maps: &impl HeaderMaps, map: u32, out: &mut Vec<u8>) -> Result<(), Status> {
    match maps.entries(map_type(map)?) {
        Ok(entries) => pairs::serialize_entries_into(entries, out),
        Err(_) => pairs::serialize_entries_into(std::iter::empty(), out),
    }
    Ok(())
}

/// `proxy_set_header_map_pairs`: replaces the whole map with the serialized `bytes`.
pub fn set_pairs<H: HeaderMaps>(maps: &mut H, map: u32, bytes: &[u8]) -> Result<(), Status> {
    let map = map_type(map)?;
    let new = pairs::deserialize(bytes).map_err(|_| Status::BadArgument)?;
    maps.clear(map)?;
    for (key, value) in new {
        maps.add(map, &key_for::<H>(key), value)?;
    }
    Ok(())
}

/// `proxy_add_header_map_value`: appends a value for `key`.
pub fn add<H: HeaderMaps>(maps: &mut H, map: u32, key: &[u8], value: &[u8]) -> Result<(), Status> {
    maps.add(map_type(map)?, &key_for::<H>(key), value)
}

/// `proxy_replace_header_map_value`: sets `key` to `value`, dropping its other values.
pub fn replace<H: HeaderMaps>(
    maps: &mut H,
    map: u32,
    key: &[u8],
    value: &[u8],
) -> Result<(), Status> {
    maps.set(map_type(map)?, &key_for::<H>(key), Some(value))
}

/// `proxy_remove_header_map_value`: removes `key` (`OK` when it was absent).
pub fn remove<H: HeaderMaps>(maps: &mut H, map: u32, key: &[u8]) -> Result<(), Status> {
    maps.set(map_type(map)?, &key_for::<H>(key), None)
}
