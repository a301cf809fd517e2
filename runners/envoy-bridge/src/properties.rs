//! Envoy behind the shared property rules (`filterbench_proxy_abi::properties`, the same rules
//! the in-process host follows): a dotted path is answered from the Envoy attribute of that name
//! where the dynamic-module ABI exposes one; the `plugin_*` properties from the filter's names.

use crate::envoy_abi;
use crate::host::StreamHost;
use crate::proxy_abi::properties::{PluginIdentity, PropertySource};
use std::borrow::Borrow;
use std::ops::Deref;

/// The filter's names, for the `plugin_*` properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginNames {
    /// The filter name Envoy's configuration gives (`filter_name`).
    pub name: String,
    /// The VM id (the bridge uses the filter name: one "VM" per module).
    pub vm_id: String,
}

/// Where a property is read: the stream being called (`None` in a root callback) and the
/// filter's names (handles: references inside Envoy, owned values in the tests).
pub struct EnvoyProperties<S, P> {
    /// The stream, if a stream callback is running.
    pub stream: Option<S>,
    /// The filter's names.
    pub plugin: P,
}

impl<S, P> PropertySource for EnvoyProperties<S, P>
where
    S: Deref<Target: StreamHost>,
    P: Borrow<PluginNames>,
{
    fn plugin(&self) -> PluginIdentity<'_> {
        let plugin = self.plugin.borrow();
        PluginIdentity {
            name: &plugin.name,
            root_id: "",
            vm_id: &plugin.vm_id,
        }
    }

    fn property(&self, path: &str) -> Option<Vec<u8>> {
        let attribute = envoy_abi::attribute(path)?;
        self.stream.as_ref()?.attribute(attribute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeStream;
    use crate::proxy_abi::{Status, properties, suite};

    const PLUGIN: &PluginNames = &PluginNames {
        name: String::new(),
        vm_id: String::new(),
    };

    #[test]
    fn properties_follow_the_shared_rules() {
        suite::properties(|path| {
            let mut stream = FakeStream::default();
            stream.attributes.insert(0, path.as_bytes().to_vec());
            EnvoyProperties {
                stream: Some(Box::new(stream)),
                plugin: PluginNames {
                    name: "waf".into(),
                    vm_id: "waf-vm".into(),
                },
            }
        });
    }

    #[test]
    fn paths_become_envoy_attributes() {
        let mut host = FakeStream::default();
        host.attributes.insert(15, properties::int(200));
        let source = EnvoyProperties {
            stream: Some(&host),
            plugin: PLUGIN,
        };
        assert_eq!(
            properties::get(&source, b"response\0code\0"),
            Ok(200i64.to_le_bytes().to_vec())
        );
        assert_eq!(
            properties::get(&source, b"request\0method"),
            Err(Status::NotFound),
            "an attribute Envoy does not have"
        );
        let root = EnvoyProperties::<&FakeStream, _> {
            stream: None,
            plugin: PLUGIN,
        };
        assert_eq!(
            properties::get(&root, b"request\0path"),
            Err(Status::NotFound),
            "no stream in a root callback"
        );
    }
}
