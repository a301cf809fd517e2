//! The load generators: `wrk` (closed loop, maximum throughput) and `oha` (open loop at a fixed
//! rate, latency measured from each request's scheduled send time, so a stalled server cannot
//! hide its queueing delay — coordinated-omission correction). Both run pinned to the load
//! CPU, only against 127.0.0.1, and are killed if they overrun their time by 15 s.

use crate::cpu;
use crate::process::die_with_parent;
use filterbench_harness::envoy::{LoadResult, Percentile};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The request the load generators send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRequest {
    /// Request target (path and query).
    pub path: String,
    /// Headers besides `host` (`name`, `value`).
    pub headers: Vec<(String, String)>,
    /// Value of the `host` header.
    pub authority: String,
}

/// How to generate load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    /// Length of the run.
    pub duration: Duration,
    /// Concurrent connections.
    pub connections: u32,
    /// CPU to run on.
    pub cpu: Option<u32>,
}

/// A load generator that failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be started.
    #[error("cannot run {tool} ({program}): {source}")]
    Spawn {
        /// Tool name.
        tool: &'static str,
        /// Program.
        program: String,
        /// OS error.
        source: std::io::Error,
    },
    /// It ran over its time and was killed.
    #[error("{tool} did not finish within {limit:?} and was killed")]
    Overrun {
        /// Tool name.
        tool: &'static str,
        /// Limit.
        limit: Duration,
    },
    /// Its output could not be understood.
    #[error("{tool} exited with {status} and printed no result: {output}")]
    NoResult {
        /// Tool name.
        tool: &'static str,
        /// Exit status.
        status: String,
        /// What it printed (last lines).
        output: String,
    },
}

/// wrk takes whole seconds only: the duration rounded up, at least 1.
pub fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil().max(1.0) as u64
}

/// Only loopback may receive load.
fn url(target: SocketAddr, path: &str) -> String {
    assert!(
        target.ip().is_loopback(),
        "load is only ever sent to 127.0.0.1"
    );
    format!("http://{target}{path}")
}

fn header_args(request: &LoadRequest) -> Vec<String> {
    let mut args = vec!["-H".to_owned(), format!("host: {}", request.authority)];
    for (k, v) in &request.headers {
        args.push("-H".to_owned());
        args.push(format!("{k}: {v}"));
    }
    args
}

/// Runs `command` to completion within `limit`, returning (status, stdout, stderr).
fn run_bounded(
    tool: &'static str,
    mut command: Command,
    limit: Duration,
    cpu: Option<u32>,
) -> Result<(std::process::ExitStatus, String, String), LoadError> {
    cpu::pin_command(&mut command, cpu);
    die_with_parent(&mut command);
    let program = command.get_program().to_string_lossy().into_owned();
    let dir = tempfile::tempdir().map_err(|source| LoadError::Spawn {
        tool,
        program: program.clone(),
        source,
    })?;
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let file = |p: &Path| std::fs::File::create(p);
    let spawn_err = |source| LoadError::Spawn {
        tool,
        program: program.clone(),
        source,
    };
    command
        .stdin(Stdio::null())
        .stdout(file(&out_path).map_err(spawn_err)?)
        .stderr(file(&err_path).map_err(spawn_err)?);
    let mut child = command.spawn().map_err(spawn_err)?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LoadError::Overrun { tool, limit });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Ok((status, read(&out_path), read(&err_path)))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// `count` over `seconds` (0 for an empty run).
fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// wrk's `done()` hook prints one line of JSON after this marker.
const WRK_MARKER: &str = "FILTERBENCH-RESULT ";

const WRK_SCRIPT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'FILTERBENCH-RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99.9":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// What the `done()` hook of [`WRK_SCRIPT`] prints: counts, and latency percentiles in µs.
#[derive(Deserialize)]
struct WrkDone {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
    p50: u64,
    p75: u64,
    p90: u64,
    p99: u64,
    #[serde(rename = "p99.9")]
    p99_9: u64,
}

