//! One Envoy process: started from a generated bootstrap on its own CPU, ready when its admin
//! endpoint says `LIVE`, queried for statistics, stopped with SIGTERM (SIGKILL after a grace
//! period). Dropping an [`EnvoyProcess`] always stops it, and Envoy is told to die with its
//! parent, so no Envoy outlives a run.

use crate::cpu;
use crate::http;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why Envoy could not be started or queried.
#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    /// The process could not be spawned.
    #[error("cannot start Envoy ({program}): {source}")]
    Spawn {
        /// Program run.
        program: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Envoy exited during start-up (usually: it rejected the configuration).
    #[error("Envoy exited during start-up ({status}); its log ({log}) ends with:\n{tail}")]
    Exited {
        /// Exit status.
        status: String,
        /// Log file.
        log: String,
        /// Last lines of the log.
        tail: String,
    },
    /// Envoy did not become ready in time.
    #[error("Envoy was not ready after {waited:?}; its log ({log}) ends with:\n{tail}")]
    NotReady {
        /// Time waited.
        waited: Duration,
        /// Log file.
        log: String,
        /// Last lines of the log.
        tail: String,
    },
    /// The admin endpoint answered something unexpected.
    #[error("Envoy admin {path}: {detail}")]
    Admin {
        /// Admin path queried.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
}

/// How long Envoy may take to become ready (a V8 filter compiles its module first).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A program Envoy runs under (a profiler such as valgrind), with its arguments, and how long
/// Envoy may take to become ready under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapper {
    /// The program, e.g. `valgrind`.
    pub program: PathBuf,
    /// Its arguments, before Envoy's command line.
    pub args: Vec<String>,
    /// Start to ready may take this long.
    pub ready_timeout: Duration,
}

/// A running Envoy.
pub struct EnvoyProcess {
    child: Child,
    admin: SocketAddr,
    listeners: Vec<(String, SocketAddr)>,
    ready_ms: f64,
    log: PathBuf,
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    if tail.is_empty() {
        "(empty)".to_owned()
    } else {
        tail
    }
}

impl EnvoyProcess {
    /// Writes `bootstrap` to `dir/envoy.json` and starts `envoy` on it with one worker thread,
    /// pinned to `cpu`, logging at `warn` to `dir/envoy.log`; returns once `/ready` says `LIVE`.
    pub fn start(
        envoy: &Path,
        bootstrap: &Value,
        dir: &Path,
        cpu: Option<u32>,
    ) -> Result<Self, EnvoyError> {
        Self::start_wrapped(envoy, bootstrap, dir, cpu, None, 1, None)
    }

    /// [`Self::start`] with Envoy's `wasm` log component at `wasm_log_level` (`info`, `debug`,
    /// …) from the start, when given: a module's log from its first callbacks (configure, the
    /// answers to calls it makes then) is kept.
    pub fn start_logging(
        envoy: &Path,
        bootstrap: &Value,
        dir: &Path,
        cpu: Option<u32>,
        wasm_log_level: Option<&str>,
    ) -> Result<Self, EnvoyError> {
        Self::start_wrapped(envoy, bootstrap, dir, cpu, None, 1, wasm_log_level)
    }

