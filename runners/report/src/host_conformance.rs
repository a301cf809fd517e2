//! The host conformance section: the conformance kit's matrix recorded with the run (probe
//! modules on every in-process engine, and through the run's Envoy on V8 and the bridge),
//! one row per behaviour with the reference answer and who answers otherwise.

use crate::document::{Section, Table};
use filterbench_results::host_conformance::{Matrix, Verdict};

/// How many cells have `verdict`.
fn count(matrix: &Matrix, verdict: Verdict) -> usize {
    matrix
        .rows
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| c.verdict == verdict)
        .count()
}

/// Where the reference answers come from, in words.
fn reference(matrix: &Matrix) -> String {
    let live = matrix.hosts.iter().find(|h| h.name == matrix.reference);
    match live {
        Some(host) => format!("{} on V8, run live", host.version),
        None => "Envoy 1.40 on V8 as recorded when the probes were written; no Envoy ran here"
            .to_owned(),
    }
}

/// One finding: whether the in-process host behaves as Envoy does on every probe.
pub fn findings(matrix: &Matrix) -> Vec<String> {
    let unexplained = matrix.unexplained();
    let known = count(matrix, Verdict::Known);
    let behaviours = matrix.rows.len();
    let hosts = matrix.hosts.len();
    if unexplained > 0 {
        return vec![format!(
            "Host conformance: {unexplained} answer(s) of {behaviours} behaviours × {hosts} hosts differ from the reference ({}) without an explanation — the cells of those hosts may take other code paths than in Envoy (see Host conformance).",
            reference(matrix)
        )];
    }
    let known = if known > 0 {
        format!(" apart from {known} answer(s) that differ for a documented reason")
    } else {
        String::new()
    };
    vec![format!(
        "Host conformance: all {hosts} hosts answer the {behaviours} probed behaviours as the reference does{known} (reference: {}).",
        reference(matrix)
    )]
}

/// The section: per behaviour, the reference answer, how many hosts agree, and every other
/// answer with its host and, for a documented difference, its reason.
pub fn section(matrix: &Matrix) -> Section {
    let rows = matrix
        .rows
        .iter()
        .map(|row| {
            let ran: Vec<_> = row
                .cells
                .iter()
                .filter(|c| c.verdict != Verdict::NotApplicable)
                .collect();
            let same = ran.iter().filter(|c| c.verdict == Verdict::Same).count();
            // Every other answer once, with the hosts that gave it.
            let mut others: Vec<(Vec<&str>, String)> = Vec::new();
            for c in ran.iter().filter(|c| c.verdict != Verdict::Same) {
                let answer = c.answer.as_deref().unwrap_or("not run");
                let detail = c.detail.as_deref().unwrap_or("");
                let text = match c.verdict {
                    Verdict::Known => format!("{answer} (known: {detail})"),
                    Verdict::NotRun => format!("not run ({detail})"),
                    _ => format!("{answer} (UNEXPLAINED)"),
                };
                match others.iter_mut().find(|(_, t)| *t == text) {
                    Some((hosts, _)) => hosts.push(&c.host),
                    None => others.push((vec![&c.host], text)),
                }
            }
            let others: Vec<String> = others
                .into_iter()
                .map(|(hosts, text)| format!("{}: {text}", hosts.join(", ")))
                .collect();
            vec![
                row.behaviour.clone(),
                row.reference.clone(),
                format!("{same} of {}", ran.len()),
                if others.is_empty() {
                    "-".to_owned()
                } else {
                    others.join("; ")
                },
            ]
        })
        .collect();
    let hosts: Vec<String> = matrix
        .hosts
        .iter()
        .map(|h| format!("{} ({})", h.name, h.version))
        .collect();
    Section {
        title: "Host conformance".to_owned(),
        intro: format!(
            "Does filterbench's host do what Envoy does, so that a filter takes the same code paths here as in production? Small probe modules (WebAssembly text; an SDK-free Rust probe for native code), one behaviour each, ran on every host of this run: {}. Reference: {}. Answers are gauges the probe set (name=value; 0 = OK, 1 = NOT_FOUND, 2 = BAD_ARGUMENT), the statuses the client got (\"trap\": the module trapped serving it) or whether the module started; a probe without a native form is left out of the native hosts' counts. {} unexplained difference(s), {} documented. The probes and the JSON format: docs/conformance.md; filterbench conformance prints the whole matrix.",
            hosts.join(", "),
            reference(matrix),
            matrix.unexplained(),
            count(matrix, Verdict::Known),
        ),
        table: Table {
            header: ["behaviour", "reference", "hosts agreeing", "other answers"]
                .map(str::to_owned)
                .to_vec(),
            rows,
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use filterbench_results::host_conformance::{Cell, FORMAT, Host, HostKind, Row};

    fn matrix(bridge: Verdict, answer: &str) -> Matrix {
        let host = |name: &str, kind| Host {
            name: name.to_owned(),
            kind,
            version: "envoy 1.40.0".to_owned(),
        };
        let cell = |host: &str, verdict, answer: &str, detail: Option<&str>| Cell {
            host: host.to_owned(),
            answer: Some(answer.to_owned()),
            verdict,
            detail: detail.map(str::to_owned),
        };
        Matrix {
            format: FORMAT,
            reference: "envoy".to_owned(),
            hosts: vec![
                host("wasmi-eager", HostKind::InProcess),
                host("envoy", HostKind::Envoy),
                host("envoy-native", HostKind::EnvoyNative),
            ],
            rows: vec![Row {
                probe: "phases".to_owned(),
                behaviour: "trailer added at the end".to_owned(),
                reference: "t=0".to_owned(),
                recorded_envoy_1_40: "t=0".to_owned(),
                cells: vec![
                    cell("wasmi-eager", Verdict::Same, "t=0", None),
                    cell("envoy", Verdict::Same, "t=0", None),
                    cell("envoy-native", bridge, answer, Some("no trailer map yet")),
                ],
            }],
        }
    }

    #[test]
    fn known_differences_are_shown_with_their_reason_and_unexplained_ones_are_a_finding() {
        let known = matrix(Verdict::Known, "t=2");
        let section = section(&known);
        assert_eq!(section.table.rows[0][2], "2 of 3");
        assert_eq!(
            section.table.rows[0][3],
            "envoy-native: t=2 (known: no trailer map yet)"
        );
        assert!(section.intro.contains("envoy 1.40.0 on V8, run live"));
        let finding = &findings(&known)[0];
        assert!(finding.contains("as the reference"), "{finding}");
        assert!(
            finding.contains("1 answer(s) that differ for a documented reason"),
            "{finding}"
        );

        let differs = matrix(Verdict::Differs, "t=5");
        assert!(section_of(&differs).contains("envoy-native: t=5 (UNEXPLAINED)"));
        let finding = &findings(&differs)[0];
        assert!(finding.contains("1 answer(s)") && finding.contains("without an explanation"));
    }

    #[test]
    fn hosts_with_the_same_other_answer_share_one_entry() {
        let mut known = matrix(Verdict::Known, "t=2");
        let bridge = known.rows[0].cells[2].clone();
        known.rows[0].cells[0] = Cell {
            host: "wasmi-eager".to_owned(),
            ..bridge
        };
        let section = section(&known);
        assert_eq!(section.table.rows[0][2], "1 of 3");
        assert_eq!(
            section.table.rows[0][3],
            "wasmi-eager, envoy-native: t=2 (known: no trailer map yet)"
        );
    }

    fn section_of(matrix: &Matrix) -> String {
        section(matrix).table.rows[0][3].clone()
    }
}