/// Parses the line wrk's `done()` hook printed.
pub fn parse_wrk(stdout: &str) -> Option<LoadResult> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(WRK_MARKER))?;
    let done: WrkDone = serde_json::from_str(line).ok()?;
    let duration_s = done.duration_us as f64 / 1e6;
    let latency_ms = [
        (50.0, done.p50),
        (75.0, done.p75),
        (90.0, done.p90),
        (99.0, done.p99),
        (99.9, done.p99_9),
    ]
    .into_iter()
    .map(|(percentile, us)| Percentile {
        percentile,
        ms: us as f64 / 1e3,
    })
    .collect();
    Some(LoadResult {
        tool: "wrk".to_owned(),
        target_rps: None,
        achieved_rps: per_second(done.requests, duration_s),
        requests: done.requests,
        duration_s,
        errors: done.connect + done.read + done.write + done.timeout,
        non_2xx: done.status,
        cpu_us_per_request: None,
        latency_ms,
    })
}

/// Closed-loop run with wrk (one thread, `connections` connections).
pub fn wrk(
    program: &Path,
    target: SocketAddr,
    request: &LoadRequest,
    spec: &LoadSpec,
) -> Result<LoadResult, LoadError> {
    let dir = tempfile::tempdir().map_err(|source| LoadError::Spawn {
        tool: "wrk",
        program: program.display().to_string(),
        source,
    })?;
    let script = dir.path().join("done.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(|source| LoadError::Spawn {
        tool: "wrk",
        program: program.display().to_string(),
        source,
    })?;
    let mut command = Command::new(program);
    command
        .arg("-t1")
        .arg(format!("-c{}", spec.connections))
        .arg(format!("-d{}s", whole_seconds(spec.duration)))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(&script)
        .args(header_args(request))
        .arg(url(target, &request.path));
    run_and_parse("wrk", command, spec, parse_wrk)
}

/// Runs a load generator for its duration (plus a grace period) and parses what it printed.
fn run_and_parse(
    tool: &'static str,
    command: Command,
    spec: &LoadSpec,
    parse: impl FnOnce(&str) -> Option<LoadResult>,
) -> Result<LoadResult, LoadError> {
    let (status, stdout, stderr) = run_bounded(
        tool,
        command,
        spec.duration + Duration::from_secs(15),
        spec.cpu,
    )?;
    parse(&stdout).ok_or_else(|| LoadError::NoResult {
        tool,
        status: status.to_string(),
        output: last_lines(&format!("{stdout}\n{stderr}"), 4),
    })
}

/// The parts of oha's JSON report (`--output-format json`) read here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaReport {
    summary: OhaSummary,
    /// Responses per status code (`"200"`: count).
    #[serde(default)]
    status_code_distribution: BTreeMap<String, u64>,
    /// Failed requests per error message.
    #[serde(default)]
    error_distribution: BTreeMap<String, u64>,
    /// `"p50"`: seconds (null without responses).
    #[serde(default)]
    latency_percentiles: BTreeMap<String, Option<f64>>,
}

#[derive(Deserialize)]
struct OhaSummary {
    /// Wall time of the run, seconds.
    total: f64,
}

/// Parses oha's JSON output (`--output-format json`).
pub fn parse_oha(stdout: &str, target_rps: f64) -> Option<LoadResult> {
    let start = stdout.find('{')?;
    let report: OhaReport = serde_json::from_str(&stdout[start..]).ok()?;
    let duration_s = report.summary.total;
    let statuses = &report.status_code_distribution;
    let ok: u64 = statuses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    let requests: u64 = statuses.values().sum();
    // Requests still in flight at the deadline are reported as errors; they are not failures.
    let errors: u64 = report
        .error_distribution
        .iter()
        .filter(|(message, _)| !message.contains("deadline"))
        .map(|(_, n)| n)
        .sum();
    let mut latency_ms: Vec<Percentile> = report
        .latency_percentiles
        .iter()
        .filter_map(|(key, secs)| {
            Some(Percentile {
                percentile: key.strip_prefix('p')?.parse().ok()?,
                ms: (*secs)? * 1e3,
            })
        })
        .collect();
    latency_ms.sort_by(|a, b| a.percentile.total_cmp(&b.percentile));
    Some(LoadResult {
        tool: "oha".to_owned(),
        target_rps: Some(target_rps),
        achieved_rps: per_second(requests, duration_s),
        requests,
        duration_s,
        errors,
        non_2xx: requests - ok,
        cpu_us_per_request: None,
        latency_ms,
    })
}

