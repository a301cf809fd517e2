//! Envoy's log behind the shared logging rules (`filterbench_proxy_abi::logging`, the same rules
//! the in-process host follows): the level a filter reads is the lowest one Envoy prints.

use crate::host::LogHost;
use crate::proxy_abi::LogLevel;
use crate::proxy_abi::logging::LogSink;

/// Envoy's log as a filter's log sink.
pub struct EnvoyLog<L>(pub L);

impl<L: LogHost> LogSink for EnvoyLog<L> {
    fn log_level(&self) -> LogLevel {
        (0..=5)
            .filter_map(LogLevel::from_raw)
            .find(|&level| self.0.log_enabled(level))
            .unwrap_or(LogLevel::Critical)
    }

    fn write_log(&mut self, level: LogLevel, message: &[u8]) {
        self.0.log(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeConfig;
    use crate::proxy_abi::suite;

    #[test]
    fn logging_follows_the_shared_rules() {
        suite::logging(
            |level| {
                EnvoyLog(FakeConfig {
                    level: Some(level),
                    ..FakeConfig::default()
                })
            },
            |sink| sink.0.logs.lock().unwrap().clone(),
        );
    }

    #[test]
    fn a_silent_envoy_reads_as_critical() {
        let sink = EnvoyLog(FakeConfig::default());
        assert_eq!(sink.log_level(), LogLevel::Critical);
    }
}
