//! The values of Envoy's dynamic-module ABI the bridge uses on Envoy's side, written from the
//! ABI's documented names (`envoy_dynamic_module_type_*` in Envoy's `abi.h`, ABI v0.2.0 as
//! shipped in Envoy 1.40), and how Proxy-Wasm's values map onto them.

use crate::proxy_abi::{Action, LogLevel, MapType};

/// The dynamic-module ABI version the bridge is written against; `on_program_init` returns it.
pub const ABI_VERSION: &str = "v0.2.0";

/// The Envoy release (major.minor) the bridge is pinned to: the one `scripts/setup-envoy.sh`
/// installs. Other releases may lack a callback the bridge references (the module then fails to
/// load) or order an enum differently.
pub const ENVOY_RELEASE: &str = "1.40";

/// `envoy_dynamic_module_type_http_header_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum HeaderType {
    /// Request headers.
    RequestHeader = 0,
    /// Request trailers.
    RequestTrailer = 1,
    /// Response headers.
    ResponseHeader = 2,
    /// Response trailers.
    ResponseTrailer = 3,
}

impl HeaderType {
    /// The Envoy header map behind a Proxy-Wasm map type; `None` for maps that are not the
    /// stream's own (gRPC metadata, HTTP call responses).
    pub fn for_map(map: MapType) -> Option<Self> {
        Some(match map {
            MapType::HttpRequestHeaders => HeaderType::RequestHeader,
            MapType::HttpRequestTrailers => HeaderType::RequestTrailer,
            MapType::HttpResponseHeaders => HeaderType::ResponseHeader,
            MapType::HttpResponseTrailers => HeaderType::ResponseTrailer,
            _ => return None,
        })
    }
}

/// `envoy_dynamic_module_type_http_body_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BodyType {
    /// The request body data of the current `on_request_body` event.
    ReceivedRequest = 0,
    /// The request body Envoy has buffered for this filter so far.
    BufferedRequest = 1,
    /// The response body data of the current `on_response_body` event.
    ReceivedResponse = 2,
    /// The response body Envoy has buffered for this filter so far.
    BufferedResponse = 3,
}

/// `envoy_dynamic_module_type_log_level` (same order as Proxy-Wasm's, plus `Off`).
pub fn log_level(level: LogLevel) -> u32 {
    level as u32
}

/// Envoy's `FilterHeadersStatus` for a Proxy-Wasm action. Pause becomes
/// `StopAllIterationAndWatermark` (4), as Envoy's Wasm filter converts it (Proxy-Wasm C++ host
/// issue #143: a plain StopIteration would let body data through).
pub fn headers_status(action: Action) -> u32 {
    match action {
        Action::Continue => 0,
        Action::Pause => 4,
    }
}

/// Envoy's `FilterDataStatus` for a Proxy-Wasm action: Pause becomes `StopIterationAndBuffer`
/// (1), as in Envoy's Wasm filter, so the next body callback sees the body accumulated so far.
pub fn body_status(action: Action) -> u32 {
    match action {
        Action::Continue => 0,
        Action::Pause => 1,
    }
}

/// Envoy's `FilterTrailersStatus` for a Proxy-Wasm action: Pause becomes `StopIteration` (1).
pub fn trailers_status(action: Action) -> u32 {
    match action {
        Action::Continue => 0,
        Action::Pause => 1,
    }
}

/// `envoy_dynamic_module_type_attribute_id` values of the attributes the bridge reads, with
/// the kind of value Envoy returns for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// A string attribute (`get_attribute_string`).
    Text(u32),
    /// An integer attribute (`get_attribute_int`), handed to the filter as 8 bytes
    /// little-endian, as Envoy's Wasm filter encodes integers.
    Int(u32),
    /// A boolean attribute (`get_attribute_bool`), handed over as one byte.
    Bool(u32),
}

