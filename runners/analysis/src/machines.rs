//! Results files from several machines (shards of a plan run on a cluster, or runs of the same
//! matrix elsewhere) put together for one report: the shards of each plan are checked to belong
//! together, and files are merged per machine type only — a figure never pools rounds measured
//! on different CPU models or architectures.

use crate::merge;
use filterbench_results::environment::machine_type;
use filterbench_results::results::Results;
use filterbench_results::shards::ShardRecord;
use std::collections::{BTreeMap, BTreeSet};

/// A results file and the name it is reported under (its path).
pub struct Labelled {
    /// The file's name, for messages.
    pub label: String,
    /// Its contents.
    pub results: Results,
}

/// The merged results of one machine type.
pub struct Machine {
    /// The machine type (`x86_64 · AMD EPYC 7B13`).
    pub name: String,
    /// The files merged into it, in the order given.
    pub files: Vec<String>,
    /// The merged, re-analysed results.
    pub results: Results,
}

/// Why files cannot be put together.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MachinesError {
    /// No file was given.
    #[error("no results given")]
    Empty,
    /// Two shards of one plan differ in what must be the same.
    #[error(transparent)]
    Mismatch(Box<Mismatch>),
    /// Shards of a plan are missing.
    #[error(
        "plan {plan} ({command}, {of} shards){on}: shard{s} {missing} missing (given: {given}); collect {them} (`filterbench k8s collect`) or run {them} (`filterbench {command} --shard K/{of}` with the plan's other arguments)",
        s = if missing.contains(',') { "s" } else { "" },
        them = if missing.contains(',') { "them" } else { "it" },
    )]
    Missing {
        /// Plan id.
        plan: String,
        /// `run` or `envoy`.
        command: String,
        /// Shards in the plan.
        of: u32,
        /// ` on MACHINE` when the plan's shards ran on several machine types.
        on: String,
        /// The missing shards, comma-separated.
        missing: String,
        /// The files given for the plan, with their shards.
        given: String,
    },
}

/// Two shards of one plan that differ in what must be the same.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{first} and {second} are shards of plan {plan} ({command}) but {what} differ ({first}: {first_value}; {second}: {second_value}): merge shards of one build and one plan; run the plan again with one image"
)]
pub struct Mismatch {
    /// Plan id.
    pub plan: String,
    /// `run` or `envoy`.
    pub command: String,
    /// What differs.
    pub what: &'static str,
    /// One file.
    pub first: String,
    /// Its value.
    pub first_value: String,
    /// The other file.
    pub second: String,
    /// Its value.
    pub second_value: String,
}

/// Checks the shards in `files` and merges the files per machine type (in order of first
/// appearance). Files without shards are merged as before (runs of the same matrix).
pub fn by_machine(files: Vec<Labelled>) -> Result<Vec<Machine>, MachinesError> {
    if files.is_empty() {
        return Err(MachinesError::Empty);
    }
    check_plans(&files)?;
    let mut machines: Vec<(String, Vec<Labelled>)> = Vec::new();
    for file in files {
        let name = machine_type(&file.results.environment);
        match machines.iter_mut().find(|(m, _)| *m == name) {
            Some((_, group)) => group.push(file),
            None => machines.push((name, vec![file])),
        }
    }
    Ok(machines
        .into_iter()
        .map(|(name, group)| {
            let files = group.iter().map(|f| f.label.clone()).collect();
            let results = merge::merge(group.into_iter().map(|f| f.results).collect())
                .expect("a machine type has at least one file");
            Machine {
                name,
                files,
                results,
            }
        })
        .collect())
}

