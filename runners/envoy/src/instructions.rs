//! Instructions per request through Envoy, counted under valgrind's callgrind.
//!
//! On a shared machine Envoy's CPU time per request moves with the neighbours (identical
//! no-filter runs ranged 38.7–76.1 µs per request within one report); the instructions it
//! executes do not. Each (filter, variant) gets its own Envoy, started under
//! `valgrind --tool=callgrind --smc-check=all` (JIT code needs the check) with one worker, checked
//! for conformance, warmed up, and then, per burst: the counters are zeroed
//! (`callgrind_control -z`), a fixed number of requests is sent on one keep-alive connection
//! (oha `-n`), the counters are dumped (`callgrind_control -d`), and the same is done over an
//! equal idle interval, so what Envoy executes while idle (timers, stats flushes) is measured
//! and subtracted pro rata. Requests are counted by Envoy itself (its
//! `downstream_rq_completed`), read outside the counted window. Every count is taken twice or
//! more, so its determinism is on record.
//!
//! The dump also says where the instructions ran, per object: the dynamic module's shared
//! library is the native filter's own code; code callgrind cannot tie to a file is JIT code
//! (V8's compiled Wasm, LuaJIT's traces) — but in the PyPI Envoy build about 15% of Envoy's own
//! code shows up the same way, so a JIT share is counted beyond the baseline's. Code compiled
//! into Envoy (built-in filters, V8's runtime) is not told apart.

use crate::conformance;
use crate::load;
use crate::process::{EnvoyProcess, Wrapper};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How much to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountSettings {
    /// Requests sent before counting (V8 tiers up, caches fill).
    pub warmup_requests: u64,
    /// Requests per counted burst.
    pub requests: u64,
    /// Counted bursts per variant (at least 2: the spread shows the determinism).
    pub bursts: u32,
}

impl CountSettings {
    /// The default: 500 warm-up requests, 3 bursts of 2,000.
    pub const STANDARD: Self = Self {
        warmup_requests: 500,
        requests: 2_000,
        bursts: 3,
    };
    /// `--quick`: 200 warm-up requests, 2 bursts of 500.
    pub const QUICK: Self = Self {
        warmup_requests: 200,
        requests: 500,
        bursts: 2,
    };
}

/// Longest Envoy may take to become ready under valgrind (V8 compiles the module first).
const READY_UNDER_VALGRIND: Duration = Duration::from_secs(180);
/// Longest one burst may take under valgrind.
const BURST_LIMIT: Duration = Duration::from_secs(300);

/// One counted interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counted {
    /// Instructions in the interval.
    pub total: u64,
    /// Instructions per object (the shared object or `???` for anonymous code), in the interval.
    pub by_object: BTreeMap<String, u64>,
    /// Wall time from zeroing the counters to dumping them.
    pub window: Duration,
}

/// Envoy running under callgrind.
pub struct CountedEnvoy {
    envoy: EnvoyProcess,
    dumps: PathBuf,
}

/// Why counting failed.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// valgrind or callgrind_control is missing.
    #[error(
        "--measure instructions needs valgrind (with callgrind_control): install it with `apt-get install valgrind`"
    )]
    NoValgrind,
    /// Envoy did not start under valgrind.
    #[error("Envoy under valgrind: {0}")]
    Start(String),
    /// callgrind_control failed.
    #[error("callgrind_control {action} failed: {detail}")]
    Control {
        /// `-z` or `-d`.
        action: &'static str,
        /// What it printed.
        detail: String,
    },
    /// The dump could not be read.
    #[error("callgrind dump: {0}")]
    Dump(String),
}

/// Whether valgrind and callgrind_control can be run.
pub fn valgrind_available() -> bool {
    let works = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    works("valgrind", "--version") && works("callgrind_control", "--version")
}

