//! The environment fingerprint stored with every run.

use crate::paths;
use filterbench_host::EngineInfo;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::process::Command;

/// Where and with what a run was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// CPU model name.
    pub cpu_model: String,
    /// CPU architecture (`x86_64`, `aarch64`); empty in files written before schema 6.
    #[serde(default)]
    pub arch: String,
    /// Logical CPUs.
    pub cores: usize,
    /// Operating system (os-release PRETTY_NAME).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// rustc version used for native filters and the runners.
    pub rustc: String,
    /// Engine name → version.
    pub engines: BTreeMap<String, String>,
    /// Git commit of the checkout, if known.
    pub git_commit: Option<String>,
    /// Whether the checkout had uncommitted changes (in a merged file: whether any of the
    /// merged files had, or they came from different commits).
    pub git_dirty: Option<bool>,
    /// Start of the run, RFC 3339 UTC.
    pub started_at: String,
    /// Cost of one clock read pair, ns (subtracted from every sample).
    pub timer_overhead_ns: u64,
    /// Kernel clock source (e.g. `tsc`).
    pub clocksource: String,
    /// CPU frequency governor of cpu0 (e.g. `performance`); null when the kernel exposes none
    /// (common in virtual machines).
    #[serde(default)]
    pub governor: Option<String>,
    /// Versions of the proxy and load tools on PATH (`envoy`, `wrk`, `oha`): tool → first line
    /// of its version output; tools that are not installed are absent.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// `GLIBC_TUNABLES` of the run (the CLI turns glibc's `rep movsb` memcpy off); null when unset.
    #[serde(default)]
    pub glibc_tunables: Option<String>,
}

/// The environment variable that names the commit when the run has no git checkout (the
/// container image sets it at build time).
pub const COMMIT_VARIABLE: &str = "FILTERBENCH_GIT_COMMIT";

/// The machine type a run was made on, as reports keep runs apart: architecture and CPU model
/// (`x86_64 · AMD EPYC 7B13`). Runs of different machine types are never pooled.
pub fn machine_type(environment: &Environment) -> String {
    if environment.arch.is_empty() {
        environment.cpu_model.clone()
    } else {
        format!("{} · {}", environment.arch, environment.cpu_model)
    }
}

/// First line of a tool's version output, if the tool is on PATH.
fn tool_version(program: &str, flag: &str) -> Option<String> {
    let out = Command::new(program).arg(flag).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(paths::repo_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned())
}

/// Collects the fingerprint for a run with these engines.
pub fn fingerprint(engines: &[EngineInfo], timer_overhead_ns: u64) -> Environment {
    Environment {
        cpu_model: cpu_model(),
        arch: std::env::consts::ARCH.to_owned(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os: os_name(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".to_owned()),
        rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
        engines: engines
            .iter()
            .map(|e| (e.name.clone(), e.version.clone()))
            .collect(),
        // A container image holds no checkout: its build records the commit in the variable.
        git_commit: command_line("git", &["rev-parse", "HEAD"]).or_else(|| {
            std::env::var(COMMIT_VARIABLE)
                .ok()
                .filter(|c| !c.is_empty())
        }),
        git_dirty: command_line("git", &["status", "--porcelain"]).map(|s| !s.is_empty()),
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        timer_overhead_ns,
        clocksource: read_trimmed(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .unwrap_or_else(|| "unknown".to_owned()),
        glibc_tunables: std::env::var("GLIBC_TUNABLES").ok(),
        governor: read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        tools: [("envoy", "--version"), ("wrk", "-v"), ("oha", "--version")]
            .into_iter()
            .filter_map(|(tool, flag)| Some((tool.to_owned(), tool_version(tool, flag)?)))
            .collect(),
    }
}
