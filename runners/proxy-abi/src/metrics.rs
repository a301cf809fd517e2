//! Metric semantics, once for the in-process host and the Envoy bridge, by the rules of Envoy's
//! Wasm host: `proxy_increment_metric(id, offset: i64)` adds a positive offset to a counter
//! (anything else is `BAD_ARGUMENT`) and adds to or subtracts from a gauge;
//! `proxy_record_metric(id, value: u64)` adds to a counter, sets a gauge and records into a
//! histogram; `proxy_get_metric` reads counters and gauges. Each side applies the resulting
//! [`MetricUpdate`] to its own store (a value in the host, an Envoy stat in the bridge).

use crate::{MetricType, Status};

/// What a metric hostcall does to one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUpdate {
    /// Add to a counter.
    Increment(u64),
    /// Add to a gauge.
    GaugeAdd(u64),
    /// Subtract from a gauge.
    GaugeSub(u64),
    /// Set a gauge.
    GaugeSet(u64),
    /// Record a histogram value.
    Record(u64),
}

/// `proxy_increment_metric` on a metric of `kind`.
pub fn increment(kind: MetricType, offset: i64) -> Result<MetricUpdate, Status> {
    match kind {
        MetricType::Counter if offset > 0 => Ok(MetricUpdate::Increment(offset as u64)),
        MetricType::Gauge if offset > 0 => Ok(MetricUpdate::GaugeAdd(offset as u64)),
        MetricType::Gauge => Ok(MetricUpdate::GaugeSub(offset.unsigned_abs())),
        MetricType::Counter | MetricType::Histogram => Err(Status::BadArgument),
    }
}

/// `proxy_record_metric` on a metric of `kind`.
pub fn record(kind: MetricType, value: u64) -> MetricUpdate {
    match kind {
        MetricType::Counter => MetricUpdate::Increment(value),
        MetricType::Gauge => MetricUpdate::GaugeSet(value),
        MetricType::Histogram => MetricUpdate::Record(value),
    }
}

/// Whether `proxy_get_metric` may read a metric of `kind` (`BAD_ARGUMENT` for histograms).
pub fn readable(kind: MetricType) -> Result<(), Status> {
    match kind {
        MetricType::Histogram => Err(Status::BadArgument),
        MetricType::Counter | MetricType::Gauge => Ok(()),
    }
}

/// The name `proxy_define_metric` was given (invalid UTF-8 replaced, as Envoy takes any bytes).
pub fn name(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetricType::{Counter, Gauge, Histogram};

    #[test]
    fn updates_follow_envoys_rules() {
        assert_eq!(increment(Counter, 2), Ok(MetricUpdate::Increment(2)));
        assert_eq!(increment(Counter, 0), Err(Status::BadArgument));
        assert_eq!(increment(Counter, -1), Err(Status::BadArgument));
        assert_eq!(increment(Gauge, 3), Ok(MetricUpdate::GaugeAdd(3)));
        assert_eq!(increment(Gauge, -3), Ok(MetricUpdate::GaugeSub(3)));
        assert_eq!(increment(Gauge, 0), Ok(MetricUpdate::GaugeSub(0)));
        assert_eq!(increment(Histogram, 1), Err(Status::BadArgument));
        assert_eq!(record(Counter, 5), MetricUpdate::Increment(5));
        assert_eq!(record(Gauge, 5), MetricUpdate::GaugeSet(5));
        assert_eq!(record(Histogram, u64::MAX), MetricUpdate::Record(u64::MAX));
        assert_eq!(readable(Histogram), Err(Status::BadArgument));
        assert_eq!(readable(Counter), Ok(()));
        assert_eq!(name(b"a\xffb"), "a\u{fffd}b");
    }
}
