//! [`StreamHost`] and [`ConfigHost`] over Envoy's dynamic-module callbacks.

use super::ffi::{
    self, ConfigEnvoyPtr, EnvoyBuffer, EnvoyHttpHeader, FilterEnvoyPtr, ModuleBuffer,
};
use crate::envoy_abi::{self, Attribute, BodyType, HeaderType};
use crate::host::{ConfigHost, LogHost, MetricUpdate, StreamHost};
use crate::proxy_abi::{LogLevel, MetricType, properties};

/// One HTTP stream inside Envoy.
pub struct EnvoyStream(pub FilterEnvoyPtr);

/// One filter configuration inside Envoy.
pub struct EnvoyConfig(pub ConfigEnvoyPtr);

/// `metrics_result` Success.
const METRICS_OK: u32 = 0;

impl StreamHost for EnvoyStream {
    fn header(&self, map: HeaderType, key: &[u8]) -> Option<&[u8]> {
        let mut value = EnvoyBuffer::EMPTY;
        let mut count = 0usize;
        // SAFETY: Envoy's pointer is live during the hook; the out-pointers are ours.
        let ok = unsafe {
            ffi::envoy_dynamic_module_callback_http_get_header(
                self.0,
                map as u32,
                ModuleBuffer::of(key),
                &mut value,
                0,
                &mut count,
            )
        };
        // SAFETY: Envoy's buffer stays valid until the stream changes (borrow of `self`).
        (ok && count > 0).then(|| unsafe { value.bytes() })
    }

    fn headers(&self, map: HeaderType) -> Vec<(&[u8], &[u8])> {
        let count = self.header_count(map);
        if count == 0 {
            return Vec::new();
        }
        let mut raw: Vec<EnvoyHttpHeader> = Vec::with_capacity(count);
        // SAFETY: `raw` has room for the `count` headers Envoy just reported.
        let ok = unsafe {
            ffi::envoy_dynamic_module_callback_http_get_headers(
                self.0,
                map as u32,
                raw.as_mut_ptr(),
            )
        };
        if !ok {
            return Vec::new();
        }
        // SAFETY: Envoy filled `count` entries.
        unsafe { raw.set_len(count) };
        raw.iter()
            .map(|h| {
                let key = EnvoyBuffer {
                    ptr: h.key_ptr,
                    length: h.key_length,
                };
                let value = EnvoyBuffer {
                    ptr: h.value_ptr,
                    length: h.value_length,
                };
                // SAFETY: Envoy's header storage, valid while the stream is unchanged.
                unsafe { (key.bytes(), value.bytes()) }
            })
            .collect()
    }

    fn header_count(&self, map: HeaderType) -> usize {
        // SAFETY: Envoy's pointer is live during the hook.
        unsafe { ffi::envoy_dynamic_module_callback_http_get_headers_size(self.0, map as u32) }
    }

    fn set_header(&mut self, map: HeaderType, key: &[u8], value: Option<&[u8]>) -> bool {
        let value = value.map_or(ModuleBuffer::NULL, ModuleBuffer::of);
        // SAFETY: Envoy copies the key and value.
        unsafe {
            ffi::envoy_dynamic_module_callback_http_set_header(
                self.0,
                map as u32,
                ModuleBuffer::of(key),
                value,
            )
        }
    }

    fn add_header(&mut self, map: HeaderType, key: &[u8], value: &[u8]) -> bool {
        // SAFETY: Envoy copies the key and value.
        unsafe {
            ffi::envoy_dynamic_module_callback_http_add_header(
                self.0,
                map as u32,
                ModuleBuffer::of(key),
                ModuleBuffer::of(value),
            )
        }
    }

    fn body(&self, body: BodyType) -> Vec<&[u8]> {
        // SAFETY: Envoy's pointer is live during the hook.
        let count = unsafe {
            ffi::envoy_dynamic_module_callback_http_get_body_chunks_size(self.0, body as u32)
        };
        if count == 0 {
            return Vec::new();
        }
        let mut chunks = vec![EnvoyBuffer::EMPTY; count];
        // SAFETY: `chunks` has room for the `count` chunks Envoy just reported.
        let ok = unsafe {
            ffi::envoy_dynamic_module_callback_http_get_body_chunks(
                self.0,
                body as u32,
                chunks.as_mut_ptr(),
            )
        };
        if !ok {
            return Vec::new();
        }
        // SAFETY: Envoy's buffers, valid while the stream is unchanged.
        chunks.into_iter().map(|c| unsafe { c.bytes() }).collect()
    }

    fn append_body(&mut self, body: BodyType, data: &[u8]) -> bool {
        // SAFETY: Envoy copies the data.
        unsafe {
            ffi::envoy_dynamic_module_callback_http_append_body(
                self.0,
                body as u32,
                ModuleBuffer::of(data),
            )
        }
    }

    fn drain_body(&mut self, body: BodyType, bytes: usize) -> bool {
        // SAFETY: Envoy's pointer is live during the hook.
        unsafe { ffi::envoy_dynamic_module_callback_http_drain_body(self.0, body as u32, bytes) }
    }

    fn send_response(
        &mut self,
        status: u32,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        details: &[u8],
    ) {
        let mut raw: Vec<ffi::ModuleHttpHeader> = headers
            .iter()
            .map(|(k, v)| ffi::ModuleHttpHeader {
                key_ptr: k.as_ptr(),
                key_length: k.len(),
                value_ptr: v.as_ptr(),
                value_length: v.len(),
            })
            .collect();
        let details = if details.is_empty() {
            ModuleBuffer::NULL
        } else {
            ModuleBuffer::of(details)
        };
        // SAFETY: Envoy copies headers, body and details.
        unsafe {
            ffi::envoy_dynamic_module_callback_http_send_response(
                self.0,
                status,
                raw.as_mut_ptr(),
                raw.len(),
                ModuleBuffer::of(body),
                details,
            )
        }
    }