/// Every plan's shards agree on command, N, build and modules (native builds within one
/// machine type), and each machine type that ran a plan has all of its shards.
fn check_plans(files: &[Labelled]) -> Result<(), MachinesError> {
    // plan → (file, machine, record) for every shard record.
    let mut plans: BTreeMap<&str, Vec<(&str, String, &ShardRecord)>> = BTreeMap::new();
    for file in files {
        let machine = machine_type(&file.results.environment);
        for record in &file.results.shards {
            plans.entry(record.plan.as_str()).or_default().push((
                file.label.as_str(),
                machine.clone(),
                record,
            ));
        }
    }
    for (plan, records) in &plans {
        let (first_file, first_machine, first) = &records[0];
        for (file, machine, record) in &records[1..] {
            let native = (machine == first_machine).then_some((
                "native builds",
                &first.native_digest,
                &record.native_digest,
            ));
            let checks = [
                Some(("commands", &first.command, &record.command)),
                Some(("filterbench builds", &first.tool, &record.tool)),
                Some((
                    "WebAssembly modules",
                    &first.wasm_digest,
                    &record.wasm_digest,
                )),
                native,
            ];
            if let Some((what, a, b)) = checks.into_iter().flatten().find(|(_, a, b)| a != b) {
                return Err(mismatch(plan, first, what, first_file, a, file, b));
            }
            if record.of != first.of {
                let (a, b) = (first.of.to_string(), record.of.to_string());
                return Err(mismatch(
                    plan,
                    first,
                    "shard counts",
                    first_file,
                    &a,
                    file,
                    &b,
                ));
            }
        }
        let machines: BTreeSet<&str> = records.iter().map(|(_, m, _)| m.as_str()).collect();
        for machine in &machines {
            let here: Vec<&(&str, String, &ShardRecord)> =
                records.iter().filter(|(_, m, _)| m == machine).collect();
            let have: BTreeSet<u32> = here.iter().map(|(_, _, r)| r.index).collect();
            let missing: Vec<String> = (1..=first.of)
                .filter(|k| !have.contains(k))
                .map(|k| k.to_string())
                .collect();
            if !missing.is_empty() {
                let given = here
                    .iter()
                    .map(|(file, _, r)| format!("{file} = {}/{}", r.index, r.of))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(MachinesError::Missing {
                    plan: (*plan).to_owned(),
                    command: first.command.clone(),
                    of: first.of,
                    on: if machines.len() > 1 {
                        format!(" on {machine}")
                    } else {
                        String::new()
                    },
                    missing: missing.join(", "),
                    given,
                });
            }
        }
    }
    Ok(())
}

fn mismatch(
    plan: &str,
    first: &ShardRecord,
    what: &'static str,
    first_file: &str,
    first_value: &str,
    second_file: &str,
    second_value: &str,
) -> MachinesError {
    MachinesError::Mismatch(Box::new(Mismatch {
        plan: plan.to_owned(),
        command: first.command.clone(),
        what,
        first: first_file.to_owned(),
        first_value: first_value.to_owned(),
        second: second_file.to_owned(),
        second_value: second_value.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Results {
        serde_json::from_str(include_str!("../tests/data/minimal-results.json")).unwrap()
    }

    fn shard(index: u32, of: u32, cpu: &str) -> Labelled {
        let mut results = minimal();
        results.environment.cpu_model = cpu.to_owned();
        results.environment.arch = "x86_64".to_owned();
        results.shards = vec![ShardRecord {
            command: "run".to_owned(),
            plan: "p1".to_owned(),
            index,
            of,
            units: vec![format!("unit{index}")],
            plan_units: of as usize,
            expected_seconds: 1.0,
            wasm_digest: "w".to_owned(),
            native_digest: format!("n-{cpu}"),
            tool: "0.1.0+abc".to_owned(),
        }];
        Labelled {
            label: format!("{cpu}-{index}.json"),
            results,
        }
    }

    #[test]
    fn a_missing_shard_is_named() {
        let error = by_machine(vec![shard(1, 3, "A"), shard(3, 3, "A")])
            .err()
            .unwrap();
        let text = error.to_string();
        assert!(text.contains("shard 2 missing"), "{text}");
        assert!(text.contains("A-1.json = 1/3, A-3.json = 3/3"), "{text}");
    }

    #[test]
    fn a_plan_split_over_machine_types_needs_every_shard_on_each() {
        let text = by_machine(vec![shard(1, 2, "A"), shard(2, 2, "B")])
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("on x86_64 · A: shard 2 missing"), "{text}");
    }

    #[test]
    fn shards_of_other_builds_are_refused() {
        let mut other = shard(2, 2, "A");
        other.results.shards[0].tool = "0.1.0+def".to_owned();
        let text = by_machine(vec![shard(1, 2, "A"), other])
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("filterbench builds differ"), "{text}");
        assert!(
            text.contains("0.1.0+abc") && text.contains("0.1.0+def"),
            "{text}"
        );
    }

    #[test]
    fn native_builds_may_differ_only_between_machine_types() {
        let both = by_machine(vec![
            shard(1, 2, "A"),
            shard(2, 2, "A"),
            shard(1, 2, "B"),
            shard(2, 2, "B"),
        ])
        .unwrap();
        let names: Vec<&str> = both.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["x86_64 · A", "x86_64 · B"]);
        assert_eq!(both[0].files, ["A-1.json", "A-2.json"]);
        assert_eq!(both[0].results.shards.len(), 2);
        let mut odd = shard(2, 2, "A");
        odd.results.shards[0].native_digest = "other".to_owned();
        let text = by_machine(vec![shard(1, 2, "A"), odd])
            .err()
            .unwrap()
            .to_string();
        assert!(text.contains("native builds differ"), "{text}");
    }
}
