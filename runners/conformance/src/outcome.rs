//! What a host did with one probe, and the text each matrix row reads from it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The status recorded for a request that got no response (the stream was reset).
pub const NO_RESPONSE: u16 = 0;

/// What a host did with one probe: whether the module started, what each request got, whether
/// the module trapped while serving it, and the gauges it left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the module started (loaded, `_initialize`, `proxy_on_vm_start`,
    /// `proxy_on_configure`); when not, nothing else was observed.
    pub started: bool,
    /// Why it did not start, or the first trap while serving (as the host words it).
    pub error: Option<String>,
    /// The status the client got for each request, in order.
    pub statuses: Vec<u16>,
    /// For each request, whether the module trapped while serving it.
    pub trapped: Vec<bool>,
    /// For each request, whether it reached the upstream.
    pub forwarded: Vec<bool>,
    /// Gauges the module set (Envoy: its `wasmcustom.*` stats), by name.
    pub gauges: BTreeMap<String, i64>,
}

/// The part of an [`Outcome`] a matrix row compares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// These gauges' values: `name=value` each, `name=–` when the module never set it.
    Gauges(&'static [&'static str]),
    /// Each request's status, with `trap` after it when the module trapped serving it, or
    /// `no response`.
    Responses,
    /// `started` or `not started`.
    Started,
    /// For each request, `forwarded` (it reached the upstream) or `not forwarded`.
    Forwarded,
    /// Whether the host's first trap or start report names this text: `names TEXT`,
    /// `does not name TEXT`, or `no report`.
    Names(&'static str),
}

impl Observation {
    /// The row's text for `outcome` (hosts agree when their texts are equal).
    pub fn read(self, outcome: &Outcome) -> String {
        if !outcome.started && self != Self::Started {
            return "not started".to_owned();
        }
        match self {
            Self::Gauges(names) => names
                .iter()
                .map(|name| match outcome.gauges.get(*name) {
                    Some(value) => format!("{name}={value}"),
                    None => format!("{name}=–"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Self::Responses => outcome
                .statuses
                .iter()
                .enumerate()
                .map(|(i, status)| {
                    if *status == NO_RESPONSE {
                        "no response".to_owned()
                    } else if outcome.trapped.get(i).copied().unwrap_or(false) {
                        format!("{status} trap")
                    } else {
                        status.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            Self::Forwarded => outcome
                .forwarded
                .iter()
                .map(|&f| if f { "forwarded" } else { "not forwarded" })
                .collect::<Vec<_>>()
                .join(", "),
            Self::Names(text) => match &outcome.error {
                Some(report) if report.contains(text) => format!("names {text}"),
                Some(_) => format!("does not name {text}"),
                None => "no report".to_owned(),
            },
            Self::Started => if outcome.started {
                "started"
            } else {
                "not started"
            }
            .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_gauges_responses_and_the_start() {
        let outcome = Outcome {
            started: true,
            error: None,
            statuses: vec![503, 503],
            trapped: vec![true, false],
            forwarded: vec![false, true],
            gauges: BTreeMap::from([("L".to_owned(), 1), ("D".to_owned(), 2)]),
        };
        assert_eq!(
            Observation::Gauges(&["L", "D", "x"]).read(&outcome),
            "L=1 D=2 x=–"
        );
        assert_eq!(Observation::Responses.read(&outcome), "503 trap, 503");
        let reset = Outcome {
            statuses: vec![NO_RESPONSE],
            trapped: vec![false],
            ..outcome.clone()
        };
        assert_eq!(Observation::Responses.read(&reset), "no response");
        assert_eq!(Observation::Started.read(&outcome), "started");
        let trapped = Outcome {
            error: Some("Function: proxy_on_log failed: unreachable".to_owned()),
            ..outcome.clone()
        };
        assert_eq!(
            Observation::Names("proxy_on_log").read(&trapped),
            "names proxy_on_log"
        );
        assert_eq!(Observation::Names("x").read(&outcome), "no report");
        assert_eq!(
            Observation::Forwarded.read(&outcome),
            "not forwarded, forwarded"
        );
        let failed = Outcome::default();
        assert_eq!(Observation::Gauges(&["L"]).read(&failed), "not started");
        assert_eq!(Observation::Started.read(&failed), "not started");
    }
}
