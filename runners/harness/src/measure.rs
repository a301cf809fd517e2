//! Steady-state measurement of the stream lifecycle.
//!
//! Every cell is warmed up, then the cells are run in rounds: each round visits every cell in a
//! fresh random order for a fixed time slice, so drift of a shared machine (other tenants, CPU
//! frequency) hits all engines alike instead of whichever happened to run last. Each lifecycle
//! is timed on its own (one sample per request, as a proxy sees it); the cost of reading the
//! clock, measured at start, is subtracted from every sample. Each round also records the
//! thread's CPU time, which time stolen by other processes does not inflate.

use crate::results::RoundSeries;
use crate::stats::{self, TimeHistogram};
use filterbench_host::{FilterError, FilterInstance, HttpExchange};
use rand::seq::SliceRandom;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureSettings {
    /// Untimed run time per cell before measuring.
    pub warmup: Duration,
    /// Number of interleaved rounds (the unit of every confidence interval).
    pub rounds: u32,
    /// Time per cell per round.
    pub slice: Duration,
    /// Instances created per (filter, engine) for the start-up phases and memory.
    pub phase_samples: u32,
    /// Compilations per (filter, engine) for the compile phase.
    pub compile_samples: u32,
}

impl MeasureSettings {
    /// `--quick`: a first look, about 0.1 s per cell.
    pub const QUICK: Self = Self {
        warmup: Duration::from_millis(20),
        rounds: 10,
        slice: Duration::from_millis(8),
        phase_samples: 5,
        compile_samples: 1,
    };

    /// The default: about 0.75 s per cell, 30 rounds.
    pub const STANDARD: Self = Self {
        warmup: Duration::from_millis(100),
        rounds: 30,
        slice: Duration::from_millis(20),
        phase_samples: 20,
        compile_samples: 3,
    };
}

/// Thread CPU time of the calling thread, ns.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Makes a fresh started instance of a cell's module (after a trap).
pub type Respawn<'a> = Box<dyn FnMut() -> Result<Box<dyn FilterInstance>, FilterError> + 'a>;

/// Traps a cell may take (each followed by a fresh instance) before it is given up.
pub const MAX_TRAPS: u32 = 20;

/// One cell being measured: a started instance and the exchange it serves.
pub struct TimedCell<'a> {
    /// The instance (discarded if it fails).
    pub instance: Option<Box<dyn FilterInstance>>,
    /// Makes a replacement after a trap, as Envoy restarts a VM; `None`: the cell stops.
    respawn: Option<Respawn<'a>>,
    /// Callbacks that trapped during measurement (each cost its instance).
    pub traps: u32,
    /// The exchange pushed through it.
    pub exchange: &'a HttpExchange,
    /// Every timed lifecycle, wall time, ns, timer cost subtracted.
    pub histogram: TimeHistogram,
    /// Per-round statistics.
    pub rounds: RoundSeries,
    /// The error that stopped this cell, if any.
    pub error: Option<FilterError>,
    round_samples: Vec<u64>,
}

impl<'a> TimedCell<'a> {
    /// A cell ready to be measured.
    pub fn new(instance: Box<dyn FilterInstance>, exchange: &'a HttpExchange) -> Self {
        Self {
            instance: Some(instance),
            respawn: None,
            traps: 0,
            exchange,
            histogram: stats::new_histogram(),
            rounds: RoundSeries::default(),
            error: None,
            round_samples: Vec::new(),
        }
    }

    /// After a trap, measurement goes on with a fresh instance from `respawn` (up to
    /// [`MAX_TRAPS`] times).
    pub fn with_respawn(mut self, respawn: Respawn<'a>) -> Self {
        self.respawn = Some(respawn);
        self
    }

