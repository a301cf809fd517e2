//! Steady-state measurement of the stream lifecycle, in pairs adjacent in time.
//!
//! This machine (and any shared one) changes speed by up to 1.8x from one second to the next,
//! so a comparison means something only between slices that ran back to back. Every compared
//! cell has a *baseline* (native code of the same filter and workload); each round, every cell
//! runs one short slice (a few ms) immediately next to one slice of its baseline, in a random
//! A/B order, and the pair's two medians become one paired observation. The baseline's own
//! figures pool all of its slices of the round. Each lifecycle is timed on its own (one sample
//! per request); the cost of reading the clock, measured at start, is subtracted. Each round
//! also times a fixed CPU-bound *canary* loop, which records the machine's speed state.
//!
//! Rounds are grouped into *blocks*: at the start of each block every cell gets a fresh module
//! load and instance, placed after a heap padding of random size (the idea of Stabilizer's
//! layout randomisation), so each block sees another memory layout. Without it, two instances
//! of the same native library differed by a steady 4-6% for a whole run (an A/A ratio of 0.94
//! on get-large-headers): layout effects are fixed within a process and change between
//! processes. Some do not change between blocks at all (native code of one filter ran at a
//! steady 410 ns in every block of one process and 464 ns in every block of the next), so a
//! standard run is also split over several processes ([`MeasureSettings::share`]); the
//! intervals resample processes, then blocks, then rounds.
//!
//! A cell whose pair of slices takes much longer than two slices (one lifecycle is longer than
//! a slice: 1 MiB bodies on an interpreter) runs in every k-th round only, spread over all
//! blocks, so it costs about as much time as any other cell; it has fewer rounds and wider
//! intervals instead.

use crate::results::RoundSeries;
use crate::stats::{self, TimeHistogram};
use filterbench_host::{FilterError, FilterInstance, HttpExchange};
use rand::RngExt;
use rand::seq::SliceRandom;
use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureSettings {
    /// Untimed run time per cell before measuring (after each renewal: two slices).
    pub warmup: Duration,
    /// Number of rounds (the unit of every confidence interval).
    pub rounds: u32,
    /// Time per cell slice; a paired cell runs one slice per round, next to one of its baseline.
    pub slice: Duration,
    /// Blocks of rounds; every cell is reloaded and re-instantiated between blocks.
    pub blocks: u32,
    /// Instances created per (filter, engine) for the start-up phases and memory.
    pub phase_samples: u32,
    /// Compilations per (filter, engine) for the compile phase.
    pub compile_samples: u32,
}

impl MeasureSettings {
    /// `--quick`: a first look, about 0.1 s per compared cell.
    pub const QUICK: Self = Self {
        warmup: Duration::from_millis(20),
        rounds: 20,
        slice: Duration::from_millis(2),
        blocks: 2,
        phase_samples: 5,
        compile_samples: 1,
    };

    /// The default: about 0.45 s per compared cell (half of it its baseline's slices), 72
    /// rounds in 6 blocks — split over 3 processes by the CLI ([`Self::share`]: 24 rounds in 2
    /// blocks each).
    pub const STANDARD: Self = Self {
        // Per cell and process; a renewed instance warms up for two slices. 100 ms here was
        // 45 s of every process's time and changed no ratio beyond its interval.
        warmup: Duration::from_millis(20),
        rounds: 72,
        slice: Duration::from_millis(3),
        blocks: 6,
        phase_samples: 20,
        compile_samples: 3,
    };

    /// The settings of one of `processes` processes that together make this measurement: the
    /// rounds divided between them (rounded up), at least two blocks each (fewer blocks per
    /// process than the whole has, as the processes themselves add layouts).
    pub fn share(self, processes: u32) -> Self {
        let processes = processes.max(1);
        if processes == 1 {
            return self;
        }
        Self {
            rounds: self.rounds.div_ceil(processes),
            blocks: self.blocks.div_ceil(processes).max(2),
            ..self
        }
    }

