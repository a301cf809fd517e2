//! Property paths, once for the in-process host and the Envoy bridge: `proxy_get_property` and
//! `proxy_set_property` take a path whose segments are separated by NUL bytes (the SDKs add a
//! trailing NUL); both sides look it up in its dotted form. Like Envoy, which splits the bytes
//! and finds no attribute of a name that is not UTF-8, an invalid path is not an error: it
//! names nothing, so the lookup answers `NOT_FOUND`.
//!
//! [`get`] is `proxy_get_property` for both: the `plugin_*` properties come from the plugin's
//! identity, every other path from the implementation's [`PropertySource`] (the host derives
//! them from its stream, the bridge asks Envoy for the attribute); values are encoded as Envoy
//! encodes them ([`int`], [`boolean`], strings as their bytes).

use crate::Status;

/// Who the plugin is: the values of `plugin_name`, `plugin_root_id` and `plugin_vm_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PluginIdentity<'a> {
    /// The plugin's name.
    pub name: &'a str,
    /// The root id its root context was created with.
    pub root_id: &'a str,
    /// The VM id.
    pub vm_id: &'a str,
}

/// Where property values come from.
pub trait PropertySource {
    /// The plugin's identity.
    fn plugin(&self) -> PluginIdentity<'_>;

    /// The encoded value at dotted `path`, `None` when it names nothing here.
    fn property(&self, path: &str) -> Option<Vec<u8>>;
}

/// `proxy_get_property`: the value at the NUL-separated `raw_path`; `NOT_FOUND` when nothing
/// is there.
pub fn get(source: &impl PropertySource, raw_path: &[u8]) -> Result<Vec<u8>, Status> {
    let path = dotted(raw_path);
    let plugin = source.plugin();
    let identity = match path.as_str() {
        "plugin_name" => Some(plugin.name),
        "plugin_root_id" => Some(plugin.root_id),
        "plugin_vm_id" => Some(plugin.vm_id),
        _ => None,
    };
    match identity {
        Some(value) => Ok(value.as_bytes().to_vec()),
        None => source.property(&path).ok_or(Status::NotFound),
    }
}

/// An integer property (status codes, sizes, durations in ns): 8 bytes little-endian.
pub fn int(value: i64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// A boolean property: one byte, 0 or 1.
pub fn boolean(value: bool) -> Vec<u8> {
    vec![u8::from(value)]
}

/// The dotted form of a NUL-separated path (`request\0path\0` → `request.path`); bytes that are
/// not UTF-8 become U+FFFD, which no property name contains.
pub fn dotted(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8_lossy(raw).replace('\0', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_dotted_and_never_refused() {
        assert_eq!(dotted(b"request\0path"), "request.path");
        assert_eq!(dotted(b"response\0code\0"), "response.code");
        assert_eq!(dotted(b"plugin_name"), "plugin_name");
        assert_eq!(dotted(b""), "");
        assert_eq!(dotted(b"request\0\xff"), "request.\u{fffd}");
    }
}