    /// Discards the instance after `error`; a trap gets a fresh instance when possible.
    fn failed(&mut self, error: FilterError) {
        self.instance = None;
        let trapped = matches!(error, FilterError::Trap { .. });
        self.error = Some(error);
        if !trapped {
            return;
        }
        self.traps += 1;
        if self.traps >= MAX_TRAPS {
            return;
        }
        if let Some(respawn) = self.respawn.as_mut() {
            match respawn() {
                Ok(instance) => self.instance = Some(instance),
                Err(error) => self.error = Some(error),
            }
        }
    }

    /// Runs lifecycles until `slice` is over (at least one); when `record` is true, keeps the
    /// samples and appends one round. After a trap the next sample runs on a fresh instance (the
    /// trapping lifecycle is not a sample); a round whose cell could not go on is dropped.
    fn run_for(&mut self, slice: Duration, record: bool, overhead_ns: u64) {
        if self.instance.is_none() {
            return;
        }
        self.round_samples.clear();
        let cpu_start = thread_cpu_ns();
        let deadline = Instant::now() + slice;
        loop {
            let Some(instance) = self.instance.as_mut() else {
                return;
            };
            let start = Instant::now();
            let result = instance.run_stream(self.exchange);
            let end = Instant::now();
            match result {
                Err(error) => self.failed(error),
                Ok(()) if record => {
                    let ns = end.duration_since(start).as_nanos() as u64;
                    self.round_samples.push(ns.saturating_sub(overhead_ns));
                }
                Ok(()) => {}
            }
            if end >= deadline && (!record || !self.round_samples.is_empty()) {
                break;
            }
        }
        if !record {
            return;
        }
        let cpu_ns = thread_cpu_ns().saturating_sub(cpu_start);
        let count = self.round_samples.len() as u64;
        for &ns in &self.round_samples {
            self.histogram.saturating_record(ns.max(1));
        }
        let [p50, p90, p99, p999] = stats::round_percentiles(&mut self.round_samples);
        let rounds = &mut self.rounds;
        rounds.lifecycles.push(count);
        rounds.p50_ns.push(p50);
        rounds.p90_ns.push(p90);
        rounds.p99_ns.push(p99);
        rounds.p999_ns.push(p999);
        let per_lifecycle = (cpu_ns as f64 / count as f64 - overhead_ns as f64).max(0.0);
        rounds.cpu_ns.push(stats::round_to(per_lifecycle, 1));
    }
}

/// Pins the calling thread to one CPU (Linux `sched_setaffinity`) for as long as the guard
/// lives, then restores the previous affinity. Migrations between cores (and landing on the core
/// that takes the interrupts) showed up as whole rounds running at a different speed.
pub struct CpuPin {
    previous: Option<libc::cpu_set_t>,
}

impl CpuPin {
    /// The CPU pinned to by default: the last one (CPU 0 usually takes the most interrupts).
    pub fn default_cpu() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
    }

    /// Pins the calling thread to `cpu`; `None` (no pinning) when the kernel refuses.
    pub fn to(cpu: usize) -> Option<Self> {
        // SAFETY: cpu_set_t is plain data; the calls only read/write the sets passed.
        unsafe {
            let mut previous: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(0, size, &mut previous) != 0 {
                return None;
            }
            if !libc::CPU_ISSET(cpu, &previous) {
                return None;
            }
            let mut only: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut only);
            if libc::sched_setaffinity(0, size, &only) != 0 {
                return None;
            }
            Some(Self {
                previous: Some(previous),
            })
        }
    }
}

impl Drop for CpuPin {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            // SAFETY: restores the set read in `to`.
            unsafe {
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &previous);
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
    progress(done, total);
    for cell in cells.iter_mut() {
        cell.run_for(settings.warmup, false, overhead_ns);
        done += 1;
        progress(done, total);
    }
    let mut order: Vec<usize> = (0..cells.len()).collect();
    let mut rng = rand::rng();
    for _ in 0..settings.rounds {
        order.shuffle(&mut rng);
        for &i in &order {
            cells[i].run_for(settings.slice, true, overhead_ns);
            done += 1;
            progress(done, total);
        }
    }
}