impl CountedEnvoy {
    /// Starts Envoy on `bootstrap` with `concurrency` workers under callgrind, in `dir`
    /// (config, log, dumps), pinned to `cpu`, its `wasm` log at `wasm_log_level` when given.
    pub fn start(
        envoy: &Path,
        bootstrap: &serde_json::Value,
        dir: &Path,
        cpu: Option<u32>,
        concurrency: u32,
        wasm_log_level: Option<&str>,
    ) -> Result<Self, CountError> {
        if !valgrind_available() {
            return Err(CountError::NoValgrind);
        }
        let dumps = dir.join("callgrind.out");
        let wrapper = Wrapper {
            program: PathBuf::from("valgrind"),
            args: vec![
                "--tool=callgrind".to_owned(),
                "--smc-check=all".to_owned(),
                // Counting starts at the first zeroing; nothing before it is kept.
                format!("--callgrind-out-file={}", dumps.display()),
            ],
            ready_timeout: READY_UNDER_VALGRIND,
        };
        let envoy = EnvoyProcess::start_wrapped(
            envoy,
            bootstrap,
            dir,
            cpu,
            Some(&wrapper),
            concurrency,
            wasm_log_level,
        )
        .map_err(|e| CountError::Start(e.to_string()))?;
        Ok(Self { envoy, dumps })
    }

    /// The Envoy process.
    pub fn envoy(&self) -> &EnvoyProcess {
        &self.envoy
    }

