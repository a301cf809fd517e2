//! Sharded plans (`--shard K/N`): how a matrix is split into N shards that run on separate
//! machines, and the record each shard's results carry so that `report` can check the pieces
//! belong together before it merges them.
//!
//! A plan is a list of *units*, each measured wholly inside one shard: for `filterbench run` a
//! measurement group (a filter with its other languages, or the price-list probes: every cell
//! of a unit is paired with its native baseline, the host floor and the A/A cell inside the
//! unit), for `filterbench envoy` a filter with all its variants and its no-filter baseline.
//! Units go to shards by expected cost, largest first into the least loaded shard, so the plan
//! is the same wherever it is computed from the same selection.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Which part of a sharded plan a results file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShardRecord {
    /// The command that ran the plan: `run` or `envoy`.
    pub command: String,
    /// The plan's identity: a digest of the command, its selection and settings, the units and
    /// N (16 hex digits). Shards of one plan carry the same id.
    pub plan: String,
    /// This shard, 1-based.
    pub index: u32,
    /// Shards in the plan.
    pub of: u32,
    /// The units this shard measured (filters or measurement groups).
    pub units: Vec<String>,
    /// Units in the whole plan.
    pub plan_units: usize,
    /// The plan's cost estimate for this shard, seconds (what balancing used; compare with the
    /// shard's real duration).
    pub expected_seconds: f64,
    /// Digest of every WebAssembly module of the plan (16 hex digits): shards built from other
    /// filter sources cannot be merged.
    pub wasm_digest: String,
    /// Digest of the native builds of the plan's filters (16 hex digits); differs between
    /// architectures, so it is compared only between shards of one machine type.
    pub native_digest: String,
    /// The filterbench build: package version and, when known, the commit
    /// (`0.1.0+1a2b3c4d5e6f`).
    pub tool: String,
}

/// A unit of a plan and its expected cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Name (a filter or measurement group).
    pub name: String,
    /// Expected cost, seconds.
    pub seconds: f64,
}

/// The shard (1-based) of every unit, in the units' order: largest expected cost first into
/// the least loaded shard (ties: the unit's name, then the lower shard), so the partition
/// depends only on the units and N.
pub fn partition(units: &[Unit], of: u32) -> Vec<u32> {
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| {
        units[b]
            .seconds
            .total_cmp(&units[a].seconds)
            .then_with(|| units[a].name.cmp(&units[b].name))
    });
    let mut load = vec![0.0f64; of.max(1) as usize];
    let mut shard_of = vec![0u32; units.len()];
    for unit in order {
        let lightest = (0..load.len())
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("at least one shard");
        load[lightest] += units[unit].seconds;
        shard_of[unit] = lightest as u32 + 1;
    }
    shard_of
}

/// The plan id of `command` over `units` in `of` shards, with `settings` (every choice that
/// changes what a shard runs: engines, workloads, quick, processes, …) and the partition
/// ([`partition`]: which shard runs which unit) folded in.
pub fn plan_id(command: &str, units: &[Unit], of: u32, settings: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(command.as_bytes());
    hash.update(of.to_le_bytes());
    for (unit, shard) in units.iter().zip(partition(units, of)) {
        hash.update(b"\0unit\0");
        hash.update(unit.name.as_bytes());
        hash.update(shard.to_le_bytes());
    }
    for setting in settings {
        hash.update(b"\0setting\0");
        hash.update(setting.as_bytes());
    }
    short_hex(&hash.finalize())
}

/// Digest of files, each named (names sorted first, so the order given does not matter); a
/// missing file counts as its name with no content.
pub fn files_digest<'a>(files: impl IntoIterator<Item = (&'a str, Option<&'a Path>)>) -> String {
    let mut files: Vec<(&str, Option<&Path>)> = files.into_iter().collect();
    files.sort_by_key(|(name, _)| *name);
    let mut hash = Sha256::new();
    for (name, path) in files {
        hash.update(name.as_bytes());
        hash.update(b"\0");
        if let Some(bytes) = path.and_then(|p| std::fs::read(p).ok()) {
            hash.update(Sha256::digest(&bytes));
        }
    }
    short_hex(&hash.finalize())
}

/// The first 8 bytes of a digest as 16 hex digits.
fn short_hex(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(costs: &[(&str, f64)]) -> Vec<Unit> {
        costs
            .iter()
            .map(|(name, seconds)| Unit {
                name: (*name).to_owned(),
                seconds: *seconds,
            })
            .collect()
    }

    #[test]
    fn the_largest_units_spread_over_the_shards_and_the_rest_fill_the_lightest() {
        let plan = units(&[("a", 10.0), ("b", 9.0), ("c", 2.0), ("d", 2.0), ("e", 1.0)]);
        let shards = partition(&plan, 2);
        assert_eq!(shards, vec![1, 2, 2, 1, 2]);
        let load = |k: u32| -> f64 {
            plan.iter()
                .zip(&shards)
                .filter(|(_, s)| **s == k)
                .map(|(u, _)| u.seconds)
                .sum()
        };
        assert_eq!((load(1), load(2)), (12.0, 12.0));
    }

    #[test]
    fn the_partition_does_not_depend_on_the_units_order() {
        let plan = units(&[("x", 3.0), ("y", 3.0), ("z", 3.0), ("w", 1.0)]);
        let mut reversed = plan.clone();
        reversed.reverse();
        let forward: Vec<(String, u32)> = plan
            .iter()
            .map(|u| u.name.clone())
            .zip(partition(&plan, 3))
            .collect();
        let mut backward: Vec<(String, u32)> = reversed
            .iter()
            .map(|u| u.name.clone())
            .zip(partition(&reversed, 3))
            .collect();
        backward.reverse();
        assert_eq!(forward, backward);
    }

    #[test]
    fn the_plan_id_changes_with_n_the_units_and_the_settings() {
        let plan = units(&[("a", 1.0), ("b", 2.0)]);
        let base = plan_id("run", &plan, 2, &["quick".to_owned()]);
        assert_eq!(base.len(), 16);
        assert_eq!(base, plan_id("run", &plan, 2, &["quick".to_owned()]));
        assert_ne!(base, plan_id("run", &plan, 3, &["quick".to_owned()]));
        assert_ne!(base, plan_id("envoy", &plan, 2, &["quick".to_owned()]));
        assert_ne!(base, plan_id("run", &plan[..1], 2, &["quick".to_owned()]));
        assert_ne!(base, plan_id("run", &plan, 2, &[]));
        // The same units, shared out otherwise (another cost estimate): another plan.
        let reweighed = units(&[("a", 3.0), ("b", 2.0)]);
        assert_ne!(
            plan_id("run", &plan, 2, &["quick".to_owned()]),
            plan_id("run", &reweighed, 2, &["quick".to_owned()])
        );
    }
}