/// Open-loop run with oha at `rate` requests/second, latency corrected for coordinated omission.
pub fn oha(
    program: &Path,
    target: SocketAddr,
    request: &LoadRequest,
    spec: &LoadSpec,
    rate: f64,
) -> Result<LoadResult, LoadError> {
    let mut command = Command::new(program);
    command
        .arg("-z")
        .arg(format!("{}s", whole_seconds(spec.duration)))
        .arg("-c")
        .arg(spec.connections.to_string())
        .arg("-q")
        .arg(format!("{}", rate.round().max(1.0)))
        .args([
            "--latency-correction",
            "--no-tui",
            "--output-format",
            "json",
        ])
        .args(header_args(request))
        .arg(url(target, &request.path));
    run_and_parse("oha", command, spec, |out| parse_oha(out, rate))
}

/// Exactly `requests` requests, one at a time on one keep-alive connection, as fast as the
/// server answers (oha `-n`), giving up after `limit`.
pub fn oha_count(
    program: &Path,
    target: SocketAddr,
    request: &LoadRequest,
    requests: u64,
    limit: Duration,
    cpu: Option<u32>,
) -> Result<LoadResult, LoadError> {
    let mut command = Command::new(program);
    command
        .arg("-n")
        .arg(requests.to_string())
        .args(["-c", "1", "--no-tui", "--output-format", "json"])
        .args(header_args(request))
        .arg(url(target, &request.path));
    let spec = LoadSpec {
        duration: limit,
        connections: 1,
        cpu,
    };
    let mut result = run_and_parse("oha", command, &spec, |out| parse_oha(out, 0.0))?;
    result.target_rps = None;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_result_line_is_parsed() {
        let out = "Running 1s test\nFILTERBENCH-RESULT {\"requests\":1000,\"duration_us\":2000000,\"connect\":0,\"read\":1,\"write\":0,\"status\":3,\"timeout\":2,\"p50\":900,\"p75\":1000,\"p90\":1500,\"p99\":4000,\"p99.9\":7000}\n";
        let r = parse_wrk(out).unwrap();
        assert_eq!(r.requests, 1000);
        assert_eq!(r.achieved_rps, 500.0);
        assert_eq!((r.errors, r.non_2xx), (3, 3));
        assert_eq!(r.latency(99.9), Some(7.0));
        assert_eq!(r.latency(50.0), Some(0.9));
        assert!(parse_wrk("unable to connect to 127.0.0.1:1 Connection refused").is_none());
    }

    #[test]
    fn oha_json_report_is_parsed() {
        // The shape of `oha --output-format json` (fields not read here included).
        let out = r#"{"summary":{"successRate":1.0,"total":2.0,"slowest":0.01,"fastest":0.0001,
            "average":0.001,"requestsPerSec":500.0,"totalData":0,"sizePerRequest":0,"sizePerSec":0},
            "responseTimeHistogram":{"0.001":990},
            "latencyPercentiles":{"p10":0.0004,"p50":0.0009,"p99":0.004,"p99.9":0.007,"p99.99":null},
            "rps":{"mean":500.0},"details":{},
            "statusCodeDistribution":{"200":990,"503":6},
            "errorDistribution":{"aborted due to deadline":3,"connection closed":4}}"#;
        let r = parse_oha(out, 500.0).unwrap();
        assert_eq!((r.requests, r.non_2xx, r.errors), (996, 6, 4));
        assert_eq!(r.achieved_rps, 498.0);
        let ms = |p: f64| r.latency(p).unwrap();
        assert!((ms(50.0) - 0.9).abs() < 1e-9 && (ms(99.9) - 7.0).abs() < 1e-9);
        assert_eq!(r.latency(99.99), None, "a null percentile is left out");
        assert_eq!(r.latency_ms.first().map(|p| p.percentile), Some(10.0));
        assert!(parse_oha("error: connection refused", 1.0).is_none());
    }
}