    /// [`Self::start_logging`] with `concurrency` worker threads, and with Envoy run under
    /// `wrapper` when given (the process id is then the wrapper's, which for valgrind is Envoy's
    /// own).
    pub fn start_wrapped(
        envoy: &Path,
        bootstrap: &Value,
        dir: &Path,
        cpu: Option<u32>,
        wrapper: Option<&Wrapper>,
        concurrency: u32,
        wasm_log_level: Option<&str>,
    ) -> Result<Self, EnvoyError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| EnvoyError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let config = dir.join("envoy.json");
        let log = dir.join("envoy.log");
        let admin_file = dir.join("admin-address");
        let _ = std::fs::remove_file(&admin_file);
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(bootstrap).unwrap_or_default(),
        )
        .map_err(io(&config))?;
        let mut command = match wrapper {
            Some(w) => {
                let mut command = Command::new(&w.program);
                command.args(&w.args).arg(envoy);
                command
            }
            None => Command::new(envoy),
        };
        command
            .arg("-c")
            .arg(&config)
            .arg("--concurrency")
            .arg(concurrency.max(1).to_string())
            .args(["--disable-hot-restart", "-l", "warn"])
            .args(
                // A module's log is checked: written out within 100 ms (Envoy's default
                // flush interval is 10 s).
                wasm_log_level
                    .map(|level| {
                        [
                            "--component-log-level".to_owned(),
                            format!("wasm:{level}"),
                            "--file-flush-interval-msec".to_owned(),
                            "100".to_owned(),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .arg("--log-path")
            .arg(&log)
            .arg("--admin-address-path")
            .arg(&admin_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // What Envoy (or a module it loads) prints before its log is open lands in the log.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        cpu::pin_command(&mut command, cpu);
        die_with_parent(&mut command);
        let started = Instant::now();
        let child = command.spawn().map_err(|source| EnvoyError::Spawn {
            program: command.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        let mut process = Self {
            child,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listeners: Vec::new(),
            ready_ms: 0.0,
            log,
        };
        let timeout = wrapper.map_or(READY_TIMEOUT, |w| w.ready_timeout);
        process.wait_ready(&admin_file, started, timeout)?;
        process.listeners = process.listener_addresses()?;
        Ok(process)
    }

    fn wait_ready(
        &mut self,
        admin_file: &Path,
        started: Instant,
        timeout: Duration,
    ) -> Result<(), EnvoyError> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(EnvoyError::Exited {
                    status: status.to_string(),
                    log: self.log.display().to_string(),
                    tail: tail(&self.log, 12),
                });
            }
            if started.elapsed() > timeout {
                return Err(EnvoyError::NotReady {
                    waited: timeout,
                    log: self.log.display().to_string(),
                    tail: tail(&self.log, 12),
                });
            }
            if self.admin.port() == 0
                && let Ok(text) = std::fs::read_to_string(admin_file)
                && let Ok(addr) = text.trim().parse::<SocketAddr>()
            {
                self.admin = addr;
            }
            if self.admin.port() != 0
                && let Ok(r) = http::get(self.admin, "/ready")
                && r.status == 200
                && r.text().trim() == "LIVE"
            {
                self.ready_ms = started.elapsed().as_secs_f64() * 1e3;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn admin_json(&self, path: &str) -> Result<Value, EnvoyError> {
        let err = |detail: String| EnvoyError::Admin {
            path: path.to_owned(),
            detail,
        };
        let r = http::get(self.admin, path).map_err(|e| err(e.to_string()))?;
        if r.status != 200 {
            return Err(err(format!("status {}: {}", r.status, r.text())));
        }
        serde_json::from_slice(&r.body).map_err(|e| err(e.to_string()))
    }

    fn listener_addresses(&self) -> Result<Vec<(String, SocketAddr)>, EnvoyError> {
        let path = "/listeners?format=json";
        let v = self.admin_json(path)?;
        let listeners: Vec<(String, SocketAddr)> = v["listener_statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| {
                let port = l["local_address"]["socket_address"]["port_value"]
                    .as_u64()
                    .filter(|p| *p > 0 && *p <= u16::MAX as u64)?;
                Some((
                    l["name"].as_str().unwrap_or_default().to_owned(),
                    SocketAddr::from(([127, 0, 0, 1], port as u16)),
                ))
            })
            .collect();
        if listeners.is_empty() {
            return Err(EnvoyError::Admin {
                path: path.to_owned(),
                detail: format!("no listener port in {v}"),
            });
        }
        Ok(listeners)
    }

    /// Counters and gauges whose name matches the RE2 `filter` (e.g. `^wasm\.`).
    pub fn stats(&self, filter: &str) -> Result<BTreeMap<String, u64>, EnvoyError> {
        let v = self.admin_json(&format!("/stats?format=json&filter={}", url_escape(filter)))?;
        Ok(v["stats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["value"].as_u64()?)))
            .collect())
    }

    /// Requests Envoy's HTTP listener has completed so far.
    pub fn completed_requests(&self) -> Result<u64, EnvoyError> {
        Ok(self
            .stats("^http\\.ingress\\.downstream_rq_completed$")?
            .values()
            .sum())
    }

    /// Envoy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Address of the (first) HTTP listener.
    pub fn listener(&self) -> SocketAddr {
        self.listeners[0].1
    }

    /// Address of the listener named `name`, if there is one.
    pub fn listener_named(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, addr)| *addr)
    }

    /// Start to ready, milliseconds.
    pub fn ready_ms(&self) -> f64 {
        self.ready_ms
    }

    /// Log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// SIGTERM, then SIGKILL if Envoy has not exited after 5 s.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Makes the child get SIGTERM when this process dies (Linux `PR_SET_PDEATHSIG`).
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; called between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
