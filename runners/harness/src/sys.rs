//! Operating-system plumbing for measurement: which CPUs this process may use and pinning the
//! measuring thread to one of them (Linux `sched_getaffinity` / `sched_setaffinity`, through nix).

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;

/// CPUs this process may run on (its affinity mask, e.g. a container's cpuset), ascending.
/// Empty when the kernel does not say.
pub fn allowed_cpus() -> Vec<u32> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .map(|cpu| cpu as u32)
        .collect()
}

/// Restricts the calling thread to `cpus`.
fn set_affinity_to(cpus: &[u32]) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu as usize).map_err(std::io::Error::from)?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)
}

/// Restricts the calling thread to `cpu`. Async-signal-safe (usable between fork and exec).
pub fn set_affinity(cpu: u32) -> std::io::Result<()> {
    set_affinity_to(&[cpu])
}

/// The measuring thread pinned to one CPU for as long as the guard lives; the previous mask is
/// restored on drop. Migrations between cores (and landing on the core that takes the
/// interrupts) showed up as whole rounds running at a different speed.
#[derive(Debug)]
pub struct CpuPin {
    /// The CPU the thread runs on.
    pub cpu: u32,
    previous: Vec<u32>,
}

impl CpuPin {
    /// Pins the calling thread to the last CPU of its affinity mask (CPU 0 usually takes the
    /// most interrupts; in a cpuset such as {4,5} that is CPU 5). The error says why not, so a
    /// run can report loudly that it ran unpinned.
    pub fn last_allowed() -> Result<Self, String> {
        let previous = allowed_cpus();
        let Some(&cpu) = previous.last() else {
            return Err("the kernel did not report this process's CPU affinity".to_owned());
        };
        set_affinity(cpu).map_err(|e| format!("sched_setaffinity to CPU {cpu} failed: {e}"))?;
        Ok(Self { cpu, previous })
    }
}

impl Drop for CpuPin {
    fn drop(&mut self) {
        // Restoring can only fail if the mask read in `last_allowed` became invalid; the thread
        // then stays pinned, which is harmless.
        let _ = set_affinity_to(&self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_to_the_last_allowed_cpu_and_restores_the_mask() {
        let before = allowed_cpus();
        assert!(!before.is_empty());
        {
            let pin = CpuPin::last_allowed().expect("pinning works here");
            assert_eq!(Some(&pin.cpu), before.last());
            assert_eq!(allowed_cpus(), vec![pin.cpu]);
        }
        assert_eq!(allowed_cpus(), before);
    }
}
