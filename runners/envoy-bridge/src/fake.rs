//! In-memory stand-ins for Envoy's side, with Envoy's semantics (header maps keep repeated keys
//! as separate entries in order; setting a key replaces all its values), for the unit tests.

use crate::envoy_abi::{Attribute, BodyType, HeaderType};
use crate::host::{ConfigHost, LogHost, MetricUpdate, StreamHost};
use crate::proxy_abi::{LogLevel, MetricType};
use std::collections::HashMap;
use std::sync::Mutex;

type Map = Vec<(Vec<u8>, Vec<u8>)>;

/// One locally sent response.
#[derive(Debug, PartialEq, Eq)]
pub struct Sent {
    pub status: u32,
    pub headers: Map,
    pub body: Vec<u8>,
    pub details: Vec<u8>,
}

/// A stream with its maps and bodies in memory, recording what the bridge asked of it.
#[derive(Default)]
pub struct FakeStream {
    pub request: Map,
    pub response: Map,
    pub request_trailers: Map,
    pub response_trailers: Map,
    /// Chunks per [`BodyType`] (index = raw value).
    pub bodies: [Vec<Vec<u8>>; 4],
    pub sent: Vec<Sent>,
    pub resumed: Vec<bool>,
    pub attributes: HashMap<u32, Vec<u8>>,
    pub metrics: Vec<(usize, MetricUpdate)>,
    /// When set, every edit is refused (a map Envoy no longer offers).
    pub frozen: bool,
}

impl FakeStream {
    pub fn with_request(headers: &[(&str, &str)]) -> Self {
        Self {
            request: headers
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            ..Self::default()
        }
    }

    fn map(&self, map: HeaderType) -> &Map {
        match map {
            HeaderType::RequestHeader => &self.request,
            HeaderType::RequestTrailer => &self.request_trailers,
            HeaderType::ResponseHeader => &self.response,
            HeaderType::ResponseTrailer => &self.response_trailers,
        }
    }

    fn map_mut(&mut self, map: HeaderType) -> &mut Map {
        match map {
            HeaderType::RequestHeader => &mut self.request,
            HeaderType::RequestTrailer => &mut self.request_trailers,
            HeaderType::ResponseHeader => &mut self.response,
            HeaderType::ResponseTrailer => &mut self.response_trailers,
        }
    }

    pub fn body_bytes(&self, body: BodyType) -> Vec<u8> {
        self.bodies[body as usize].concat()
    }
}

impl StreamHost for FakeStream {
    fn header(&self, map: HeaderType, key: &[u8]) -> Option<&[u8]> {
        self.map(map)
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    fn headers(&self, map: HeaderType) -> Vec<(&[u8], &[u8])> {
        self.map(map)
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect()
    }

    fn header_count(&self, map: HeaderType) -> usize {
        self.map(map).len()
    }

    fn set_header(&mut self, map: HeaderType, key: &[u8], value: Option<&[u8]>) -> bool {
        if self.frozen {
            return false;
        }
        let entries = self.map_mut(map);
        entries.retain(|(k, _)| k != key);
        if let Some(value) = value {
            entries.push((key.to_vec(), value.to_vec()));
        }
        true
    }

    fn add_header(&mut self, map: HeaderType, key: &[u8], value: &[u8]) -> bool {
        if self.frozen {
            return false;
        }
        self.map_mut(map).push((key.to_vec(), value.to_vec()));
        true
    }

    fn body(&self, body: BodyType) -> Vec<&[u8]> {
        self.bodies[body as usize]
            .iter()
            .map(Vec::as_slice)
            .collect()
    }

    fn append_body(&mut self, body: BodyType, data: &[u8]) -> bool {
        if self.frozen {
            return false;
        }
        self.bodies[body as usize].push(data.to_vec());
        true
    }

    fn drain_body(&mut self, body: BodyType, bytes: usize) -> bool {
        if self.frozen {
            return false;
        }
        let mut all = self.body_bytes(body);
        all.drain(..bytes.min(all.len()));
        self.bodies[body as usize] = if all.is_empty() {
            Vec::new()
        } else {
            vec![all]
        };
        true
    }

    fn send_response(
        &mut self,
        status: u32,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        details: &[u8],
    ) {
        self.sent.push(Sent {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
            body: body.to_vec(),
            details: details.to_vec(),
        });
    }

    fn resume(&mut self, request: bool) {
        self.resumed.push(request);
    }

    fn attribute(&self, attribute: Attribute) -> Option<Vec<u8>> {
        let id = match attribute {
            Attribute::Text(id) | Attribute::Int(id) | Attribute::Bool(id) => id,
        };
        self.attributes.get(&id).cloned()
    }

    fn update_metric(&mut self, envoy_id: usize, update: MetricUpdate) -> bool {
        self.metrics.push((envoy_id, update));
        true
    }
}

/// A configuration recording metric definitions, updates and log lines.
#[derive(Default)]
pub struct FakeConfig {
    pub defined: Mutex<Vec<(MetricType, String)>>,
    pub updates: Mutex<Vec<(usize, MetricUpdate)>>,
    pub logs: Mutex<Vec<(LogLevel, Vec<u8>)>>,
    /// Lowest level Envoy prints.
    pub level: Option<LogLevel>,
}

impl ConfigHost for FakeConfig {
    fn define_metric(&self, kind: MetricType, name: &str) -> Option<usize> {
        let mut defined = self.defined.lock().unwrap();
        defined.push((kind, name.to_owned()));
        Some(100 + defined.len())
    }

    fn update_metric(&self, envoy_id: usize, update: MetricUpdate) -> bool {
        self.updates.lock().unwrap().push((envoy_id, update));
        true
    }
}

impl LogHost for FakeConfig {
    fn log(&self, level: LogLevel, message: &[u8]) {
        self.logs.lock().unwrap().push((level, message.to_vec()));
    }

    fn log_enabled(&self, level: LogLevel) -> bool {
        self.level.is_some_and(|min| level >= min)
    }
}
