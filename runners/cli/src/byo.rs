//! Bring your own module: turns `--module PATH.wasm [--native PATH.so] [--plugin-config …]
//! [--vm-config …] [--root-id …] [--vm-id …] [--env K=V]… [--log-level …] [--volatile NAMES]`
//! into a run subject whose effects are observed and compared across engines (on get-small, or
//! on the `--workload`s asked for).

use anyhow::{Context, Result, bail};
use filterbench_harness::catalog;
use filterbench_harness::run::Subject;
use filterbench_host::ModuleSource;
use filterbench_host::abi::LogLevel;
use std::path::{Path, PathBuf};

/// A configuration given on the command line: the path of a file, or the value itself.
/// Values that look like JSON (`{…}` or `[…]`) must parse as JSON.
pub fn config_value(flag: &str, value: Option<&str>) -> Result<String> {
    let Some(value) = value else {
        return Ok(String::new());
    };
    let text = if Path::new(value).is_file() {
        std::fs::read_to_string(value)
            .with_context(|| format!("cannot read {flag} file {value}"))?
    } else {
        value.to_owned()
    };
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Err(e) = serde_json::from_str::<serde_json::Value>(&text)
    {
        bail!(
            "{flag} is not valid JSON ({e}); give a file path or inline JSON such as '{{\"key\": \"value\"}}'"
        );
    }
    Ok(text)
}

/// The log level called `name` (any case); the error names `what` gave it.
pub fn parse_log_level(what: &str, name: &str) -> Result<LogLevel> {
    (0..=5)
        .filter_map(LogLevel::from_raw)
        .find(|level| format!("{level:?}").eq_ignore_ascii_case(name))
        .with_context(|| {
            format!("unknown {what} '{name}'; use trace, debug, info, warn, error or critical")
        })
}

/// The plugin settings given with `--root-id`, `--vm-id`, `--env KEY=VALUE` and
/// `--log-level`.
pub fn plugin_settings(
    root_id: Option<&str>,
    vm_id: Option<&str>,
    environment: &[String],
    log_level: Option<&str>,
) -> Result<catalog::PluginSettings> {
    let environment = environment
        .iter()
        .map(|variable| match variable.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => bail!("--env takes KEY=VALUE, e.g. --env REGION=eu; got '{variable}'"),
        })
        .collect::<Result<_>>()?;
    let log_level = log_level
        .map(|name| parse_log_level("--log-level", name))
        .transpose()?;
    Ok(catalog::PluginSettings {
        root_id: root_id.map(str::to_owned),
        vm_id: vm_id.map(str::to_owned),
        environment,
        log_level,
        ..catalog::PluginSettings::default()
    })
}

/// The subject for a user's module.
pub fn subject(
    module: &Path,
    native: Option<&PathBuf>,
    plugin_config: Option<&str>,
    vm_config: Option<&str>,
    plugin: catalog::PluginSettings,
    volatile: &[String],
) -> Result<Subject> {
    if !module.is_file() {
        bail!(
            "cannot read module {}: no such file; give the path of a .wasm file",
            module.display()
        );
    }
    if let Some(native) = native
        && !native.is_file()
    {
        bail!(
            "cannot read native library {}: no such file; give the path of a .so built from the same source",
            native.display()
        );
    }
    let stem = module
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "module".to_owned());
    // The run needs `'static` names; one leaked string per process is fine.
    let name: &'static str = Box::leak(stem.into_boxed_str());
    let filter = catalog::user_module(
        name,
        config_value("--plugin-config", plugin_config)?,
        config_value("--vm-config", vm_config)?,
        plugin,
        vec!["get-small"],
        volatile.to_vec(),
    );
    Ok(Subject {
        filter,
        source: ModuleSource {
            name: name.to_owned(),
            wasm: Some(module.to_path_buf()),
            native: native.cloned(),
        },
    })
}
