//! The metric hostcalls over Envoy's dynamic-module metrics. Metrics are defined once per
//! filter configuration (the first `proxy_define_metric` of a name, usually on the main thread
//! while the configuration is checked) and shared by every worker's root context, as Envoy's
//! Wasm filter shares them across VMs. Envoy has no getter, so `proxy_get_metric` is
//! `UNIMPLEMENTED`.

use crate::host::{ConfigHost, MetricUpdate};
use crate::proxy_abi::{MetricType, Status, metrics};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Registry {
    by_name: HashMap<(MetricType, String), u32>,
    /// Indexed by the id handed to the filter.
    defined: Vec<(MetricType, usize)>,
}

/// The metrics of one filter configuration.
#[derive(Debug, Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    /// `proxy_define_metric`: the id of metric `name` of raw type `kind`, defining it in Envoy
    /// the first time.
    pub fn define(&self, config: &impl ConfigHost, kind: u32, name: &[u8]) -> Result<u32, Status> {
        let kind = MetricType::from_raw(kind).ok_or(Status::BadArgument)?;
        let name = metrics::name(name);
        let name: &str = &name;
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = registry.by_name.get(&(kind, name.to_owned())) {
            return Ok(id);
        }
        let envoy_id = config
            .define_metric(kind, name)
            .ok_or(Status::InternalFailure)?;
        let id = u32::try_from(registry.defined.len()).map_err(|_| Status::InternalFailure)?;
        registry.defined.push((kind, envoy_id));
        registry.by_name.insert((kind, name.to_owned()), id);
        Ok(id)
    }

    fn lookup(&self, id: u32) -> Result<(MetricType, usize), Status> {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry
            .defined
            .get(id as usize)
            .copied()
            .ok_or(Status::NotFound)
    }

    /// `proxy_increment_metric`: Envoy's id and update for adding `delta` to metric `id`.
    pub fn increment(&self, id: u32, delta: i64) -> Result<(usize, MetricUpdate), Status> {
        let (kind, envoy_id) = self.lookup(id)?;
        Ok((envoy_id, metrics::increment(kind, delta)?))
    }

    /// `proxy_record_metric`: Envoy's id and update for recording `value` in metric `id`.
    pub fn record(&self, id: u32, value: u64) -> Result<(usize, MetricUpdate), Status> {
        let (kind, envoy_id) = self.lookup(id)?;
        Ok((envoy_id, metrics::record(kind, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeConfig;

    #[test]
    fn a_name_is_defined_in_envoy_once_and_updates_map_by_type() {
        let config = FakeConfig::default();
        let metrics = Metrics::default();
        let requests = metrics.define(&config, 0, b"requests").unwrap();
        assert_eq!(metrics.define(&config, 0, b"requests"), Ok(requests));
        let headers = metrics.define(&config, 2, b"header_count").unwrap();
        let inflight = metrics.define(&config, 1, b"inflight").unwrap();
        assert_eq!(
            config.defined.lock().unwrap().len(),
            3,
            "one Envoy definition per name"
        );
        assert_eq!(metrics.define(&config, 9, b"x"), Err(Status::BadArgument));

        assert_eq!(
            metrics.increment(requests, 2),
            Ok((101, MetricUpdate::Increment(2)))
        );
        assert_eq!(metrics.increment(requests, -1), Err(Status::BadArgument));
        assert_eq!(metrics.increment(requests, 0), Err(Status::BadArgument));
        assert_eq!(
            metrics.increment(inflight, -3),
            Ok((103, MetricUpdate::GaugeSub(3)))
        );
        assert_eq!(
            metrics.record(headers, 12),
            Ok((102, MetricUpdate::Record(12)))
        );
        assert_eq!(
            metrics.record(inflight, 5),
            Ok((103, MetricUpdate::GaugeSet(5)))
        );
        assert_eq!(
            metrics.record(requests, 5),
            Ok((101, MetricUpdate::Increment(5))),
            "recording into a counter adds to it, as in Envoy's Wasm host"
        );
        assert_eq!(metrics.increment(42, 1), Err(Status::NotFound));
    }
}
