//! `proxy_get_property`: Proxy-Wasm property paths (segments separated by NUL bytes) answered
//! from Envoy's attributes where the dynamic-module ABI exposes them, and from the plugin's own
//! identity for `plugin_name`, `plugin_root_id` and `plugin_vm_id`.

use crate::envoy_abi;
use crate::host::StreamHost;
use crate::proxy_abi::{Status, properties};

/// Who the plugin is, for the `plugin_*` properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The filter name Envoy's configuration gives (`filter_name`).
    pub name: String,
    /// The VM id (the bridge uses the filter name: one "VM" per module).
    pub vm_id: String,
}

/// The value of the property at `path`; `stream` is `None` outside a stream callback.
pub fn get(
    stream: Option<&impl StreamHost>,
    plugin: &PluginIdentity,
    path: &[u8],
) -> Result<Vec<u8>, Status> {
    let path = properties::dotted(path);
    match path.as_str() {
        "plugin_name" => return Ok(plugin.name.clone().into_bytes()),
        "plugin_root_id" => return Ok(Vec::new()),
        "plugin_vm_id" => return Ok(plugin.vm_id.clone().into_bytes()),
        _ => {}
    }
    let attribute = envoy_abi::attribute(&path).ok_or(Status::NotFound)?;
    stream
        .and_then(|s| s.attribute(attribute))
        .ok_or(Status::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStream;

    #[test]
    fn paths_become_attributes_or_plugin_identity() {
        let mut host = FakeStream::default();
        host.attributes.insert(0, b"/index.html".to_vec());
        host.attributes.insert(15, 200i64.to_le_bytes().to_vec());
        let plugin = PluginIdentity {
            name: "waf".into(),
            vm_id: "waf".into(),
        };
        assert_eq!(
            get(Some(&host), &plugin, b"request\0path").unwrap(),
            b"/index.html"
        );
        assert_eq!(
            get(Some(&host), &plugin, b"response\0code\0").unwrap(),
            200i64.to_le_bytes()
        );
        assert_eq!(get(Some(&host), &plugin, b"plugin_name").unwrap(), b"waf");
        assert_eq!(
            get(Some(&host), &plugin, b"request\0method"),
            Err(Status::NotFound),
            "an attribute Envoy does not have"
        );
        assert_eq!(
            get(Some(&host), &plugin, b"no\0such"),
            Err(Status::NotFound)
        );
        assert_eq!(
            get(None::<&FakeStream>, &plugin, b"request\0path"),
            Err(Status::NotFound)
        );
        assert_eq!(
            get(Some(&host), &plugin, b"\xff"),
            Err(Status::NotFound),
            "a path that is not UTF-8 names nothing, as in Envoy"
        );
    }
}
