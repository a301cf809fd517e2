//! `--shard K/N` of `run` and `envoy`: which units of the matrix this process measures, and
//! the record its results carry (see `filterbench_harness::shards`).

use anyhow::{Result, bail};
use filterbench_harness::catalog;
use filterbench_harness::environment::Environment;
use filterbench_harness::measure::MeasureSettings;
use filterbench_harness::run::{self, Subject};
use filterbench_harness::shards::{self, ShardRecord, Unit};
use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

/// The variable a Kubernetes Indexed Job sets in each pod: its index, from 0.
pub const INDEX_VARIABLE: &str = "JOB_COMPLETION_INDEX";

/// `--shard K/N`, or `--shard N` with K from [`INDEX_VARIABLE`] (+1: the Job counts from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardArg {
    /// K, 1-based, when given.
    pub index: Option<u32>,
    /// N.
    pub of: u32,
}

impl FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "expected K/N with 1 <= K <= N (e.g. 2/3), or N alone in a Kubernetes Indexed Job \
                 (K is then ${INDEX_VARIABLE} + 1); got '{text}'"
            )
        };
        let number = |part: &str| part.trim().parse::<u32>().ok().filter(|n| *n > 0);
        let (index, of) = match text.split_once('/') {
            Some((k, n)) => (Some(number(k).ok_or_else(expected)?), number(n)),
            None => (None, number(text)),
        };
        let of = of.ok_or_else(expected)?;
        if index.is_some_and(|k| k > of) || of > 1000 {
            return Err(expected());
        }
        Ok(Self { index, of })
    }
}

impl ShardArg {
    /// (K, N), K from the argument or else from [`INDEX_VARIABLE`].
    pub fn resolve(self) -> Result<(u32, u32)> {
        if let Some(index) = self.index {
            return Ok((index, self.of));
        }
        let Ok(value) = std::env::var(INDEX_VARIABLE) else {
            bail!(
                "--shard {} does not say which shard this is: give K/{} (e.g. --shard 1/{}), or run it in a Kubernetes Indexed Job, which sets ${INDEX_VARIABLE}",
                self.of,
                self.of,
                self.of
            );
        };
        match value.trim().parse::<u32>() {
            Ok(i) if i < self.of => Ok((i + 1, self.of)),
            _ => bail!(
                "${INDEX_VARIABLE} is '{value}', but --shard {} needs an index from 0 to {} (the Job's completions must equal the shard count)",
                self.of,
                self.of - 1
            ),
        }
    }
}

/// One shard of a plan: the units it runs and the record its results carry.
pub struct Shard {
    /// The units (measurement groups or filters) this shard runs.
    pub units: BTreeSet<String>,
    /// The record for its results.
    pub record: ShardRecord,
}

/// The filterbench build as shards record it: version, commit, `-dirty` for a changed tree.
fn tool(environment: &Environment) -> String {
    let mut tool = env!("CARGO_PKG_VERSION").to_owned();
    if let Some(commit) = &environment.git_commit {
        tool.push('+');
        tool.push_str(&commit[..commit.len().min(12)]);
    }
    if environment.git_dirty == Some(true) {
        tool.push_str("-dirty");
    }
    tool
}

/// Picks shard `index` of `of` from `units`; the error says when it would run nothing.
fn pick(
    command: &str,
    units: &[Unit],
    (index, of): (u32, u32),
    settings: &[String],
    sources: &[&filterbench_host::ModuleSource],
) -> Result<Shard> {
    if units.len() < of as usize {
        bail!(
            "--shard {index}/{of}: this {command} has only {} unit(s) to share out ({}), so some shards would run nothing; use at most {} shards",
            units.len(),
            units
                .iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            units.len()
        );
    }
    let assigned = shards::partition(units, of);
    let mine: Vec<&Unit> = units
        .iter()
        .zip(&assigned)
        .filter(|(_, k)| **k == index)
        .map(|(u, _)| u)
        .collect();
    let environment = filterbench_harness::environment::fingerprint(&[], 0);
    let digest = |native: bool| {
        shards::files_digest(sources.iter().map(|s| {
            let path = if native { &s.native } else { &s.wasm };
            (s.name.as_str(), path.as_deref())
        }))
    };
    Ok(Shard {
        units: mine.iter().map(|u| u.name.clone()).collect(),
        record: ShardRecord {
            command: command.to_owned(),
            plan: shards::plan_id(command, units, of, settings),
            index,
            of,
            units: mine.iter().map(|u| u.name.clone()).collect(),
            plan_units: units.len(),
            expected_seconds: mine.iter().map(|u| u.seconds).sum(),
            wasm_digest: digest(false),
            native_digest: digest(true),
            tool: tool(&environment),
        },
    })
}

