//! Builds the conformance matrix (its types are the results file's,
//! `filterbench_results::host_conformance`): one row per behaviour, one cell per host, each
//! cell the host's answer and whether it is the reference's (Envoy's, run live when available,
//! else the answer recorded from Envoy 1.40); lists its problems and prints it.

use crate::outcome::Outcome;
use crate::probes::Probe;
pub use filterbench_results::host_conformance::{
    Cell, FORMAT, Host, HostKind, Matrix, Row, Verdict,
};

/// What became of one probe on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeRun {
    /// It ran: what the host did.
    Ran(Outcome),
    /// It could not run (why).
    NotRun(String),
    /// The probe has no form this host runs (why).
    NotApplicable(String),
}

/// One host's runs, one per probe in probe order.
pub type HostOutcomes = Vec<ProbeRun>;

/// Builds the matrix from each host's outcomes of `probes`; the reference is the host of kind
/// [`HostKind::Envoy`] when there is one, else the recorded answers.
pub fn build(probes: &[Probe], hosts: Vec<(Host, HostOutcomes)>) -> Matrix {
    let envoy = hosts.iter().position(|(h, _)| h.kind == HostKind::Envoy);
    let mut rows = Vec::new();
    for (p, probe) in probes.iter().enumerate() {
        for row in &probe.rows {
            let reference = envoy
                .and_then(|e| match &hosts[e].1[p] {
                    ProbeRun::Ran(outcome) => Some(row.observation.read(outcome)),
                    _ => None,
                })
                .unwrap_or_else(|| row.envoy_1_40.to_owned());
            let cells = hosts
                .iter()
                .map(|(host, outcomes)| {
                    let (answer, verdict, detail) = match &outcomes[p] {
                        ProbeRun::Ran(outcome) => {
                            let text = row.observation.read(outcome);
                            let known = row
                                .known
                                .iter()
                                .find(|k| k.answer == text && k.applies_to(host));
                            let (verdict, detail) = match known {
                                _ if text == reference => (Verdict::Same, outcome.error.clone()),
                                Some(k) => (Verdict::Known, Some(k.why.to_owned())),
                                None => (Verdict::Differs, outcome.error.clone()),
                            };
                            (Some(text), verdict, detail)
                        }
                        ProbeRun::NotRun(why) => (None, Verdict::NotRun, Some(why.clone())),
                        ProbeRun::NotApplicable(why) => {
                            (None, Verdict::NotApplicable, Some(why.clone()))
                        }
                    };
                    Cell {
                        host: host.name.clone(),
                        answer,
                        verdict,
                        detail,
                    }
                })
                .collect();
            rows.push(Row {
                probe: probe.name.to_owned(),
                behaviour: row.behaviour.to_owned(),
                reference,
                recorded_envoy_1_40: row.envoy_1_40.to_owned(),
                cells,
            });
        }
    }
    Matrix {
        format: FORMAT,
        reference: match envoy {
            Some(e) => hosts[e].0.name.clone(),
            None => "recorded (Envoy 1.40)".to_owned(),
        },
        hosts: hosts.into_iter().map(|(h, _)| h).collect(),
        rows,
    }
}

/// Unexplained differences of `matrix`, one line each: a host answering otherwise than the
/// reference without a documented reason, a host that could not run a probe, and a live Envoy
/// 1.40 answering otherwise than its recording (the probe or the recording is then wrong).
pub fn problems(matrix: &Matrix) -> Vec<String> {
    let mut out = Vec::new();
    for row in &matrix.rows {
        for (cell, host) in row.cells.iter().zip(&matrix.hosts) {
            let answer = cell.answer.as_deref().unwrap_or("–");
            match cell.verdict {
                Verdict::Same | Verdict::NotApplicable | Verdict::Known => {}
                Verdict::Differs => out.push(format!(
                    "{}: {}: answered \"{answer}\", the reference answered \"{}\"{}",
                    host.name,
                    row.behaviour,
                    row.reference,
                    cell.detail
                        .as_deref()
                        .map(|d| format!(" ({})", first_line(d)))
                        .unwrap_or_default()
                )),
                Verdict::NotRun => out.push(format!(
                    "{}: probe {} did not run: {}",
                    host.name,
                    row.probe,
                    first_line(cell.detail.as_deref().unwrap_or(""))
                )),
            }
            if host.kind == HostKind::Envoy
                && host.version.contains("1.40")
                && cell.answer.as_deref() != Some(row.recorded_envoy_1_40.as_str())
            {
                out.push(format!(
                    "{}: {}: answered \"{answer}\", but Envoy 1.40 was recorded answering \"{}\"",
                    host.name, row.behaviour, row.recorded_envoy_1_40
                ));
            }
        }
    }
    out
}

