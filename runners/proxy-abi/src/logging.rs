//! `proxy_log` and `proxy_get_log_level`, once for the in-process host and the Envoy bridge:
//! a raw level outside the ABI is `BAD_ARGUMENT`; a message below the sink's level is dropped
//! (still `OK`); the level a filter reads back is the lowest one written. Where messages go is
//! the [`LogSink`] trait (the host keeps them for the run's report; the bridge writes Envoy's
//! log).

use crate::{LogLevel, Status};

/// Where a filter's log lines go.
pub trait LogSink {
    /// The lowest level written; lines below it are dropped.
    fn log_level(&self) -> LogLevel;

    /// Writes one line at `level` (never below [`LogSink::log_level`]).
    fn write_log(&mut self, level: LogLevel, message: &[u8]);
}

/// Writes `message` at `level` if the sink takes that level.
pub fn write(sink: &mut impl LogSink, level: LogLevel, message: &[u8]) {
    if level >= sink.log_level() {
        sink.write_log(level, message);
    }
}

/// `proxy_log(level, message)`.
pub fn log(sink: &mut impl LogSink, level: u32, message: &[u8]) -> Result<(), Status> {
    let level = LogLevel::from_raw(level).ok_or(Status::BadArgument)?;
    write(sink, level, message);
    Ok(())
}

/// `proxy_get_log_level`: the raw level to write back.
pub fn log_level(sink: &impl LogSink) -> u32 {
    sink.log_level().raw()
}