/// Seconds of checks, preflight and process start-up per unit (measured on the 2-core
/// reference machine: 8–15 s per filter of the default matrix beyond its timed slices and
/// compiles).
const UNIT_OVERHEAD_S: f64 = 10.0;
/// Seconds one start-up sample takes to compile a MiB of WebAssembly, on average over the
/// default engines (measured: 24–34 s per MiB over 17 configurations × 20 samples).
const COMPILE_S_PER_MIB: f64 = 0.08;
/// Extra seconds per cell for each MiB of body a workload moves (measured: body-redact's cells
/// took 1.0 s against 0.44 s for bodiless ones, most of it on post-1m).
const BODY_S_PER_MIB: f64 = 1.6;

/// The expected seconds of measuring `subject` on `engines` (the price-list probes run on the
/// plain configurations only, a third of the rounds, without start-up phases).
fn run_seconds(
    subject: &Subject,
    engines: &[&str],
    workloads: &Option<Vec<String>>,
    measure: &MeasureSettings,
) -> f64 {
    let probe = filterbench_harness::price::is_probe(subject.filter.name);
    let (engines, rounds) = if probe {
        let priced = engines
            .iter()
            .filter(|e| filterbench_harness::pricing::priced_on(e, engines.iter().copied()))
            .count();
        (
            priced,
            filterbench_harness::pricing::settings(measure).rounds,
        )
    } else {
        (engines.len() + 2, measure.rounds)
    };
    let slices = 2.0 * f64::from(rounds) * measure.slice.as_secs_f64();
    let catalog = catalog::workloads();
    let cells: f64 = run::planned_workloads(subject, workloads)
        .iter()
        .map(|name| {
            let body: usize = catalog.iter().find(|w| w.name == *name).map_or(0, |w| {
                let e = &w.exchange;
                e.request_body
                    .iter()
                    .chain(&e.response_body)
                    .map(Vec::len)
                    .sum()
            });
            slices + BODY_S_PER_MIB * body as f64 / f64::from(1u32 << 20)
        })
        .sum::<f64>()
        * engines as f64;
    if probe {
        return cells;
    }
    let wasm_mib = subject
        .source
        .wasm
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0.0, |m| m.len() as f64 / f64::from(1u32 << 20));
    let startup = f64::from(measure.phase_samples) * engines as f64 * COMPILE_S_PER_MIB * wasm_mib;
    UNIT_OVERHEAD_S + cells + startup
}

/// The shard of a `filterbench run` over `subjects` on `engines`: its units are the
/// measurement groups (a filter with its other languages, the price-list probes), each costed
/// by [`run_seconds`]. `settings` are the run's choices that change what runs.
pub fn for_run(
    arg: ShardArg,
    subjects: &[Subject],
    engines: &[&str],
    workloads: &Option<Vec<String>>,
    measure: &MeasureSettings,
    settings: &[String],
) -> Result<Shard> {
    let position = arg.resolve()?;
    let mut units: Vec<Unit> = Vec::new();
    for subject in subjects {
        let seconds = run_seconds(subject, engines, workloads, measure);
        let group = catalog::measure_group(subject.filter.name).to_owned();
        match units.iter_mut().find(|u| u.name == group) {
            Some(unit) => unit.seconds += seconds,
            None => units.push(Unit {
                name: group,
                seconds,
            }),
        }
    }
    let sources: Vec<&filterbench_host::ModuleSource> =
        subjects.iter().map(|s| &s.source).collect();
    pick("run", &units, position, settings, &sources)
}

/// The shard of a `filterbench envoy` over `filters` (each with its variant count; `sources`
/// are their modules): a filter with all its variants and its baseline is one unit, costed at
/// its variants' load runs and paired CPU slices.
pub fn for_envoy(
    arg: ShardArg,
    filters: &[(&catalog::FilterSpec, usize)],
    sources: &[filterbench_host::ModuleSource],
    seconds_per_variant: f64,
    settings: &[String],
) -> Result<Shard> {
    let position = arg.resolve()?;
    let units: Vec<Unit> = filters
        .iter()
        .map(|(filter, variants)| Unit {
            name: filter.name.to_owned(),
            seconds: *variants as f64 * seconds_per_variant,
        })
        .collect();
    let sources: Vec<&filterbench_host::ModuleSource> = sources.iter().collect();
    pick("envoy", &units, position, settings, &sources)
}

/// A line saying what this shard runs and where its results go.
pub fn describe(record: &ShardRecord, path: &Path) -> String {
    format!(
        "shard {}/{} of plan {} ({} of {} units: {}; expected {:.0} s) → {}",
        record.index,
        record.of,
        record.plan,
        record.units.len(),
        record.plan_units,
        record.units.join(", "),
        record.expected_seconds,
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_arguments_parse_and_name_what_is_wrong() {
        assert_eq!(
            "2/3".parse::<ShardArg>(),
            Ok(ShardArg {
                index: Some(2),
                of: 3
            })
        );
        assert_eq!("4".parse::<ShardArg>().unwrap().index, None);
        for bad in ["4/3", "0/3", "x/3", "3/", "", "0"] {
            let error = bad.parse::<ShardArg>().unwrap_err();
            assert!(error.contains("K/N"), "{bad}: {error}");
        }
    }
}