    /// The block of round `round` (0-based).
    pub fn block_of(&self, round: u32) -> u32 {
        let blocks = self.blocks.clamp(1, self.rounds.max(1));
        round * blocks / self.rounds.max(1)
    }
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

/// Makes a fresh started instance of a cell's module: after a trap (as Envoy restarts a VM),
/// and at each block boundary (a fresh load of the module as well).
pub type Respawn<'a> = Box<dyn FnMut() -> Result<Box<dyn FilterInstance>, FilterError> + 'a>;

/// An instance set up for timing: forwarded body bytes are counted, not kept (keeping them is a
/// copy only conformance checks need).
fn timed(mut instance: Box<dyn FilterInstance>) -> Box<dyn FilterInstance> {
    instance.state().stream.discard_forwarded = true;
    instance
}

/// Traps a cell may take (each followed by a fresh instance) before it is given up.
pub const MAX_TRAPS: u32 = 20;

/// What one slice of a cell measured.
#[derive(Clone, Copy, Debug)]
struct SliceStat {
    /// Median wall time of the slice's lifecycles, ns.
    median_ns: f64,
    /// Thread CPU time per lifecycle, ns.
    cpu_ns: f64,
    /// When the slice started, ms since the measurement began.
    started_ms: f64,
}

/// Runs one untimed request on an instance and says how its path differs from the first
/// request's (empty: the same path).
pub type Verify<'a> = Box<dyn FnMut(&mut dyn FilterInstance) -> Vec<String> + 'a>;

/// One cell being measured: a started instance and the exchange it serves.
pub struct TimedCell<'a> {
    /// The instance (discarded if it fails).
    pub instance: Option<Box<dyn FilterInstance>>,
    /// Makes a replacement after a trap; `None`: the cell stops at its first trap.
    respawn: Option<Respawn<'a>>,
    /// Makes a replacement from a fresh load of the module at each block boundary; `None`:
    /// the instance is kept for the whole measurement.
    renew: Option<Respawn<'a>>,
    /// Checks that the instance still takes its first request's path; `None`: not checked.
    verify: Option<Verify<'a>>,
    /// Requests the current instance has served (warm-up, timed, checks).
    served: u64,
    /// The first path change seen: requests the instance had served, and the difference.
    pub path_change: Option<(u64, Vec<String>)>,
    /// Index (among the cells given to [`measure`]) of the cell this one is paired with.
    pub baseline: Option<usize>,
    /// Callbacks that trapped during measurement (each cost its instance).
    pub traps: u32,
    /// On a virtual clock: ticks fired and requests served by this cell's instances
    /// (warm-up, timed and checks), summed over the instances it went through.
    pub ticks: (u64, u64),
    /// The exchange pushed through it.
    pub exchange: &'a HttpExchange,
    /// Every timed lifecycle, wall time, ns, timer cost subtracted.
    pub histogram: TimeHistogram,
    /// Per-round statistics.
    pub rounds: RoundSeries,
    /// The error that stopped this cell, if any.
    pub error: Option<FilterError>,
    /// The round's samples so far (all of the round's slices).
    round_samples: Vec<u64>,
    /// Thread CPU time of the round's slices, ns, and their lifecycles.
    round_cpu: (u64, u64),
    /// The round's first slice.
    first_slice: Option<SliceStat>,
    /// The baseline's slice next to this cell's slice in this round.
    paired: Option<SliceStat>,
    /// Heap padding of random size allocated before this block's instance (kept alive so the
    /// instance's allocations stay shifted).
    layout_padding: Vec<u8>,
}

impl<'a> TimedCell<'a> {
    /// A cell ready to be measured.
    pub fn new(instance: Box<dyn FilterInstance>, exchange: &'a HttpExchange) -> Self {
        Self {
            instance: Some(timed(instance)),
            respawn: None,
            renew: None,
            baseline: None,
            traps: 0,
            ticks: (0, 0),
            verify: None,
            served: 0,
            path_change: None,
            exchange,
            histogram: stats::new_histogram(),
            rounds: RoundSeries::default(),
            error: None,
            round_samples: Vec::new(),
            round_cpu: (0, 0),
            first_slice: None,
            paired: None,
            layout_padding: Vec::new(),
        }
    }

    /// After a trap, measurement goes on with a fresh instance from `respawn` (up to
    /// [`MAX_TRAPS`] times).
    pub fn with_respawn(mut self, respawn: Respawn<'a>) -> Self {
        self.respawn = Some(respawn);
        self
    }

    /// At each block boundary the instance is replaced by one from `renew` (a fresh load).
    pub fn with_renew(mut self, renew: Respawn<'a>) -> Self {
        self.renew = Some(renew);
        self
    }

    /// Checks the instance's path with `verify` at each block boundary and at the end.
    pub fn with_verify(mut self, verify: Verify<'a>) -> Self {
        self.verify = Some(verify);
        self
    }