/// `matrix` as text: one line per behaviour with its reference answer and a mark per
/// host (`=` same, `≠` differs, `~` known difference, `–` not run, `·` not applicable, in
/// column order), then a key of the
/// columns and every difference spelled out.
pub fn render(matrix: &Matrix) -> String {
    let mut out = format!("Reference: {}\n", matrix.reference);
    let width = matrix
        .rows
        .iter()
        .map(|r| r.reference.chars().count())
        .max()
        .unwrap_or(0)
        .max("reference".len());
    out.push_str(&format!(
        "{:<width$}  {}  behaviour\n",
        "reference",
        (1..=matrix.hosts.len())
            .map(|i| (i % 10).to_string())
            .collect::<String>()
    ));
    for row in &matrix.rows {
        let marks: String = row
            .cells
            .iter()
            .map(|c| match c.verdict {
                Verdict::Same => '=',
                Verdict::Differs => '≠',
                Verdict::NotRun => '–',
                Verdict::NotApplicable => '·',
                Verdict::Known => '~',
            })
            .collect();
        out.push_str(&format!(
            "{:<width$}  {marks}  {} [{}]\n",
            row.reference, row.behaviour, row.probe
        ));
    }
    out.push_str("Hosts: ");
    out.push_str(
        &matrix
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{} {}", i + 1, h.name))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push('\n');
    // One line per known difference, naming every host that has it.
    let mut known: Vec<(Vec<&str>, String)> = Vec::new();
    for row in &matrix.rows {
        for cell in row.cells.iter().filter(|c| c.verdict == Verdict::Known) {
            let line = format!(
                "{}: \"{}\" — {}",
                row.behaviour,
                cell.answer.as_deref().unwrap_or("–"),
                cell.detail.as_deref().unwrap_or("")
            );
            match known.iter_mut().find(|(_, l)| *l == line) {
                Some((hosts, _)) => hosts.push(&cell.host),
                None => known.push((vec![&cell.host], line)),
            }
        }
    }
    if !known.is_empty() {
        out.push_str(&format!("{} known difference(s):\n", known.len()));
        for (hosts, line) in &known {
            out.push_str(&format!("  {}: {line}\n", hosts.join(", ")));
        }
    }
    let problems = problems(matrix);
    if problems.is_empty() {
        out.push_str(&format!(
            "No unexplained difference: {} behaviours × {} hosts.\n",
            matrix.rows.len(),
            matrix.hosts.len()
        ));
    } else {
        out.push_str(&format!("{} unexplained difference(s):\n", problems.len()));
        for p in problems {
            out.push_str(&format!("  {p}\n"));
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Observation;
    use crate::probes::Row as ProbeRow;
    use std::collections::BTreeMap;

    fn probe() -> Probe {
        Probe {
            name: "p",
            wat: String::new(),
            requests: 1,
            response_body: vec![],
            request_body: "",
            native: None,
            http_upstreams: Vec::new(),
            grpc_upstreams: Vec::new(),
            clock_step_ms: 0,
            rows: vec![ProbeRow {
                behaviour: "gauge g",
                observation: Observation::Gauges(&["g"]),
                envoy_1_40: "g=1",
                known: &[],
            }],
        }
    }

    fn host(name: &str, kind: HostKind, g: i64) -> (Host, HostOutcomes) {
        (
            Host {
                name: name.to_owned(),
                kind,
                version: "envoy 1.40.0".to_owned(),
            },
            vec![ProbeRun::Ran(Outcome {
                started: true,
                gauges: BTreeMap::from([("g".to_owned(), g)]),
                ..Outcome::default()
            })],
        )
    }

    #[test]
    fn the_live_envoy_is_the_reference_and_differences_are_named() {
        let matrix = build(
            &[probe()],
            vec![
                host("a", HostKind::InProcess, 1),
                host("b", HostKind::InProcess, 2),
                host("envoy", HostKind::Envoy, 1),
            ],
        );
        assert_eq!(matrix.reference, "envoy");
        let verdicts: Vec<&Verdict> = matrix.rows[0].cells.iter().map(|c| &c.verdict).collect();
        assert_eq!(
            verdicts,
            [&Verdict::Same, &Verdict::Differs, &Verdict::Same]
        );
        let problems = problems(&matrix);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("b: gauge g: answered \"g=2\""));
        let text = render(&matrix);
        assert!(text.contains("g=1        =≠=  gauge g [p]"), "{text}");
    }

    #[test]
    fn without_envoy_the_recording_is_the_reference_and_a_drifted_envoy_is_a_problem() {
        let native = (
            Host {
                name: "native".to_owned(),
                kind: HostKind::InProcess,
                version: String::new(),
            },
            vec![ProbeRun::NotApplicable("no native form".to_owned())],
        );
        let alone = build(&[probe()], vec![host("a", HostKind::InProcess, 1), native]);
        assert_eq!(alone.rows[0].cells[1].verdict, Verdict::NotApplicable);
        assert_eq!(alone.reference, "recorded (Envoy 1.40)");
        assert!(problems(&alone).is_empty());
        let drifted = build(
            &[probe()],
            vec![
                host("a", HostKind::InProcess, 3),
                host("envoy", HostKind::Envoy, 3),
            ],
        );
        let problems = problems(&drifted);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("Envoy 1.40 was recorded answering \"g=1\""));
        let json = serde_json::to_string(&drifted).unwrap();
        let back: Matrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, drifted);
    }

    #[test]
    fn a_difference_known_for_every_in_process_host_covers_those_hosts_only() {
        let mut probe = probe();
        probe.rows[0].known = &[crate::probes::Known {
            host: crate::probes::IN_PROCESS,
            answer: "g=2",
            why: "one VM",
        }];
        let matrix = build(
            &[probe],
            vec![
                host("a", HostKind::InProcess, 2),
                host("b", HostKind::InProcess, 2),
                host("envoy", HostKind::Envoy, 1),
                host("envoy-native", HostKind::EnvoyNative, 2),
            ],
        );
        let verdicts: Vec<&Verdict> = matrix.rows[0].cells.iter().map(|c| &c.verdict).collect();
        assert_eq!(
            verdicts,
            [
                &Verdict::Known,
                &Verdict::Known,
                &Verdict::Same,
                &Verdict::Differs
            ]
        );
        let text = render(&matrix);
        assert!(
            text.contains("1 known difference(s):\n  a, b: gauge g: \"g=2\" — one VM\n"),
            "{text}"
        );
    }
}
