//! Operating-system plumbing for measurement: which CPUs this process may use and pinning the
//! measuring thread to one of them (Linux `sched_getaffinity` / `sched_setaffinity`).

/// CPUs this process may run on (its affinity mask, e.g. a container's cpuset), ascending.
/// Empty when the kernel does not say.
pub fn allowed_cpus() -> Vec<u32> {
    // SAFETY: `set` is a plain bitmask owned here; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as u32)
            .filter(|&cpu| libc::CPU_ISSET(cpu as usize, &set))
            .collect()
    }
}

/// Restricts the calling thread to `cpu`. Async-signal-safe (usable between fork and exec).
pub fn set_affinity(cpu: u32) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET only writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
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
        // SAFETY: builds a set of the CPUs read in `last_allowed` and restores it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in &self.previous {
                libc::CPU_SET(cpu as usize, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
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
