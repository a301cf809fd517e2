//! CPU placement and Envoy's resource use read from `/proc`: Envoy gets one CPU, the load
//! generators (and the upstream) another, so they do not take time from each other.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Which CPUs Envoy and the load side run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// CPU for Envoy (`None`: not pinned).
    pub envoy: Option<u32>,
    /// CPU for the load generators and the upstream (`None`: not pinned).
    pub load: Option<u32>,
}

impl Placement {
    /// Envoy on the first CPU this process may use, the load on the second; unpinned when
    /// fewer than two are available.
    pub fn detect() -> Self {
        let cpus = allowed_cpus();
        match cpus.as_slice() {
            [envoy, load, ..] => Self {
                envoy: Some(*envoy),
                load: Some(*load),
            },
            _ => Self {
                envoy: None,
                load: None,
            },
        }
    }
}

pub use filterbench_harness::sys::allowed_cpus;
use filterbench_harness::sys::set_affinity as pin_current;

/// Pins the calling thread to `cpu` (no-op for `None`); failures are ignored (the run records
/// the intended placement, and an unpinned run is still a valid run).
pub fn pin_thread(cpu: Option<u32>) {
    if let Some(cpu) = cpu {
        let _ = pin_current(cpu);
    }
}

/// Makes `command` start pinned to `cpu` (no-op for `None`).
pub fn pin_command(command: &mut Command, cpu: Option<u32>) {
    if let Some(cpu) = cpu {
        // SAFETY: the closure only calls async-signal-safe sched_setaffinity between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let _ = pin_current(cpu);
                Ok(())
            });
        }
    }
}

/// CPU time (user + system, all threads) of process `pid`, microseconds.
pub fn process_cpu_us(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| std::io::Error::other("unexpected /proc/PID/stat format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ticks = |i: usize| -> std::io::Result<f64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| std::io::Error::other("missing utime/stime in /proc/PID/stat"))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((ticks(14)? + ticks(15)?) / hz * 1e6)
}

/// On-CPU time of thread `tid` of process `pid` so far, nanoseconds: the scheduler's own
/// count (`/proc/PID/task/TID/schedstat`, first field), not the 10 ms ticks of `/proc/PID/stat`.
pub fn thread_cpu_ns(pid: u32, tid: u32) -> std::io::Result<u64> {
    let path = format!("/proc/{pid}/task/{tid}/schedstat");
    let text = std::fs::read_to_string(&path)?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected {path}: {text:?}")))
}

/// On-CPU time of every thread process `pid` has now, summed, nanoseconds (threads that have
/// exited are not counted).
pub fn process_cpu_ns(pid: u32) -> std::io::Result<u64> {
    let mut total = 0;
    for tid in thread_ids(pid)? {
        // A thread may exit between listing and reading.
        total += thread_cpu_ns(pid, tid).unwrap_or(0);
    }
    Ok(total)
}

/// Ids of the threads of process `pid`.
pub fn thread_ids(pid: u32) -> std::io::Result<Vec<u32>> {
    let mut ids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Ids of the threads of process `pid` whose name (`comm`) is `name`.
pub fn threads_named(pid: u32, name: &str) -> std::io::Result<Vec<u32>> {
    Ok(thread_ids(pid)?
        .into_iter()
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect())
}

/// Resident set (`VmRSS`) and its peak (`VmHWM`) of process `pid`, bytes.
pub fn process_rss(pid: u32) -> std::io::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|k| k * 1024)
            .ok_or_else(|| std::io::Error::other(format!("no {key} in /proc/{pid}/status")))
    };
    Ok((kib("VmRSS:")?, kib("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time_and_memory() {
        let pid = std::process::id();
        let before = process_cpu_us(pid).unwrap();
        // /proc counts CPU time in clock ticks (10 ms): work until the count moves, however
        // fast this machine is, but give up after 10 s of wall time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 0u64;
        let mut after = before;
        while after <= before && std::time::Instant::now() < deadline {
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
            after = process_cpu_us(pid).unwrap();
        }
        assert!(
            after > before,
            "no CPU time counted in 10 s: {before} -> {after}"
        );
        let (rss, peak) = process_rss(pid).unwrap();
        assert!(rss > 1 << 20 && peak >= rss, "{rss} {peak}");
    }

    #[test]
    fn thread_cpu_is_counted_in_nanoseconds() {
        let pid = std::process::id();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u32;
        let before = thread_cpu_ns(pid, tid).unwrap();
        // Work until this thread's count moves, however busy the machine, but give up after
        // 10 s of wall time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut x = 0u64;
        let mut after = before;
        while after <= before && std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
            after = thread_cpu_ns(pid, tid).unwrap();
        }
        assert!(
            after > before,
            "no CPU time counted in 10 s: {before} -> {after}"
        );
        assert!(process_cpu_ns(pid).unwrap() >= after);
        assert!(thread_ids(pid).unwrap().contains(&tid));
        let name = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap();
        assert!(threads_named(pid, name.trim_end()).unwrap().contains(&tid));
    }
}
