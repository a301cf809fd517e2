//! The conformance matrix: one row per behaviour, one cell per host, each cell the host's
//! answer and whether it is the reference's (Envoy's, run live when available, else the
//! answer recorded from Envoy 1.40), plus its JSON form (`docs/conformance.md`).

use crate::outcome::Outcome;
use crate::probes::Probe;
use serde::{Deserialize, Serialize};

/// Version of the JSON format.
pub const FORMAT: u32 = 1;

/// Where a host runs the probes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    /// filterbench's own host, on one engine.
    InProcess,
    /// A real Envoy (the reference).
    Envoy,
}

/// One host of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Column name: an engine configuration (`wasmtime-cranelift`) or `envoy`.
    pub name: String,
    /// Where it runs.
    pub kind: HostKind,
    /// Its version (`envoy 1.40.0`, `wasmtime 48.0.0`).
    pub version: String,
}

/// How a cell compares with the reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The same answer as the reference.
    Same,
    /// Another answer: an unexplained difference.
    Differs,
    /// The host could not run the probe (the reason is the cell's `detail`).
    NotRun,
}

/// One host's answer to one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The host's name.
    pub host: String,
    /// Its answer, as [`crate::outcome::Observation::read`] words it (`None`: not run).
    pub answer: Option<String>,
    /// Compared with the reference.
    pub verdict: Verdict,
    /// A trap or start error the host reported while running the probe, or why it did not run.
    pub detail: Option<String>,
}

/// One behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The probe that shows it.
    pub probe: String,
    /// The behaviour, as a question.
    pub behaviour: String,
    /// The reference answer: the live Envoy's, else the recording's.
    pub reference: String,
    /// What Envoy 1.40 on V8 answered when the probe was written.
    pub recorded_envoy_1_40: String,
    /// One cell per host, in the order of [`Matrix::hosts`].
    pub cells: Vec<Cell>,
}

/// The whole matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// [`FORMAT`].
    pub format: u32,
    /// Where the reference answers come from: `envoy` (run live) or `recorded (Envoy 1.40)`.
    pub reference: String,
    /// The hosts, in column order.
    pub hosts: Vec<Host>,
    /// The behaviours, in probe order.
    pub rows: Vec<Row>,
}

/// One host's outcomes, one per probe in probe order (`Err`: the host could not run it).
pub type HostOutcomes = Vec<Result<Outcome, String>>;

impl Matrix {
    /// Builds the matrix from each host's outcomes of `probes`; the reference is the host of
    /// kind [`HostKind::Envoy`] when there is one, else the recorded answers.
    pub fn build(probes: &[Probe], hosts: Vec<(Host, HostOutcomes)>) -> Self {
        let envoy = hosts.iter().position(|(h, _)| h.kind == HostKind::Envoy);
        let mut rows = Vec::new();
        for (p, probe) in probes.iter().enumerate() {
            for row in &probe.rows {
                let answer = |outcomes: &HostOutcomes| match &outcomes[p] {
                    Ok(outcome) => Ok(row.observation.read(outcome)),
                    Err(why) => Err(why.clone()),
                };
                let reference = envoy
                    .and_then(|e| answer(&hosts[e].1).ok())
                    .unwrap_or_else(|| row.envoy_1_40.to_owned());
                let cells = hosts
                    .iter()
                    .map(|(host, outcomes)| match answer(outcomes) {
                        Ok(text) => Cell {
                            host: host.name.clone(),
                            verdict: if text == reference {
                                Verdict::Same
                            } else {
                                Verdict::Differs
                            },
                            answer: Some(text),
                            detail: outcomes[p].as_ref().ok().and_then(|o| o.error.clone()),
                        },
                        Err(why) => Cell {
                            host: host.name.clone(),
                            answer: None,
                            verdict: Verdict::NotRun,
                            detail: Some(why),
                        },
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
        Self {
            format: FORMAT,
            reference: match envoy {
                Some(e) => hosts[e].0.name.clone(),
                None => "recorded (Envoy 1.40)".to_owned(),
            },
            hosts: hosts.into_iter().map(|(h, _)| h).collect(),
            rows,
        }
    }

    /// Unexplained differences, one line each: an in-process host answering otherwise than
    /// the reference, a host that could not run a probe, and a live Envoy 1.40 answering
    /// otherwise than its recording (the probe or the recording is then wrong).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for row in &self.rows {
            for (cell, host) in row.cells.iter().zip(&self.hosts) {
                let answer = cell.answer.as_deref().unwrap_or("–");
                match cell.verdict {
                    Verdict::Same => {}
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

    /// The matrix as text: one line per behaviour with its reference answer and a mark per
    /// host (`=` same, `≠` differs, `–` not run, in column order), then a key of the
    /// columns and every difference spelled out.
    pub fn render(&self) -> String {
        let mut out = format!("Reference: {}\n", self.reference);
        let width = self
            .rows
            .iter()
            .map(|r| r.reference.chars().count())
            .max()
            .unwrap_or(0)
            .max("reference".len());
        out.push_str(&format!(
            "{:<width$}  {}  behaviour\n",
            "reference",
            (1..=self.hosts.len())
                .map(|i| (i % 10).to_string())
                .collect::<String>()
        ));
        for row in &self.rows {
            let marks: String = row
                .cells
                .iter()
                .map(|c| match c.verdict {
                    Verdict::Same => '=',
                    Verdict::Differs => '≠',
                    Verdict::NotRun => '–',
                })
                .collect();
            out.push_str(&format!(
                "{:<width$}  {marks}  {} [{}]\n",
                row.reference, row.behaviour, row.probe
            ));
        }
        out.push_str("Hosts: ");
        out.push_str(
            &self
                .hosts
                .iter()
                .enumerate()
                .map(|(i, h)| format!("{} {}", i + 1, h.name))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push('\n');
        let problems = self.problems();
        if problems.is_empty() {
            out.push_str(&format!(
                "No unexplained difference: {} behaviours × {} hosts.\n",
                self.rows.len(),
                self.hosts.len()
            ));
        } else {
            out.push_str(&format!("{} unexplained difference(s):\n", problems.len()));
            for p in problems {
                out.push_str(&format!("  {p}\n"));
            }
        }
        out
    }
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
            rows: vec![ProbeRow {
                behaviour: "gauge g",
                observation: Observation::Gauges(&["g"]),
                envoy_1_40: "g=1",
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
            vec![Ok(Outcome {
                started: true,
                gauges: BTreeMap::from([("g".to_owned(), g)]),
                ..Outcome::default()
            })],
        )
    }

    #[test]
    fn the_live_envoy_is_the_reference_and_differences_are_named() {
        let matrix = Matrix::build(
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
        let problems = matrix.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("b: gauge g: answered \"g=2\""));
        let text = matrix.render();
        assert!(text.contains("g=1        =≠=  gauge g [p]"), "{text}");
    }

    #[test]
    fn without_envoy_the_recording_is_the_reference_and_a_drifted_envoy_is_a_problem() {
        let alone = Matrix::build(&[probe()], vec![host("a", HostKind::InProcess, 1)]);
        assert_eq!(alone.reference, "recorded (Envoy 1.40)");
        assert!(alone.problems().is_empty());
        let drifted = Matrix::build(
            &[probe()],
            vec![
                host("a", HostKind::InProcess, 3),
                host("envoy", HostKind::Envoy, 3),
            ],
        );
        let problems = drifted.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("Envoy 1.40 was recorded answering \"g=1\""));
        let json = serde_json::to_string(&drifted).unwrap();
        let back: Matrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, drifted);
    }
}