    /// Runs `verify` on the instance (untimed) unless a change was already seen.
    fn verify_path(&mut self) {
        if self.path_change.is_some() {
            return;
        }
        let (Some(instance), Some(verify)) = (self.instance.as_mut(), self.verify.as_mut()) else {
            return;
        };
        let diff = verify(instance.as_mut());
        self.served += 1;
        if !diff.is_empty() {
            self.path_change = Some((self.served, diff));
        }
    }

    /// Pairs this cell with the cell at `baseline`.
    pub fn paired_with(mut self, baseline: usize) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Adds the current instance's ticks and requests to [`Self::ticks`] (on a virtual clock),
    /// before it is replaced or the cell ends.
    fn count_ticks(&mut self) {
        if let Some(instance) = self.instance.as_mut() {
            let state = instance.state();
            if state.plugin.clock_step_ns != 0 {
                self.ticks.0 += state.clock.ticks_fired;
                self.ticks.1 += self.served;
            }
        }
    }

    /// Discards the instance after `error`; a trap gets a fresh instance when possible.
    fn failed(&mut self, error: FilterError) {
        self.count_ticks();
        self.instance = None;
        self.served = 0;
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
                Ok(instance) => self.instance = Some(timed(instance)),
                Err(error) => self.error = Some(error),
            }
        }
    }

    /// Replaces the instance by a fresh load (block boundary) placed after `padding` bytes of
    /// fresh heap; a failure stops the cell.
    fn renew(&mut self, padding: usize) {
        if self.instance.is_none() || self.renew.is_none() {
            return;
        }
        self.verify_path();
        self.count_ticks();
        // The old instance's memory is freed first, so the padding takes some of it and the new
        // instance lands elsewhere than the old one.
        self.instance = None;
        self.served = 0;
        self.layout_padding = vec![0xa5; padding];
        if let Some(renew) = self.renew.as_mut() {
            match renew() {
                Ok(instance) => self.instance = Some(timed(instance)),
                Err(error) => {
                    self.instance = None;
                    self.error = Some(error);
                }
            }
        }
    }

    /// Runs lifecycles for `duration` untimed.
    fn warm_up(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        while let Some(instance) = self.instance.as_mut() {
            let now = Instant::now();
            self.served += 1;
            if let Err(error) = instance.run_stream_started(self.exchange, now) {
                self.failed(error);
            }
            if now >= deadline {
                break;
            }
        }
    }

    /// Runs lifecycles until `slice` is over (at least one sample), keeps the samples for the
    /// round and returns the slice's statistics. After a trap the next sample runs on a fresh
    /// instance (the trapping lifecycle is not a sample). `None` when the cell cannot go on.
    fn run_slice(
        &mut self,
        slice: Duration,
        overhead_ns: u64,
        epoch: Instant,
    ) -> Option<SliceStat> {
        self.instance.as_ref()?;
        let first = self.round_samples.len();
        let cpu_start = thread_cpu_ns();
        let started = Instant::now();
        let deadline = started + slice;
        loop {
            let instance = self.instance.as_mut()?;
            let start = Instant::now();
            let result = instance.run_stream_started(self.exchange, start);
            let end = Instant::now();
            self.served += 1;
            match result {
                Err(error) => self.failed(error),
                Ok(()) => {
                    let ns = end.duration_since(start).as_nanos() as u64;
                    self.round_samples.push(ns.saturating_sub(overhead_ns));
                }
            }
            if end >= deadline && self.round_samples.len() > first {
                break;
            }
        }
        let cpu_ns = thread_cpu_ns().saturating_sub(cpu_start);
        let samples = &mut self.round_samples[first..];
        let count = samples.len() as u64;
        samples.sort_unstable();
        let median_ns = if count % 2 == 1 {
            samples[samples.len() / 2] as f64
        } else {
            let upper = samples.len() / 2;
            (samples[upper - 1] + samples[upper]) as f64 / 2.0
        };
        self.round_cpu.0 += cpu_ns;
        self.round_cpu.1 += count;
        let stat = SliceStat {
            median_ns,
            cpu_ns: (cpu_ns as f64 / count as f64 - overhead_ns as f64).max(0.0),
            started_ms: started.duration_since(epoch).as_secs_f64() * 1e3,
        };
        self.first_slice.get_or_insert(stat);
        Some(stat)
    }

    /// Closes the round: appends one entry to [`Self::rounds`] if the cell ran in it (a paired
    /// cell only if its baseline ran next to it).
    fn finish_round(&mut self, round: u32, block: u32, canary: (f64, f64), overhead_ns: u64) {
        let (canary_ns, memory_canary_ns) = canary;
        let first = self.first_slice.take();
        let paired = self.paired.take();
        let (cpu_ns, count) = std::mem::take(&mut self.round_cpu);
        let Some(first) = first else {
            self.round_samples.clear();
            return;
        };
        if self.baseline.is_some() && paired.is_none() {
            self.round_samples.clear();
            return;
        }
        for &ns in &self.round_samples {
            self.histogram.saturating_record(ns.max(1));
        }
        let [p50, p90, p99, p999] = stats::round_percentiles(&mut self.round_samples);
        self.round_samples.clear();
        let r = &mut self.rounds;
        r.lifecycles.push(count);
        // A paired cell ran one slice this round: its round median is that slice's.
        r.p50_ns.push(if paired.is_some() {
            first.median_ns
        } else {
            p50
        });
        r.p90_ns.push(p90);
        r.p99_ns.push(p99);
        r.p999_ns.push(p999);
        let per_lifecycle = (cpu_ns as f64 / count.max(1) as f64 - overhead_ns as f64).max(0.0);
        r.cpu_ns.push(stats::round_to(per_lifecycle, 1));
        r.round.push(round);
        r.block.push(block);
        r.started_ms.push(stats::round_to(first.started_ms, 3));
        r.canary_ns.push(stats::round_to(canary_ns, 1));
        r.memory_canary_ns
            .push(stats::round_to(memory_canary_ns, 2));
        if let Some(paired) = paired {
            r.baseline_p50_ns.push(paired.median_ns);
            r.baseline_cpu_ns.push(stats::round_to(paired.cpu_ns, 1));
            r.baseline_started_ms
                .push(stats::round_to(paired.started_ms, 3));
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

/// Iterations of the canary loop: about 20-40 µs on a current x86 core.
const CANARY_ITERATIONS: u64 = 20_000;

/// Times a fixed, dependency-chained integer loop that touches no memory, ns: a reading of
/// the machine's speed state (it moves only when the CPU itself runs slower).
pub fn canary_ns() -> f64 {
    let start = Instant::now();
    let mut x = std::hint::black_box(0x9e37_79b9_7f4a_7c15u64);
    for i in 0..CANARY_ITERATIONS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(i);
    }
    std::hint::black_box(x);
    start.elapsed().as_nanos() as f64
}

/// Entries of the memory canary's chain: 8 Mi `u32`s, 32 MiB, more than the last-level cache
/// of the machines this runs on.
const MEMORY_CANARY_ENTRIES: usize = 8 << 20;

/// Dependent loads timed per memory canary reading.
const MEMORY_CANARY_LOADS: u32 = 2_048;

/// A second canary for the memory system: a chain of dependent loads through one random cycle
/// over a buffer larger than the last-level cache. The arithmetic canary does not move when a
/// neighbour thrashes the shared cache or the memory bus, but lifecycles do (a 2.2x slower
/// native noop was seen with an unchanged arithmetic canary); this one does.
pub struct MemoryCanary {
    next: Vec<u32>,
    position: std::cell::Cell<u32>,
}

impl MemoryCanary {
    /// Builds the chain (one random cycle through every entry: Sattolo's shuffle).
    pub fn new() -> Self {
        let mut next: Vec<u32> = (0..MEMORY_CANARY_ENTRIES as u32).collect();
        let mut rng = rand::rng();
        for i in (1..next.len()).rev() {
            let j = rng.random_range(0..i);
            next.swap(i, j);
        }
        Self {
            next,
            position: std::cell::Cell::new(0),
        }
    }

    /// Time of [`MEMORY_CANARY_LOADS`] dependent loads, ns per load.
    pub fn ns_per_load(&self) -> f64 {
        let mut at = self.position.get();
        let start = Instant::now();
        for _ in 0..MEMORY_CANARY_LOADS {
            at = self.next[at as usize];
        }
        let ns = start.elapsed().as_nanos() as f64;
        self.position.set(std::hint::black_box(at));
        ns / f64::from(MEMORY_CANARY_LOADS)
    }
}

impl Default for MemoryCanary {
    fn default() -> Self {
        Self::new()
    }
}

/// Warms up and measures every cell. Each round visits the paired cells in a fresh random
/// order; each runs one slice right next to one slice of its baseline, in a random A/B order.
/// Cells without a baseline that are no one's baseline run one slice alone. `progress(done,
/// total)` is called after each step.
pub fn measure(
    cells: &mut [TimedCell<'_>],
    settings: &MeasureSettings,
    overhead_ns: u64,
    progress: &mut dyn FnMut(u64, u64),
) {
    let is_baseline: Vec<bool> = (0..cells.len())
        .map(|i| cells.iter().any(|c| c.baseline == Some(i)))
        .collect();
    let steps: Vec<usize> = (0..cells.len()).filter(|&i| !is_baseline[i]).collect();
    let total = (cells.len() as u64) + steps.len() as u64 * settings.rounds as u64;
    let mut done = 0;
    progress(done, total);
    for cell in cells.iter_mut() {
        cell.warm_up(settings.warmup);
        done += 1;
        progress(done, total);
    }
    let memory_canary = MemoryCanary::new();
    let epoch = Instant::now();
    let mut order = steps.clone();
    let mut rng = rand::rng();
    let mut block = u32::MAX;
    // Every k-th round for cells whose pair takes much longer than two slices.
    let mut stride = vec![1u32; cells.len()];
    let mut phase = vec![0u32; cells.len()];
    let most_stride = (settings.rounds / (2 * settings.blocks.max(1))).max(1);
    for round in 0..settings.rounds {
        if settings.block_of(round) != block {
            block = settings.block_of(round);
            for cell in cells.iter_mut() {
                // Up to 16 KiB, in steps of 16 bytes (malloc's alignment).
                cell.renew(16 * rng.random_range(0..1024usize));
                cell.warm_up(settings.slice * 2);
            }
        }
        let canary = (canary_ns(), memory_canary.ns_per_load());
        order.shuffle(&mut rng);
        for &i in &order {
            if round % stride[i] != phase[i] {
                done += 1;
                progress(done, total);
                continue;
            }
            let pair_started = Instant::now();
            match cells[i].baseline {
                Some(b) if cells[b].instance.is_some() => {
                    let own = if rng.random::<bool>() {
                        let own = cells[i].run_slice(settings.slice, overhead_ns, epoch);
                        let base = cells[b].run_slice(settings.slice, overhead_ns, epoch);
                        own.zip(base)
                    } else {
                        let base = cells[b].run_slice(settings.slice, overhead_ns, epoch);
                        let own = cells[i].run_slice(settings.slice, overhead_ns, epoch);
                        own.zip(base)
                    };
                    cells[i].paired = own.map(|(_, base)| base);
                }
                _ => {
                    cells[i].run_slice(settings.slice, overhead_ns, epoch);
                }
            }
            if round == 0 {
                let pair = pair_started.elapsed().as_secs_f64();
                let budget = 4.0 * settings.slice.as_secs_f64();
                stride[i] = ((pair / budget).floor() as u32).clamp(1, most_stride);
                phase[i] = rng.random_range(0..stride[i]);
            }
            done += 1;
            progress(done, total);
        }
        for cell in cells.iter_mut() {
            cell.finish_round(round, block, canary, overhead_ns);
        }
    }
    for cell in cells.iter_mut() {
        cell.verify_path();
        cell.count_ticks();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_divides_the_rounds_between_processes() {
        let one = MeasureSettings::STANDARD.share(1);
        assert_eq!(one, MeasureSettings::STANDARD);
        let third = MeasureSettings::STANDARD.share(3);
        assert_eq!(third.rounds, MeasureSettings::STANDARD.rounds.div_ceil(3));
        assert!(third.rounds * 3 >= MeasureSettings::STANDARD.rounds);
        assert_eq!(third.blocks, 2);
        assert_eq!(third.slice, MeasureSettings::STANDARD.slice);
    }

    #[test]
    fn rounds_fall_into_equal_blocks() {
        let settings = MeasureSettings {
            rounds: 10,
            blocks: 4,
            ..MeasureSettings::QUICK
        };
        let blocks: Vec<u32> = (0..10).map(|r| settings.block_of(r)).collect();
        assert_eq!(blocks, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]);
        let one = MeasureSettings {
            rounds: 3,
            blocks: 9,
            ..MeasureSettings::QUICK
        };
        assert_eq!(
            (0..3).map(|r| one.block_of(r)).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn the_canaries_take_measurable_time() {
        let t = canary_ns();
        assert!(t > 0.0 && t.is_finite(), "{t}");
        let memory = MemoryCanary::new();
        // Every entry is on the one cycle: following it n times comes back to the start.
        let mut at = 0u32;
        for step in 1..=MEMORY_CANARY_ENTRIES {
            at = memory.next[at as usize];
            assert!(
                at != 0 || step == MEMORY_CANARY_ENTRIES,
                "short cycle at {step}"
            );
        }
        assert_eq!(at, 0);
        let ns = memory.ns_per_load();
        assert!(ns > 0.0 && ns.is_finite(), "{ns}");
    }
}
