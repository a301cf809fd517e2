//! The last line of defence against a callback that never returns on an engine that cannot
//! preempt guest code (the preflight catches the ones that loop on every request; this catches
//! the ones that loop later, e.g. on the 1000th request). A thread watches the run's progress
//! events; when nothing has happened for the hang timeout, it writes the results so far plus
//! error cells for the filter that hung, says how to go on, and ends the process — the only way
//! to stop a thread stuck in JIT or native code. `--resume` then skips the hung filter.

use filterbench_harness::results::{self, Results};
use filterbench_harness::run::{self, Subject};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Exit status of a run the watchdog ended.
pub const HUNG_EXIT_STATUS: i32 = 3;

#[derive(Default)]
struct State {
    last: Option<Instant>,
    filter: String,
    doing: String,
    snapshot: Option<Results>,
    finished: bool,
    /// How many hang timeouts the current step may take: 1, or [`COMPILE_PATIENCE`] while a
    /// module compiles (no guest code runs then, and an optimising compiler can take minutes).
    patience: u32,
}

/// Hang timeouts a module's compilation may take.
pub const COMPILE_PATIENCE: u32 = 10;

/// A running watchdog; stops watching when dropped.
pub struct Watchdog {
    state: Arc<Mutex<State>>,
}

impl Watchdog {
    /// Starts watching: after `timeout` without [`Watchdog::progress`], the hung filter's cells
    /// (from `subjects`, on `engines`) are written to `out` with the snapshot, and the process
    /// exits with [`HUNG_EXIT_STATUS`].
    pub fn start(
        timeout: Duration,
        out: PathBuf,
        subjects: Vec<Subject>,
        engines: Vec<String>,
        workloads: Option<Vec<String>>,
    ) -> Self {
        let state = Arc::new(Mutex::new(State {
            last: Some(Instant::now()),
            patience: 1,
            ..State::default()
        }));
        let watched = state.clone();
        std::thread::Builder::new()
            .name("fb-watchdog".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(250).min(timeout));
                    let state = watched.lock().unwrap_or_else(|e| e.into_inner());
                    if state.finished {
                        return;
                    }
                    let allowed = timeout * state.patience.max(1);
                    if state.last.is_some_and(|t| t.elapsed() < allowed) {
                        continue;
                    }
                    give_up(&state, allowed, &out, &subjects, &engines, &workloads);
                }
            })
            .expect("a thread can be started");
        Self { state }
    }

    /// Records progress: `filter` is now doing `doing`.
    pub fn progress(&self, filter: &str, doing: &str) {
        self.step(filter, doing, 1);
    }

    /// Records progress: `filter`'s module is being compiled on `engine`, which may take
    /// [`COMPILE_PATIENCE`] hang timeouts.
    pub fn compiling(&self, filter: &str, engine: &str) {
        self.step(
            filter,
            &format!("compiling it on {engine}"),
            COMPILE_PATIENCE,
        );
    }

    fn step(&self, filter: &str, doing: &str, patience: u32) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last = Some(Instant::now());
        state.patience = patience;
        if state.filter != filter {
            state.filter = filter.to_owned();
        }
        if state.doing != doing {
            state.doing = doing.to_owned();
        }
    }

    /// Keeps the results so far (written out if the run hangs later).
    pub fn snapshot(&self, results: &Results) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last = Some(Instant::now());
        state.snapshot = Some(results.clone());
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finished = true;
    }
}

fn give_up(
    state: &State,
    timeout: Duration,
    out: &Path,
    subjects: &[Subject],
    engines: &[String],
    workloads: &Option<Vec<String>>,
) -> ! {
    let message = format!(
        "hung: no progress for {} s while {}; a callback that never returns on an engine that \
         cannot preempt it (run it on a metered configuration: +fuel, +epoch, +metering)",
        timeout.as_secs(),
        state.doing
    );
    let mut results = state.snapshot.clone();
    if let (Some(results), Some(subject)) = (
        results.as_mut(),
        subjects.iter().find(|s| s.filter.name == state.filter),
    ) {
        let names: Vec<&str> = engines.iter().map(String::as_str).collect();
        results.cells.retain(|c| c.filter != state.filter);
        results.cells.extend(run::abandoned_cells(
            subject, &names, workloads, "hung", &message,
        ));
        filterbench_harness::analysis::analyze(results);
        if let Err(e) = results::write_atomic(out, results) {
            eprintln!("error: cannot write results to {}: {e}", out.display());
        }
    }
    eprintln!(
        "\nerror: filter {} {message}. Its cells are recorded as errors in {}; \
         `filterbench run --resume {}` runs the remaining filters.",
        state.filter,
        out.display(),
        out.display()
    );
    std::process::exit(HUNG_EXIT_STATUS)
}