    fn control(&self, action: &'static str) -> Result<(), CountError> {
        let output = Command::new("callgrind_control")
            .arg(action)
            .arg(self.envoy.pid().to_string())
            .output()
            .map_err(|e| CountError::Control {
                action,
                detail: e.to_string(),
            })?;
        if !output.status.success() {
            return Err(CountError::Control {
                action,
                detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(())
    }

    /// Zeroes the counters, runs `work`, dumps the counters and reads the dump. The counted
    /// window (zeroing to dump, wall time) is in [`Counted::window`].
    pub fn count<T>(&self, work: impl FnOnce() -> T) -> Result<(T, Counted), CountError> {
        let before = self.dump_files();
        let started = Instant::now();
        self.control("-z")?;
        let out = work();
        self.control("-d")?;
        let window = started.elapsed();
        let dump = self
            .dump_files()
            .into_iter()
            .find(|f| !before.contains(f))
            .ok_or_else(|| CountError::Dump("callgrind_control -d wrote no file".to_owned()))?;
        let text = std::fs::read_to_string(&dump)
            .map_err(|e| CountError::Dump(format!("{}: {e}", dump.display())))?;
        let _ = std::fs::remove_file(&dump);
        let mut counted = parse_dump(&text)
            .ok_or_else(|| CountError::Dump(format!("no totals in {}", dump.display())))?;
        counted.window = window;
        Ok((out, counted))
    }

    /// The numbered dumps (`callgrind.out.N`) present now.
    fn dump_files(&self) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (self.dumps.parent(), self.dumps.file_name()) else {
            return Vec::new();
        };
        let prefix = format!("{}.", name.to_string_lossy());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect()
    }

    /// Stops Envoy.
    pub fn stop(self) {
        self.envoy.stop();
    }
}

/// One burst: instructions per request with the idle rate subtracted.
#[derive(Clone, Debug, PartialEq)]
pub struct Burst {
    /// Instructions per request.
    pub per_request: f64,
    /// Requests Envoy completed.
    pub requests: u64,
    /// Instructions per second while idle.
    pub idle_per_second: f64,
    /// Instructions of the burst per object (idle not subtracted).
    pub by_object: BTreeMap<String, u64>,
    /// Instructions of the burst (idle not subtracted).
    pub total: u64,
}

/// What a burst sends.
pub enum BurstLoad<'a> {
    /// HTTP requests on one keep-alive connection, sent by oha (`-n`); counted by Envoy.
    Oha {
        /// oha.
        program: &'a Path,
        /// The request.
        request: &'a load::LoadRequest,
    },
    /// TCP connections (a network filter), one after another, each exchanging these bytes;
    /// counted by the client (a connection counts when it brought back the first one's bytes).
    Tcp(&'a filterbench_host::TcpExchange),
}

/// Sends `settings.warmup_requests`, then counts `settings.bursts` bursts.
pub fn count_bursts(
    envoy: &CountedEnvoy,
    load: &BurstLoad,
    settings: &CountSettings,
    cpu: Option<u32>,
) -> Result<Vec<Burst>, String> {
    let target = envoy.envoy().listener();
    // Sends `n` units; returns how many completed as expected, as the client saw it.
    let send = |n: u64| -> Result<u64, String> {
        match load {
            BurstLoad::Oha { program, request } => {
                let sent = load::oha_count(program, target, request, n, BURST_LIMIT, cpu)
                    .map_err(|e| e.to_string())?;
                if sent.non_2xx > 0 || sent.errors > 0 {
                    return Err(format!(
                        "burst of {n} requests: {} non-2xx, {} errors",
                        sent.non_2xx, sent.errors
                    ));
                }
                Ok(sent.requests)
            }
            BurstLoad::Tcp(exchange) => std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        crate::cpu::pin_thread(cpu);
                        let mut paced = crate::tcp::PacedTcp::open(target, exchange)
                            .map_err(|e| format!("first connection: {e}"))?;
                        let run = paced
                            .run(f64::MAX, n)
                            .map_err(|e| format!("burst of {n} connections: {e}"))?;
                        if run.non_2xx > 0 {
                            return Err(format!(
                                "burst of {n} connections: {} brought back other bytes than the first",
                                run.non_2xx
                            ));
                        }
                        Ok(run.requests)
                    })
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        }
    };
    send(settings.warmup_requests).map_err(|e| format!("warm-up: {e}"))?;
    let mut bursts = Vec::new();
    // HTTP requests are counted by Envoy, read outside the counted window.
    let completed = || -> Result<u64, String> {
        match load {
            BurstLoad::Oha { .. } => envoy
                .envoy()
                .completed_requests()
                .map_err(|e| e.to_string()),
            BurstLoad::Tcp(_) => Ok(0),
        }
    };
    for _ in 0..settings.bursts.max(2) {
        let done_before = completed()?;
        let (sent, busy) = envoy
            .count(|| send(settings.requests))
            .map_err(|e| e.to_string())?;
        let sent = sent?;
        let requests = match load {
            BurstLoad::Oha { .. } => completed()?.saturating_sub(done_before),
            BurstLoad::Tcp(_) => sent,
        };
        if requests == 0 {
            return Err(format!(
                "burst of {}: Envoy completed none",
                settings.requests
            ));
        }
        // An idle interval about as long as the burst's; its rate comes from its own window.
        let ((), idle) = envoy
            .count(|| std::thread::sleep(busy.window))
            .map_err(|e| e.to_string())?;
        let idle_per_second = idle.total as f64 / idle.window.as_secs_f64().max(1e-3);
        let busy_net = busy.total as f64 - idle_per_second * busy.window.as_secs_f64();
        bursts.push(Burst {
            per_request: busy_net / requests as f64,
            requests,
            idle_per_second,
            by_object: busy.by_object,
            total: busy.total,
        });
    }
    Ok(bursts)
}

/// Instructions per request, over all `bursts`, in objects `is_counted` accepts (idle
/// instructions in them not subtracted: they are a few per mille of a burst).
pub fn per_request_in(bursts: &[Burst], is_counted: &dyn Fn(&str) -> bool) -> Option<f64> {
    let requests: u64 = bursts.iter().map(|b| b.requests).sum();
    let counted: u64 = bursts
        .iter()
        .flat_map(|b| b.by_object.iter())
        .filter(|(object, _)| is_counted(object))
        .map(|(_, n)| n)
        .sum();
    (requests > 0).then(|| counted as f64 / requests as f64)
}

