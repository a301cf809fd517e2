//! Steady-state measurement of the stream lifecycle.
//!
//! Every cell is warmed up, then the cells are run in rounds: each round visits every cell in a
//! fresh random order for a fixed time slice, so drift of a shared machine (other tenants, CPU
//! frequency) hits all engines alike instead of whichever happened to run last. Each lifecycle
//! is timed on its own (one sample per request, as a proxy sees it); the cost of reading the
//! clock, measured at start, is subtracted from every sample.

use filterbench_host::{FilterError, FilterInstance, HttpExchange};
use rand::seq::SliceRandom;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureSettings {
    /// Untimed run time per cell before measuring.
    pub warmup: Duration,
    /// Number of interleaved rounds.
    pub rounds: u32,
    /// Time per cell per round.
    pub slice: Duration,
    /// Cap on samples kept per cell (memory bound for very fast cells).
    pub max_samples: usize,
}

impl MeasureSettings {
    /// `--quick`: enough for a first look (about 0.3 s per cell).
    pub const QUICK: Self = Self {
        warmup: Duration::from_millis(50),
        rounds: 5,
        slice: Duration::from_millis(40),
        max_samples: 2_000_000,
    };

    /// The default: about 1.3 s per cell.
    pub const STANDARD: Self = Self {
        warmup: Duration::from_millis(200),
        rounds: 20,
        slice: Duration::from_millis(50),
        max_samples: 5_000_000,
    };
}

/// One cell being measured: a started instance and the exchange it serves.
pub struct TimedCell<'a> {
    /// The instance (discarded if it fails).
    pub instance: Option<Box<dyn FilterInstance>>,
    /// The exchange pushed through it.
    pub exchange: &'a HttpExchange,
    /// Per-lifecycle wall times, ns, timer cost subtracted.
    pub samples: Vec<u64>,
    /// The error that stopped this cell, if any.
    pub error: Option<FilterError>,
}

impl<'a> TimedCell<'a> {
    /// A cell ready to be measured.
    pub fn new(instance: Box<dyn FilterInstance>, exchange: &'a HttpExchange) -> Self {
        Self {
            instance: Some(instance),
            exchange,
            samples: Vec::new(),
            error: None,
        }
    }

    /// Runs lifecycles until `slice` is over; records samples when `record` is true.
    fn run_for(&mut self, slice: Duration, record: bool, overhead_ns: u64, max_samples: usize) {
        let Some(instance) = self.instance.as_mut() else {
            return;
        };
        let deadline = Instant::now() + slice;
        loop {
            let start = Instant::now();
            let result = instance.run_stream(self.exchange);
            let end = Instant::now();
            if let Err(error) = result {
                self.error = Some(error);
                self.instance = None;
                return;
            }
            if record && self.samples.len() < max_samples {
                let ns = end.duration_since(start).as_nanos() as u64;
                self.samples.push(ns.saturating_sub(overhead_ns));
            }
            if end >= deadline {
                return;
            }
        }
    }
}

/// Median cost of one `Instant::now()` pair around nothing, in ns.
pub fn timer_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..20_000)
        .map(|_| {
            let start = Instant::now();
            let end = Instant::now();
            end.duration_since(start).as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Warms up and measures every cell, interleaved. `progress(done, total)` is called after each
/// cell slice.
pub fn measure(
    cells: &mut [TimedCell<'_>],
    settings: &MeasureSettings,
    overhead_ns: u64,
    progress: &mut dyn FnMut(u64, u64),
) {
    let total = (cells.len() as u64) * (settings.rounds as u64 + 1);
    let mut done = 0;
    for cell in cells.iter_mut() {
        cell.run_for(settings.warmup, false, overhead_ns, 0);
        done += 1;
        progress(done, total);
    }
    let mut order: Vec<usize> = (0..cells.len()).collect();
    let mut rng = rand::rng();
    for _ in 0..settings.rounds {
        order.shuffle(&mut rng);
        for &i in &order {
            cells[i].run_for(settings.slice, true, overhead_ns, settings.max_samples);
            done += 1;
            progress(done, total);
        }
    }
}