/// The Envoy attribute behind a Proxy-Wasm property path (segments joined by `.`), if the
/// dynamic-module ABI exposes it.
pub fn attribute(path: &str) -> Option<Attribute> {
    use Attribute::{Bool, Int, Text};
    Some(match path {
        "request.path" => Text(0),
        "request.url_path" => Text(1),
        "request.host" => Text(2),
        "request.scheme" => Text(3),
        "request.method" => Text(4),
        "request.referer" => Text(6),
        "request.useragent" => Text(7),
        "request.id" => Text(9),
        "request.protocol" => Text(10),
        "request.query" => Text(11),
        "request.duration" => Int(12),
        "request.size" => Int(13),
        "request.total_size" => Int(14),
        "response.code" => Int(15),
        "response.code_details" => Text(16),
        "response.flags" => Int(17),
        "response.grpc_status" => Int(18),
        "response.size" => Int(21),
        "response.total_size" => Int(22),
        "source.address" => Text(24),
        "source.port" => Int(25),
        "destination.address" => Text(26),
        "destination.port" => Int(27),
        "connection.id" => Int(28),
        "connection.mtls" => Bool(29),
        "connection.requested_server_name" => Text(30),
        "connection.tls_version" => Text(31),
        "upstream.address" => Text(41),
        "upstream.port" => Int(42),
        _ => return None,
    })
}

/// Every Envoy callback the bridge references, for checking an Envoy binary exports them.
pub const ENVOY_CALLBACKS: &[&str] = &[
    "envoy_dynamic_module_callback_log",
    "envoy_dynamic_module_callback_log_enabled",
    "envoy_dynamic_module_callback_http_get_header",
    "envoy_dynamic_module_callback_http_get_headers_size",
    "envoy_dynamic_module_callback_http_get_headers",
    "envoy_dynamic_module_callback_http_add_header",
    "envoy_dynamic_module_callback_http_set_header",
    "envoy_dynamic_module_callback_http_send_response",
    "envoy_dynamic_module_callback_http_get_body_chunks_size",
    "envoy_dynamic_module_callback_http_get_body_chunks",
    "envoy_dynamic_module_callback_http_append_body",
    "envoy_dynamic_module_callback_http_drain_body",
    "envoy_dynamic_module_callback_http_filter_continue_decoding",
    "envoy_dynamic_module_callback_http_filter_continue_encoding",
    "envoy_dynamic_module_callback_http_filter_get_attribute_string",
    "envoy_dynamic_module_callback_http_filter_get_attribute_int",
    "envoy_dynamic_module_callback_http_filter_get_attribute_bool",
    "envoy_dynamic_module_callback_http_filter_config_define_counter",
    "envoy_dynamic_module_callback_http_filter_config_define_gauge",
    "envoy_dynamic_module_callback_http_filter_config_define_histogram",
    "envoy_dynamic_module_callback_http_filter_increment_counter",
    "envoy_dynamic_module_callback_http_filter_increment_gauge",
    "envoy_dynamic_module_callback_http_filter_decrement_gauge",
    "envoy_dynamic_module_callback_http_filter_set_gauge",
    "envoy_dynamic_module_callback_http_filter_record_histogram_value",
    "envoy_dynamic_module_callback_http_filter_config_increment_counter",
    "envoy_dynamic_module_callback_http_filter_config_increment_gauge",
    "envoy_dynamic_module_callback_http_filter_config_decrement_gauge",
    "envoy_dynamic_module_callback_http_filter_config_set_gauge",
    "envoy_dynamic_module_callback_http_filter_config_record_histogram_value",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_maps_to_the_status_envoys_wasm_filter_uses() {
        assert_eq!(headers_status(Action::Continue), 0);
        assert_eq!(headers_status(Action::Pause), 4);
        assert_eq!(body_status(Action::Pause), 1);
        assert_eq!(trailers_status(Action::Pause), 1);
        assert_eq!(Action::from_raw(7), Action::Pause);
    }

    #[test]
    fn stream_maps_have_envoy_header_types_and_the_others_do_not() {
        assert_eq!(
            HeaderType::for_map(MapType::HttpResponseHeaders),
            Some(HeaderType::ResponseHeader)
        );
        assert_eq!(HeaderType::for_map(MapType::HttpCallResponseHeaders), None);
        assert_eq!(HeaderType::for_map(MapType::GrpcCallInitialMetadata), None);
    }

    #[test]
    fn known_properties_name_envoy_attributes() {
        assert_eq!(attribute("request.path"), Some(Attribute::Text(0)));
        assert_eq!(attribute("response.code"), Some(Attribute::Int(15)));
        assert_eq!(attribute("upstream.address"), Some(Attribute::Text(41)));
        assert_eq!(attribute("request.nonsense"), None);
    }
}
