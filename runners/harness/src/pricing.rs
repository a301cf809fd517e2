//! How the price-list probes are run: on which engine configurations, and with how many rounds.

use crate::measure::MeasureSettings;

/// Whether the probes run on engine configuration `engine` in a run of `engines`: not on a
/// variant (`wasmtime-cranelift+fuel`) or lazy translation (`wasmi-lazy`) when the plain
/// configuration also runs — the hostcall path is the same, and the list stays affordable.
pub fn priced_on<'a>(engine: &str, mut engines: impl Iterator<Item = &'a str>) -> bool {
    let plain = match engine.split_once('+') {
        Some((plain, _)) => plain,
        None if engine == "wasmi-lazy" => "wasmi-eager",
        None => return true,
    };
    !engines.any(|e| e == plain)
}

/// The probes' measurement: a third of the run's rounds (at least 6), the same slices. Each
/// probe is paired with the baseline probe in adjacent slices, and its K operations stand far
/// above the round-to-round noise of one lifecycle.
pub fn settings(run: &MeasureSettings) -> MeasureSettings {
    let rounds = (run.rounds / 3).max(6);
    MeasureSettings {
        rounds,
        blocks: run.blocks.min(rounds),
        ..*run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_priced_only_without_their_plain_configuration() {
        let run = [
            "wasmtime-cranelift",
            "wasmtime-cranelift+fuel",
            "wasmi-lazy",
        ];
        assert!(priced_on("wasmtime-cranelift", run.into_iter()));
        assert!(!priced_on("wasmtime-cranelift+fuel", run.into_iter()));
        assert!(priced_on("wasmi-lazy", run.into_iter()));
        assert!(!priced_on("wasmi-lazy", ["wasmi-eager"].into_iter()));
        assert!(priced_on("wamr-fast-interp+x", ["native"].into_iter()));
    }

    #[test]
    fn probes_take_a_third_of_the_rounds() {
        let s = settings(&MeasureSettings::STANDARD.share(3));
        assert_eq!(s.rounds, 8);
        assert_eq!(s.slice, MeasureSettings::STANDARD.slice);
        assert_eq!(settings(&MeasureSettings::QUICK).rounds, 6);
    }
}
