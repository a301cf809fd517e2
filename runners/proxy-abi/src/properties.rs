//! Property paths, once for the in-process host and the Envoy bridge: `proxy_get_property` and
//! `proxy_set_property` take a path whose segments are separated by NUL bytes (the SDKs add a
//! trailing NUL); both sides look it up in its dotted form. Like Envoy, which splits the bytes
//! and finds no attribute of a name that is not UTF-8, an invalid path is not an error: it
//! names nothing, so the lookup answers `NOT_FOUND`.

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
