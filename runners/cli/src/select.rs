//! Validation of the user's selections, with one-line errors that say what is available.

use anyhow::{Result, bail};
use filterbench_engines::EngineEntry;
use filterbench_harness::catalog::{self, FilterSpec};
use filterbench_harness::price;
use std::path::Path;

/// The filters named in `names`; when empty, the Rust filters (the engine matrix) and the
/// price-list probes. A plain name selects the Rust filter and its versions in other languages
/// (`headers` → headers, headers@assemblyscript, headers@c, headers@go); `headers@rust` or
/// `headers@c` selects exactly one. `price` selects every price-list probe, `price:get-header`
/// one probe with the baseline probe it is measured against (`price:get-header@c`: the probe
/// alone).
pub fn filters(names: &[String]) -> Result<Vec<FilterSpec>> {
    let all = catalog::filters();
    if names.is_empty() {
        return Ok(all
            .into_iter()
            .filter(|f| f.language == catalog::Language::Rust || price::is_probe(f.name))
            .collect());
    }
    let mut picked: Vec<FilterSpec> = Vec::new();
    for name in names {
        let matches: Vec<&FilterSpec> = match name.strip_suffix("@rust") {
            _ if name == price::GROUP => all.iter().filter(|f| price::is_probe(f.name)).collect(),
            _ if price::is_probe(name) && !name.contains('@') => {
                let exact = format!("{name}@c");
                all.iter()
                    .filter(|f| f.name == price::BASE || f.name == exact)
                    .collect()
            }
            Some(rust) => all.iter().filter(|f| f.name == rust).collect(),
            None if name.contains('@') => all.iter().filter(|f| f.name == name).collect(),
            None => all
                .iter()
                .filter(|f| catalog::split_language(f.name).0 == name)
                .collect(),
        };
        if matches.is_empty() {
            bail!(
                "unknown filter '{name}'; available: {} (see `filterbench list filters`)",
                all.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            );
        }
        for f in matches {
            if !picked.iter().any(|p| p.name == f.name) {
                picked.push(f.clone());
            }
        }
    }
    Ok(picked)
}

/// The `--filter` value that selects exactly the catalog filter `name`.
pub fn exact(name: &str) -> String {
    if name.contains('@') {
        name.to_owned()
    } else {
        format!("{name}@rust")
    }
}

/// The engines named in `names` (every known one when empty, including those this build
/// cannot run: they are reported with the reason). A configuration's name selects it; a family
/// name (`wasmtime`, `wamr`, …) that is not also a configuration selects all of the family's
/// configurations. Each engine is selected once, in the order asked.
pub fn engines(names: &[String]) -> Result<Vec<EngineEntry>> {
    let all = filterbench_engines::all();
    if names.is_empty() {
        return Ok(all);
    }
    let mut picked: Vec<EngineEntry> = Vec::new();
    for name in names {
        let matches: Vec<&EngineEntry> = match all.iter().find(|e| e.name == name) {
            Some(exact) => vec![exact],
            None => all.iter().filter(|e| e.family == name).collect(),
        };
        if matches.is_empty() {
            let mut families: Vec<&str> = all.iter().map(|e| e.family).collect();
            families.dedup();
            bail!(
                "unknown engine '{name}'; available: {}, or a whole family: {} (see `filterbench list engines`)",
                all.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
                families.join(", ")
            );
        }
        for e in matches {
            if !picked.iter().any(|p| p.name == e.name) {
                picked.push(e.clone());
            }
        }
    }
    Ok(picked)
}

/// The workloads named in `names` (`sweep:headers` and `sweep:body` expand to their sweeps),
/// or `None` for each filter's own. Names are the catalog's or `own` (a spec file's).
pub fn workloads(names: &[String], own: &[String]) -> Result<Option<Vec<String>>> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut all: Vec<String> = catalog::workloads()
        .iter()
        .map(|w| w.name.to_owned())
        .collect();
    all.extend(own.iter().cloned());
    let names = catalog::expand_workload_names(names);
    for name in &names {
        if !all.contains(name) {
            bail!(
                "unknown workload '{name}'; available: {}, or the groups sweep:headers, sweep:body (see `filterbench list workloads`)",
                all.join(", ")
            );
        }
    }
    Ok(Some(names))
}

/// Fails early when results could not be written to `path`.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if path.is_dir() {
        bail!(
            "--out {} is a directory; give a file name such as {}/results.json",
            path.display(),
            path.display()
        );
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        bail!(
            "cannot create the output directory {}: {e}; choose another --out",
            dir.display()
        );
    }
    let probe = dir.join(format!(".filterbench-write-test.{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "cannot write to {}: {e}; choose another --out",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<&'static str> {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        filters(&list).unwrap().iter().map(|f| f.name).collect()
    }

    #[test]
    fn a_plain_name_brings_its_other_languages_and_an_exact_one_does_not() {
        assert_eq!(
            names(&["headers"]),
            [
                "headers",
                "headers@assemblyscript",
                "headers@c",
                "headers@go"
            ]
        );
        assert_eq!(names(&["headers@rust"]), ["headers"]);
        assert_eq!(
            names(&["headers@c", "headers"]),
            [
                "headers@c",
                "headers",
                "headers@assemblyscript",
                "headers@go"
            ]
        );
        assert_eq!(names(&["waf"]), ["waf"]);
        let default = names(&[]);
        assert!(
            default
                .iter()
                .all(|n| !n.contains('@') || price::is_probe(n)),
            "the default matrix is the Rust filters and the price list: {default:?}"
        );
        assert_eq!(
            default.iter().filter(|n| price::is_probe(n)).count(),
            price::OPERATIONS.len() + 1
        );
        assert_eq!(names(&["price"]).len(), price::OPERATIONS.len() + 1);
        assert_eq!(
            names(&["price:get-header"]),
            [price::BASE, "price:get-header@c"]
        );
        assert_eq!(names(&["price:get-header@c"]), ["price:get-header@c"]);
        assert_eq!(exact("noop"), "noop@rust");
        assert_eq!(exact("noop@c"), "noop@c");
        assert!(filters(&["headers@zig".to_owned()]).is_err());
    }

    #[test]
    fn a_family_name_selects_each_of_its_configurations_once() {
        let picked = |list: &[&str]| -> Vec<&'static str> {
            let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
            engines(&list).unwrap().iter().map(|e| e.name).collect()
        };
        let wasmtime = picked(&["wasmtime"]);
        assert!(wasmtime.len() > 1, "{wasmtime:?}");
        assert!(
            wasmtime.iter().all(|n| n.starts_with("wasmtime-")),
            "{wasmtime:?}"
        );
        assert!(wasmtime.contains(&"wasmtime-cranelift"));
        let mixed = picked(&["wasmtime-pulley", "wasmtime", "native"]);
        assert_eq!(mixed[0], "wasmtime-pulley");
        assert_eq!(mixed.len(), wasmtime.len() + 1, "{mixed:?}");
        assert_eq!(
            picked(&["native"]),
            ["native"],
            "a configuration name is exact"
        );
        let unknown = engines(&["v9".to_owned()]).unwrap_err().to_string();
        assert!(unknown.contains("or a whole family: wasmtime"), "{unknown}");
    }
}
