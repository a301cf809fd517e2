//! What the bridge needs from Envoy, as three small traits: one HTTP stream ([`StreamHost`]),
//! one filter configuration ([`ConfigHost`]) and the log ([`LogHost`]). Inside Envoy they are implemented over the
//! dynamic-module callbacks (`module::envoy`); the unit tests implement them with in-memory
//! fakes, so every hostcall's translation is tested without Envoy.

use crate::envoy_abi::{Attribute, BodyType, HeaderType};
use crate::proxy_abi::{LogLevel, MetricType};

/// An update of a metric Envoy defined for the configuration (the semantics are shared with the
/// in-process host).
pub use crate::proxy_abi::metrics::MetricUpdate;

/// Envoy's side of one HTTP stream. Byte slices borrow Envoy's own buffers: they stay valid
/// until the next call that changes the stream (the borrow checker enforces it).
pub trait StreamHost {
    /// The first value of header `key` (lower case) in `map`.
    fn header(&self, map: HeaderType, key: &[u8]) -> Option<&[u8]>;
    /// Every (key, value) of `map` in Envoy's order, pseudo-headers included.
    fn headers(&self, map: HeaderType) -> Vec<(&[u8], &[u8])>;
    /// Number of entries in `map`.
    fn header_count(&self, map: HeaderType) -> usize;
    /// Sets `key` to `value` replacing all its values, or removes it (`None`). False if the
    /// map is not available at this point of the stream.
    fn set_header(&mut self, map: HeaderType, key: &[u8], value: Option<&[u8]>) -> bool;
    /// Adds a value to `key`, keeping the existing ones.
    fn add_header(&mut self, map: HeaderType, key: &[u8], value: &[u8]) -> bool;
    /// The chunks of a body, in order; empty if not available.
    fn body(&self, body: BodyType) -> Vec<&[u8]>;
    /// Appends bytes to a body.
    fn append_body(&mut self, body: BodyType, data: &[u8]) -> bool;
    /// Drains bytes from the front of a body.
    fn drain_body(&mut self, body: BodyType, bytes: usize) -> bool;
    /// Answers the stream locally.
    fn send_response(
        &mut self,
        status: u32,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        details: &[u8],
    );
    /// Resumes the request (`true`) or the response (`false`) after a pause.
    fn resume(&mut self, request: bool);
    /// An attribute's value, encoded as Proxy-Wasm properties are (strings as bytes, integers
    /// as 8 bytes little-endian, booleans as one byte).
    fn attribute(&self, attribute: Attribute) -> Option<Vec<u8>>;
    /// Updates metric `envoy_id` (as defined by [`ConfigHost::define_metric`]) on this stream.
    fn update_metric(&mut self, envoy_id: usize, update: MetricUpdate) -> bool;
}

/// Envoy's side of one filter configuration (shared by every stream and worker thread).
pub trait ConfigHost {
    /// Defines a metric; returns Envoy's id for it.
    fn define_metric(&self, kind: MetricType, name: &str) -> Option<usize>;
    /// Updates a metric outside any stream (e.g. from `proxy_on_configure`).
    fn update_metric(&self, envoy_id: usize, update: MetricUpdate) -> bool;
}

/// Envoy's log (process-wide: a filter may log outside any configuration or stream).
pub trait LogHost {
    /// Writes a line to Envoy's log under the dynamic-modules logger.
    fn log(&self, level: LogLevel, message: &[u8]);
    /// Whether Envoy would print a line at `level`.
    fn log_enabled(&self, level: LogLevel) -> bool;
}
