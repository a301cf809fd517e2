//! Helpers shared by the Envoy integration tests.

use filterbench_envoy::config::{self, Endpoints, FilterChain, UpstreamMode};
use filterbench_envoy::conformance::Probe;
use filterbench_envoy::process::EnvoyProcess;
use filterbench_envoy::tools::{self, Tool};
use filterbench_envoy::upstream::Upstream;
use std::path::{Path, PathBuf};

/// The Envoy binary, or `None` (with the reason printed) when the test must be skipped; with
/// FILTERBENCH_REQUIRE_ENVOY set (CI) a missing Envoy fails the test instead.
pub fn envoy_or_skip(test: &str) -> Option<PathBuf> {
    match tools::find(Tool::Envoy, None) {
        Ok(path) => Some(path),
        Err(e) if std::env::var_os("FILTERBENCH_REQUIRE_ENVOY").is_some() => {
            panic!("{test}: FILTERBENCH_REQUIRE_ENVOY is set but {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            None
        }
    }
}

/// An Envoy running one filter chain in front of the project's echo upstream.
pub struct Running {
    /// The Envoy process (dropping it stops Envoy).
    pub process: EnvoyProcess,
    /// The echo upstream behind it.
    pub upstream: Upstream,
    _dir: tempfile::TempDir,
}

/// Starts Envoy with `chain` (requests without the echo header answered directly).
pub fn start(envoy: &Path, chain: &FilterChain) -> Result<Running, String> {
    let upstream = Upstream::start(None).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bootstrap = config::bootstrap(
        chain,
        &Endpoints {
            upstream_port: upstream.addr().port(),
            mode: UpstreamMode::Direct,
            spec: None,
        },
    );
    let process =
        EnvoyProcess::start(envoy, &bootstrap, dir.path(), None).map_err(|e| e.to_string())?;
    Ok(Running {
        process,
        upstream,
        _dir: dir,
    })
}

impl Running {
    /// Conformance requests to its listener (`passthrough`: the baseline's check).
    pub fn probe(&self, passthrough: bool) -> Probe<'_> {
        Probe {
            listener: self.process.listener(),
            envoy: &self.process,
            upstream: &self.upstream,
            passthrough,
            tcp: None,
        }
    }
}