/// Whether `object` (a callgrind object name) is code callgrind cannot tie to a file: JIT code
/// (and, in some Envoy builds, part of Envoy's own code).
pub fn is_anonymous_code(object: &str) -> bool {
    object == "???"
}

/// Reads a callgrind dump: its total and the self cost per object. Cost lines after a
/// `calls=` line are a call's inclusive cost and are not added again.
pub fn parse_dump(text: &str) -> Option<Counted> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    // `ob=(3) /lib/x.so` defines id 3; a later `ob=(3)` refers to it.
    let mut name_of = |spec: &str| -> String {
        let spec = spec.trim();
        match spec.strip_prefix('(').and_then(|r| r.split_once(')')) {
            Some((id, rest)) => {
                let rest = rest.trim();
                if rest.is_empty() {
                    names.get(id).cloned().unwrap_or_default()
                } else {
                    names.insert(id.to_owned(), rest.to_owned());
                    rest.to_owned()
                }
            }
            None => spec.to_owned(),
        }
    };
    let mut by_object: BTreeMap<String, u64> = BTreeMap::new();
    let mut object = String::new();
    let mut call_cost_next = false;
    let mut total = None;
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("ob=") {
            object = name_of(spec);
        } else if let Some(spec) = line.strip_prefix("cob=") {
            name_of(spec);
        } else if line.starts_with("calls=") {
            call_cost_next = true;
        } else if let Some(rest) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            total = rest.split_whitespace().next().and_then(|v| v.parse().ok());
        } else if line
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '+' || c == '-' || c == '*')
        {
            if std::mem::take(&mut call_cost_next) {
                continue;
            }
            if let Some(cost) = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
            {
                *by_object.entry(object.clone()).or_default() += cost;
            }
        }
    }
    Some(Counted {
        total: total?,
        by_object,
        window: Duration::ZERO,
    })
}

/// The request a filter's counted bursts send (its first workload), checked through Envoy.
pub fn checked_request(
    filter: &filterbench_harness::catalog::FilterSpec,
    probe: &conformance::Probe,
) -> Result<load::LoadRequest, String> {
    conformance::check(filter, probe).map_err(|e| format!("not conformant through Envoy: {e}"))?;
    conformance::load_request(filter)
        .ok_or_else(|| format!("filter {} has no workload to send", filter.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "\
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=(1) /usr/bin/envoy
fl=(1) ???
fn=(1) main
0 600
cob=(2) ???
cfn=(2) jit
calls=1 0
0 300
ob=(2)
fl=(1)
fn=(2)
0 300
ob=(3) /tmp/libfilterbench_noop_bridge.so
fn=(3) on_request
+2 100

totals: 1000
";

    #[test]
    fn dumps_give_the_total_and_self_cost_per_object() {
        let counted = parse_dump(DUMP).unwrap();
        assert_eq!(counted.total, 1000);
        assert_eq!(
            counted.by_object["/usr/bin/envoy"], 600,
            "call cost not added"
        );
        assert_eq!(counted.by_object["???"], 300);
        assert_eq!(counted.by_object["/tmp/libfilterbench_noop_bridge.so"], 100);
        assert_eq!(counted.by_object.values().sum::<u64>(), counted.total);
        assert!(parse_dump("events: Ir\n").is_none());
    }

    #[test]
    fn per_request_counts_add_every_burst() {
        let burst = |jit: u64, rest: u64, requests: u64| Burst {
            per_request: 0.0,
            requests,
            idle_per_second: 0.0,
            by_object: [("???".to_owned(), jit), ("envoy".to_owned(), rest)].into(),
            total: jit + rest,
        };
        let jit = per_request_in(&[burst(10, 90, 1), burst(30, 70, 3)], &is_anonymous_code);
        assert_eq!(jit, Some(10.0));
        assert_eq!(per_request_in(&[], &is_anonymous_code), None);
    }
}
