//! Which rounds of a cell a comparison uses, and rounds of two cells lined up: the fast-state
//! mask, and alignment by block and round id. Shared by the analysis and the price list.

use crate::results::{Cell, Steady};
use std::collections::BTreeMap;

/// A round is in the fast state proper when its canary took at most this times the fast state.
/// Comparisons are estimated from those rounds: on a noisy machine the state moves ratios, not
/// only times (in one run native noop took 104 ns in one process and 258 ns in the next while
/// the canary moved 13%, and an interpreter's ratio to it went from 28x to 18x), which pairing
/// cannot cancel; the fast state is the one a run can reproduce.
pub const FAST_STATE_FACTOR: f64 = 1.05;

/// Fewest fast-state rounds a comparison is estimated from alone; with fewer, all rounds are
/// used and the cell is marked `mixed_state`.
pub const MIN_FAST_ROUNDS: usize = 8;

/// Which rounds of `canary` (ns per round) ran in the fast state (`fast`: the run's fast
/// canary). `None` when all rounds are to be used: no canary readings, or fewer than
/// [`MIN_FAST_ROUNDS`] fast ones (then the second value is true).
pub(crate) fn fast_state_rounds(
    canary: &[f64],
    rounds: usize,
    fast: Option<f64>,
) -> (Option<Vec<bool>>, bool) {
    let Some(fast) = fast.filter(|_| canary.len() == rounds && rounds > 0) else {
        return (None, false);
    };
    let keep: Vec<bool> = canary
        .iter()
        .map(|c| *c > 0.0 && *c <= FAST_STATE_FACTOR * fast)
        .collect();
    let kept = keep.iter().filter(|k| **k).count();
    if kept < MIN_FAST_ROUNDS.min(rounds) {
        (None, true)
    } else {
        (Some(keep), false)
    }
}

/// The values of `values` whose entry in `keep` is true (all of them without a mask).
pub(crate) fn kept<T: Copy>(values: &[T], keep: Option<&[bool]>) -> Vec<T> {
    match keep {
        Some(keep) => values
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(v, _)| *v)
            .collect(),
        None => values.to_vec(),
    }
}

/// A cell's steady-state measurement, if it has rounds.
pub(crate) fn timed(cell: &Cell) -> Option<&Steady> {
    cell.steady.as_ref().filter(|s| !s.rounds.is_empty())
}

/// The values of `other` at the rounds of `own` (aligned by block and round id); NaN where
/// `other` has no such round.
pub(crate) fn aligned(own: &Steady, other: &Steady, values: &[f64]) -> Vec<f64> {
    let index: BTreeMap<(u32, u32), usize> = other
        .rounds
        .keys()
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    own.rounds
        .keys()
        .iter()
        .map(|k| index.get(k).map_or(f64::NAN, |&i| values[i]))
        .collect()
}