    fn resume(&mut self, request: bool) {
        // SAFETY: Envoy's pointer is live during the hook.
        unsafe {
            if request {
                ffi::envoy_dynamic_module_callback_http_filter_continue_decoding(self.0)
            } else {
                ffi::envoy_dynamic_module_callback_http_filter_continue_encoding(self.0)
            }
        }
    }

    fn attribute(&self, attribute: Attribute) -> Option<Vec<u8>> {
        // SAFETY (all three): Envoy's pointer is live; the out-pointers are ours.
        match attribute {
            Attribute::Text(id) => {
                let mut value = EnvoyBuffer::EMPTY;
                unsafe {
                    ffi::envoy_dynamic_module_callback_http_filter_get_attribute_string(
                        self.0, id, &mut value,
                    )
                }
                .then(|| unsafe { value.bytes() }.to_vec())
            }
            Attribute::Int(id) => {
                let mut value = 0u64;
                unsafe {
                    ffi::envoy_dynamic_module_callback_http_filter_get_attribute_int(
                        self.0, id, &mut value,
                    )
                }
                .then(|| properties::int(value as i64))
            }
            Attribute::Bool(id) => {
                let mut value = false;
                unsafe {
                    ffi::envoy_dynamic_module_callback_http_filter_get_attribute_bool(
                        self.0, id, &mut value,
                    )
                }
                .then(|| properties::boolean(value))
            }
        }
    }

    fn update_metric(&mut self, envoy_id: usize, update: MetricUpdate) -> bool {
        let (call, value) = metric_call(update, false);
        // SAFETY: no labels; Envoy's pointer is live during the hook.
        unsafe { call(self.0, envoy_id, std::ptr::null_mut(), 0, value) == METRICS_OK }
    }
}

/// The shape shared by Envoy's metric-update callbacks.
type MetricFn =
    unsafe extern "C" fn(*mut std::ffi::c_void, usize, *mut ModuleBuffer, usize, u64) -> u32;

/// Envoy's callback for `update` — per stream, or per configuration (`config`) — and its value.
fn metric_call(update: MetricUpdate, config: bool) -> (MetricFn, u64) {
    use ffi::*;
    let (stream_fn, config_fn, value): (MetricFn, MetricFn, u64) = match update {
        MetricUpdate::Increment(v) => (
            envoy_dynamic_module_callback_http_filter_increment_counter,
            envoy_dynamic_module_callback_http_filter_config_increment_counter,
            v,
        ),
        MetricUpdate::GaugeAdd(v) => (
            envoy_dynamic_module_callback_http_filter_increment_gauge,
            envoy_dynamic_module_callback_http_filter_config_increment_gauge,
            v,
        ),
        MetricUpdate::GaugeSub(v) => (
            envoy_dynamic_module_callback_http_filter_decrement_gauge,
            envoy_dynamic_module_callback_http_filter_config_decrement_gauge,
            v,
        ),
        MetricUpdate::GaugeSet(v) => (
            envoy_dynamic_module_callback_http_filter_set_gauge,
            envoy_dynamic_module_callback_http_filter_config_set_gauge,
            v,
        ),
        MetricUpdate::Record(v) => (
            envoy_dynamic_module_callback_http_filter_record_histogram_value,
            envoy_dynamic_module_callback_http_filter_config_record_histogram_value,
            v,
        ),
    };
    (if config { config_fn } else { stream_fn }, value)
}

impl ConfigHost for EnvoyConfig {
    fn define_metric(&self, kind: MetricType, name: &str) -> Option<usize> {
        let define = match kind {
            MetricType::Counter => {
                ffi::envoy_dynamic_module_callback_http_filter_config_define_counter
            }
            MetricType::Gauge => ffi::envoy_dynamic_module_callback_http_filter_config_define_gauge,
            MetricType::Histogram => {
                ffi::envoy_dynamic_module_callback_http_filter_config_define_histogram
            }
        };
        let mut id = 0usize;
        // SAFETY: Envoy copies the name; the configuration pointer lives until config destroy.
        let result = unsafe {
            define(
                self.0,
                ModuleBuffer::of(name.as_bytes()),
                std::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        (result == METRICS_OK).then_some(id)
    }

    fn update_metric(&self, envoy_id: usize, update: MetricUpdate) -> bool {
        let (call, value) = metric_call(update, true);
        // SAFETY: no labels; the configuration pointer lives until config destroy.
        unsafe { call(self.0, envoy_id, std::ptr::null_mut(), 0, value) == METRICS_OK }
    }
}

/// Envoy's process-wide log.
#[derive(Clone, Copy, Debug, Default)]
pub struct EnvoyLogger;

impl LogHost for EnvoyLogger {
    fn log(&self, level: LogLevel, message: &[u8]) {
        log(level, message);
    }

    fn log_enabled(&self, level: LogLevel) -> bool {
        log_enabled(level)
    }
}

/// Writes `message` to Envoy's log (the `dynamic_modules` logger).
pub fn log(level: LogLevel, message: &[u8]) {
    // SAFETY: Envoy copies the message.
    unsafe {
        ffi::envoy_dynamic_module_callback_log(
            envoy_abi::log_level(level),
            ModuleBuffer::of(message),
        )
    }
}

/// Whether Envoy prints lines at `level`.
pub fn log_enabled(level: LogLevel) -> bool {
    // SAFETY: a pure query.
    unsafe { ffi::envoy_dynamic_module_callback_log_enabled(envoy_abi::log_level(level)) }
}
